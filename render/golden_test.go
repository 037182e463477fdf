package render

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

const (
	haproxyFile    = "haproxy.cfg"
	keepalivedFile = "keepalived.conf"
)

// TestGoldenExamples compares every example host's configs with
// testdata/golden/<host>/ (go test ./render -run Golden -update rewrites them).
func TestGoldenExamples(t *testing.T) {
	hosts, err := RenderAll(loadExample(t), Options{FleetDir: goldenFleetDir})
	if err != nil {
		t.Fatalf("RenderAll: %v", err)
	}
	if len(hosts) != 4 {
		t.Fatalf("the example fleet rendered %d hosts, want 4", len(hosts))
	}
	root := filepath.Join("testdata", "golden")
	rendered := map[string]bool{}
	for _, h := range hosts {
		rendered[h.Name] = true
		for _, f := range []struct {
			name string
			data []byte
		}{{haproxyFile, h.HAProxy}, {keepalivedFile, h.Keepalived}} {
			p := filepath.Join(root, h.Name, f.name)
			if *update {
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, f.data, 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			want, err := os.ReadFile(p)
			if err != nil {
				t.Errorf("%s: %v (run go test ./render -run Golden -update)", p, err)
				continue
			}
			if !bytes.Equal(f.data, want) {
				t.Errorf("%s differs from the rendered config at %s", p, lineDiff(f.data, want))
			}
		}
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !rendered[e.Name()] {
			if *update {
				if err := os.RemoveAll(filepath.Join(root, e.Name())); err != nil {
					t.Fatal(err)
				}
				continue
			}
			t.Errorf("stale golden directory %s: no such host in the example fleet", filepath.Join(root, e.Name()))
		}
	}
}

// TestGoldenCases renders each testdata/cases/*.txtar fleet and compares
// every host's configs with the archive's want/<host>/ files.
func TestGoldenCases(t *testing.T) {
	for _, file := range caseFiles(t) {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			a, f := loadCase(t, file)
			hosts, err := RenderAll(f, Options{FleetDir: goldenFleetDir})
			if err != nil {
				t.Fatalf("RenderAll: %v", err)
			}
			got := map[string][]byte{}
			for _, h := range hosts {
				got[wantPrefix+h.Name+"/"+haproxyFile] = h.HAProxy
				got[wantPrefix+h.Name+"/"+keepalivedFile] = h.Keepalived
			}
			if *update {
				kept := a.files[:0]
				for _, af := range a.files {
					if !strings.HasPrefix(af.name, wantPrefix) {
						kept = append(kept, af)
					}
				}
				a.files = kept
				names := make([]string, 0, len(got))
				for n := range got {
					names = append(names, n)
				}
				sort.Strings(names)
				for _, n := range names {
					a.files = append(a.files, archiveFile{name: n, data: got[n]})
				}
				if err := os.WriteFile(file, a.format(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			seen := map[string]bool{}
			for _, af := range a.files {
				if !strings.HasPrefix(af.name, wantPrefix) {
					continue
				}
				seen[af.name] = true
				g, ok := got[af.name]
				if !ok {
					t.Errorf("%s: want section for a host that was not rendered", af.name)
					continue
				}
				if !bytes.Equal(g, af.data) {
					t.Errorf("%s differs from the rendered config at %s", af.name, lineDiff(g, af.data))
				}
			}
			for n := range got {
				if !seen[n] {
					t.Errorf("%s: rendered, but the archive has no want section (run with -update)", n)
				}
			}
		})
	}
}

// TestRealPathsOnlyChangeCrtBase checks that the configs checked by haproxy
// -c (rendered with this machine's certificate directory) are the golden
// ones but for the crt-base line.
func TestRealPathsOnlyChangeCrtBase(t *testing.T) {
	for _, rc := range allRendered(t) {
		g, r := crtBaseLine(rc.host.HAProxy), crtBaseLine(rc.checkable.HAProxy)
		if g == "" || r == "" {
			t.Errorf("%s: no crt-base line", rc.name)
			continue
		}
		if want := bytes.Replace(rc.host.HAProxy, []byte(g), []byte(r), 1); !bytes.Equal(rc.checkable.HAProxy, want) {
			t.Errorf("%s: real-path config differs beyond crt-base at %s", rc.name, lineDiff(rc.checkable.HAProxy, want))
		}
		if !bytes.Equal(rc.host.Keepalived, rc.checkable.Keepalived) {
			t.Errorf("%s: keepalived.conf depends on the certificate path", rc.name)
		}
	}
}

func crtBaseLine(cfg []byte) string {
	for _, l := range strings.Split(string(cfg), "\n") {
		if strings.HasPrefix(l, indent+"crt-base ") {
			return l
		}
	}
	return ""
}
