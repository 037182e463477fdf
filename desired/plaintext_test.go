package desired

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

func TestPlaintextKeysRefused(t *testing.T) {
	base, err := os.ReadFile("../examples/fleet/fleet.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pem := "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"
	tests := []struct {
		name  string
		files map[string]string
		want  []string // "file:line:" prefixes, in order
	}{
		{"no key", map[string]string{"secrets/x.pem.age": "-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\n-----END AGE ENCRYPTED FILE-----\n"}, nil},
		{"pem with a key in certs/", map[string]string{"certs/site.pem": pem}, []string{"certs/site.pem:4:1: "}},
		{"rsa key anywhere", map[string]string{"docs/notes.txt": "x\n\n-----BEGIN RSA PRIVATE KEY-----\nAA\n-----END RSA PRIVATE KEY-----\n"}, []string{"docs/notes.txt:3:1: "}},
		{"ec and openssh keys, two in one file", map[string]string{"k": "-----BEGIN EC PRIVATE KEY-----\n-----END EC PRIVATE KEY-----\n-----BEGIN OPENSSH PRIVATE KEY-----\n"}, []string{"k:1:1: ", "k:3:1: "}},
		{"key pasted into a yaml value", map[string]string{"nodes/n.yaml.txt": "cert: |\n  -----BEGIN PRIVATE KEY-----\n"}, []string{"nodes/n.yaml.txt:2:1: "}},
		{"age identity", map[string]string{"secrets/host.key": "# created\nAGE-SECRET-KEY-1QQQ\n"}, []string{"secrets/host.key:2:1: "}},
		{"inside .git is not the tree", map[string]string{".git/objects/x": pem}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{"fleet.yaml": {Data: base}}
			for p, d := range tt.files {
				fsys[p] = &fstest.MapFile{Data: []byte(d)}
			}
			_, err := Load(fsys)
			var got []string
			if err != nil {
				for _, e := range err.(Errors) {
					if strings.Contains(e.Msg, "plaintext private key") {
						got = append(got, e.Error())
					}
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d plaintext-key errors, want %d:\n%s", len(got), len(tt.want), strings.Join(got, "\n"))
			}
			for i, w := range tt.want {
				if !strings.HasPrefix(got[i], w) || !strings.Contains(got[i], "ddc-gitops secrets encrypt") {
					t.Errorf("error %d = %q, want prefix %q and the fix", i, got[i], w)
				}
			}
		})
	}
}

// countingFS is a MapFS whose blob hash is the file's contents, counting reads.
type countingFS struct {
	fstest.MapFS
	opens map[string]int
}

func (h countingFS) Open(name string) (fs.File, error) {
	h.opens[name]++
	return h.MapFS.Open(name)
}

func (h countingFS) BlobHash(name string) (string, bool) {
	f, ok := h.MapFS[name]
	if !ok {
		return "", false
	}
	return string(f.Data), true
}

// TestPlaintextScanCached: through a Cache, a file found clean is not read
// again by the scan, and a changed file is.
func TestPlaintextScanCached(t *testing.T) {
	// The whole example fleet (fleet.yaml alone refers to zones it lacks).
	files := fstest.MapFS{"notes.txt": {Data: []byte("clean\n")}}
	err := fs.WalkDir(os.DirFS("../examples/fleet"), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(filepath.Join("../examples/fleet", name))
		files[name] = &fstest.MapFile{Data: data}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	fsys := countingFS{MapFS: files, opens: map[string]int{}}
	var c Cache
	if _, err := c.Load(fsys); err != nil {
		t.Fatal(err)
	}
	first := fsys.opens["notes.txt"]
	if _, err := c.Load(fsys); err != nil {
		t.Fatal(err)
	}
	if fsys.opens["notes.txt"] != first {
		t.Errorf("an unchanged clean file was read again by the scan")
	}
	fsys.MapFS["notes.txt"] = &fstest.MapFile{Data: []byte("-----BEGIN PRIVATE KEY-----\n")}
	_, err = c.Load(fsys)
	if err == nil || !strings.Contains(err.Error(), "notes.txt:1:1: plaintext private key") {
		t.Errorf("a changed file with a key: %v", err)
	}
}
