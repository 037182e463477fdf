package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "haproxy.cfg")

	changed, err := Write(p, []byte("a\n"), 0o640)
	if err != nil || !changed {
		t.Fatalf("first write: changed=%v err=%v", changed, err)
	}
	st, _ := os.Stat(p)
	if st.Mode().Perm() != 0o640 {
		t.Fatalf("mode = %v, want 0640", st.Mode().Perm())
	}
	before := st.ModTime()

	changed, err = Write(p, []byte("a\n"), 0o600)
	if err != nil || changed {
		t.Fatalf("same bytes: changed=%v err=%v, want no write", changed, err)
	}
	if st2, _ := os.Stat(p); !st2.ModTime().Equal(before) {
		t.Fatal("file was rewritten although the bytes were equal")
	}

	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	changed, err = Write(p, []byte("b\n"), 0o600)
	if err != nil || !changed {
		t.Fatalf("new bytes: changed=%v err=%v", changed, err)
	}
	got, _ := os.ReadFile(p)
	if string(got) != "b\n" {
		t.Fatalf("content = %q", got)
	}
	if st3, _ := os.Stat(p); st3.Mode().Perm() != 0o644 {
		t.Fatalf("mode not kept: %v", st3.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temp files left behind: %v", entries)
	}
}

func TestWriteMissingDir(t *testing.T) {
	_, err := Write(filepath.Join(t.TempDir(), "nope", "x"), []byte("x"), 0o600)
	if err == nil {
		t.Fatal("want an error for a missing directory")
	}
}

// TestSameContents compares across the read chunks' boundaries.
func TestSameContents(t *testing.T) {
	dir := t.TempDir()
	big := make([]byte, 100<<10+7)
	for i := range big {
		big[i] = byte(i * 7)
	}
	flip := func(b []byte, i int) []byte {
		c := append([]byte(nil), b...)
		c[i] ^= 1
		return c
	}
	for _, tc := range []struct {
		name       string
		file, data []byte
		want       bool
	}{
		{"equal", big, big, true},
		{"empty", []byte{}, []byte{}, true},
		{"differs in the first chunk", big, flip(big, 10), false},
		{"differs in the last byte", big, flip(big, len(big)-1), false},
		{"differs at a chunk boundary", big, flip(big, 32<<10), false},
		{"shorter", big, big[:len(big)-1], false},
		{"longer", big[:len(big)-1], big, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, "f")
			if err := os.WriteFile(p, tc.file, 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := sameContents(p, tc.data)
			if err != nil || got != tc.want {
				t.Fatalf("sameContents = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
	if _, err := sameContents(filepath.Join(dir, "missing"), nil); !os.IsNotExist(err) {
		t.Fatalf("missing file: err = %v, want not-exist", err)
	}
}
