package schemas

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/ddc-gitops/ddc-gitops/desired"
)

const corpusGlob = "../desired/testdata/invalid/*.txtar"

// TestInvalidCorpus runs the schemas over desired's invalid corpus: each
// case is the example fleet with the case's sections overlaid (PATH replaces
// or adds a file, PATH.delete deletes it) and a want section listing Go's
// errors. Many rules are cross-file (dangling references, duplicate names,
// VIPs outside the zone's network) and only Go can check them, so the
// schemas need not reject every case: at least half of them.
func TestInvalidCorpus(t *testing.T) {
	cases, err := filepath.Glob(corpusGlob)
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Skipf("no corpus at %s yet", corpusGlob)
	}
	v := newValidator(t)
	base := os.DirFS(exampleFleet)
	rejected, sameLine := 0, 0
	var missed []string
	for _, file := range cases {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		sections, want := parseTxtar(data)
		fsys := overlay(t, base, sections)
		es := validateTree(t, v, fsys)
		name := strings.TrimSuffix(filepath.Base(file), ".txtar")
		if len(es) == 0 {
			missed = append(missed, name)
			continue
		}
		rejected++
		if sharesLine(es, want) {
			sameLine++
		}
	}
	t.Logf("schemas reject %d of %d corpus cases (%d with an error on a line Go reports too); only Go catches: %s",
		rejected, len(cases), sameLine, strings.Join(missed, ", "))
	if 2*rejected < len(cases) {
		t.Errorf("schemas reject only %d of %d corpus cases, want at least half", rejected, len(cases))
	}
}

// validateTree validates every desired-state file of fsys, whether or not Go
// can decode it, with positions from a decode of the tree.
func validateTree(t *testing.T, v *Validator, fsys fs.FS) []desired.Error {
	t.Helper()
	f, _ := desired.Decode(fsys)
	var src desired.Source
	if f != nil {
		src = f.Source
	}
	var out []desired.Error
	for file, kind := range fleetFiles(t, fsys) {
		data, err := fs.ReadFile(fsys, file)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, v.Validate(kind, file, data, src)...)
	}
	return out
}

var wantPosRe = regexp.MustCompile(`^([^:]+):(\d+):\d+: `)

// sharesLine reports whether a schema error is on a file:line of a want line.
func sharesLine(es []desired.Error, want string) bool {
	lines := map[string]bool{}
	for _, l := range strings.Split(want, "\n") {
		if m := wantPosRe.FindStringSubmatch(l); m != nil {
			lines[m[1]+":"+m[2]] = true
		}
	}
	for _, e := range es {
		if lines[fmt.Sprintf("%s:%d", e.File, e.Line)] {
			return true
		}
	}
	return false
}

// parseTxtar reads a txtar archive (golang.org/x/tools/txtar format): a
// comment, then sections each introduced by a line "-- NAME --". It returns
// the file sections and the want section.
func parseTxtar(data []byte) (files map[string]string, want string) {
	files = map[string]string{}
	cur := "" // the comment before the first section is not needed
	for _, line := range bytes.SplitAfter(data, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		s := strings.TrimRight(string(line), "\r\n")
		if strings.HasPrefix(s, "-- ") && strings.HasSuffix(s, " --") && len(s) > 6 {
			cur = strings.TrimSpace(s[3 : len(s)-3])
			files[cur] = ""
			continue
		}
		if cur == "" {
			continue
		}
		files[cur] += strings.TrimRight(string(line), "\n") + "\n"
	}
	want = files["want"]
	delete(files, "want")
	return files, want
}

// overlay copies base into memory and applies the sections: PATH replaces or
// adds a file, PATH.delete deletes one. A nil sections map copies base.
func overlay(t *testing.T, base fs.FS, sections map[string]string) fstest.MapFS {
	t.Helper()
	m := fstest.MapFS{}
	err := fs.WalkDir(base, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(base, p)
		if err != nil {
			return err
		}
		m[p] = &fstest.MapFile{Data: data, Mode: 0o644}
		return nil
	})
	if err != nil {
		t.Fatalf("copying the base fleet: %v", err)
	}
	for name, data := range sections {
		if p, ok := strings.CutSuffix(name, ".delete"); ok {
			if _, ok := m[p]; !ok {
				t.Fatalf("section %q deletes %s, which the base fleet does not have", name, p)
			}
			delete(m, p)
			continue
		}
		m[name] = &fstest.MapFile{Data: []byte(data), Mode: 0o644}
	}
	return m
}
