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
