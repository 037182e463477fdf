package render

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"filippo.io/age"

	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/examples"
	"github.com/ddc-gitops/ddc-gitops/secrets"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// goldenFleetDir is the fleet directory golden files are rendered with, so
// they hold no machine-specific path.
const goldenFleetDir = "/srv/fleet"

// exampleDir is the absolute path of the example fleet.
func exampleDir(t testing.TB) string {
	t.Helper()
	d, err := filepath.Abs(filepath.Join("..", "examples", "fleet"))
	if err != nil {
		t.Fatalf("resolving the example fleet: %v", err)
	}
	return d
}

// exampleCertDir is a crt-base holding the example's self-signed
// certificate, decrypted from secrets/ddc-example.pem.age with a lab host's
// identity as the agent does (the repository holds no plaintext key).
func exampleCertDir(t testing.TB) string {
	t.Helper()
	id, ok := examples.LabIdentity("eu-haproxy-1")
	if !ok {
		t.Fatal("no lab identity for eu-haproxy-1")
	}
	ids, err := age.ParseIdentities(bytes.NewReader(id))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	in := &secrets.Installer{Identities: ids, CrtBase: dir}
	if _, err := in.Install(os.DirFS(exampleDir(t))); err != nil {
		t.Fatalf("decrypting the example's certificate: %v", err)
	}
	return dir
}

func loadExample(t testing.TB) *desired.Fleet {
	t.Helper()
	f, err := desired.Load(os.DirFS(exampleDir(t)))
	if err != nil {
		t.Fatalf("loading the example fleet: %v", err)
	}
	return f
}

// archive is a txtar archive: a comment, then files introduced by
// "-- name --" lines.
type archive struct {
	comment []byte
	files   []archiveFile
}

type archiveFile struct {
	name string
	data []byte
}

func parseArchive(data []byte) *archive {
	a := &archive{}
	var cur *archiveFile
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i+1], data[i+1:]
		} else {
			data = nil
		}
		t := strings.TrimRight(string(line), "\r\n")
		if strings.HasPrefix(t, "-- ") && strings.HasSuffix(t, " --") && len(t) > 6 {
			a.files = append(a.files, archiveFile{name: strings.TrimSpace(t[3 : len(t)-3])})
			cur = &a.files[len(a.files)-1]
			continue
		}
		if cur == nil {
			a.comment = append(a.comment, line...)
		} else {
			cur.data = append(cur.data, line...)
		}
	}
	return a
}

func (a *archive) format() []byte {
	var b bytes.Buffer
	b.Write(a.comment)
	for _, f := range a.files {
		b.WriteString("-- " + f.name + " --\n")
		b.Write(f.data)
		if len(f.data) > 0 && f.data[len(f.data)-1] != '\n' {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// wantPrefix introduces the expected outputs in a case archive:
// want/<host>/haproxy.cfg and want/<host>/keepalived.conf.
const wantPrefix = "want/"

// fleetFS is the archive's fleet files (everything but want/).
func (a *archive) fleetFS() fstest.MapFS {
	m := fstest.MapFS{}
	for _, f := range a.files {
		if !strings.HasPrefix(f.name, wantPrefix) {
			m[f.name] = &fstest.MapFile{Data: f.data, Mode: 0o644}
		}
	}
	return m
}

// renderedCase is one host's outputs from a golden source.
type renderedCase struct {
	name      string // "example/<host>" or "<case>/<host>"
	host      *Host  // rendered for golden comparison
	checkable *Host  // rendered with real certificate paths, for haproxy -c
	fleet     *desired.Fleet
}

// caseFiles lists the case archives.
func caseFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "cases", "*.txtar"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no case archives in testdata/cases (%v)", err)
	}
	sort.Strings(files)
	return files
}

// loadCase loads a case archive's fleet, failing the test if it is invalid.
func loadCase(t testing.TB, file string) (*archive, *desired.Fleet) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	a := parseArchive(data)
	f, err := desired.Load(a.fleetFS())
	if err != nil {
		t.Fatalf("%s: the case's fleet is invalid:\n%v", file, err)
	}
	return a, f
}

// allRendered renders every example host and every case host twice: with
// the golden options and with real certificate paths.
func allRendered(t testing.TB) []renderedCase {
	t.Helper()
	var out []renderedCase
	ex := loadExample(t)
	golden, err := RenderAll(ex, Options{FleetDir: goldenFleetDir})
	if err != nil {
		t.Fatalf("rendering the example fleet: %v", err)
	}
	certDir := exampleCertDir(t)
	real, err := RenderAll(ex, Options{FleetDir: exampleDir(t), CrtBase: certDir})
	if err != nil {
		t.Fatalf("rendering the example fleet: %v", err)
	}
	for i, h := range golden {
		out = append(out, renderedCase{name: "example/" + h.Name, host: h, checkable: real[i], fleet: ex})
	}
	for _, file := range caseFiles(t) {
		_, f := loadCase(t, file)
		golden, err := RenderAll(f, Options{FleetDir: goldenFleetDir})
		if err != nil {
			t.Fatalf("%s: rendering: %v", file, err)
		}
		real, err := RenderAll(f, Options{FleetDir: goldenFleetDir, CrtBase: certDir})
		if err != nil {
			t.Fatalf("%s: rendering: %v", file, err)
		}
		base := strings.TrimSuffix(filepath.Base(file), ".txtar")
		for i, h := range golden {
			out = append(out, renderedCase{name: base + "/" + h.Name, host: h, checkable: real[i], fleet: f})
		}
	}
	return out
}

// writeTemp writes data into a new file in a test temp dir.
func writeTemp(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// lineDiff reports the first differing line of two texts.
func lineDiff(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return "line " + itoa(i+1) + ":\n  got:  " + gl + "\n  want: " + wl
		}
	}
	return "(equal)"
}
