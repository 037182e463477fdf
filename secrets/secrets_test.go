package secrets

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"filippo.io/age"
)

func newID(t *testing.T) *age.X25519Identity {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestInstall(t *testing.T) {
	a, b, other := newID(t), newID(t), newID(t)
	plain := []byte("-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n")
	forAB, err := Encrypt(plain, []age.Recipient{a.Recipient(), b.Recipient()})
	if err != nil {
		t.Fatal(err)
	}
	forOther, err := Encrypt([]byte("other"), []age.Recipient{other.Recipient()})
	if err != nil {
		t.Fatal(err)
	}
	fsys := fstest.MapFS{
		"secrets/site.pem.age":  {Data: forAB},
		"secrets/other.pem.age": {Data: forOther},
		"secrets/README.md":     {Data: []byte("not a secret")},
	}
	dir := filepath.Join(t.TempDir(), "certs")
	in := &Installer{Identities: []age.Identity{b}, CrtBase: dir}
	written, err := in.Install(fsys)
	if err != nil || len(written) != 1 || written[0] != "site.pem" {
		t.Fatalf("Install = %v, %v; want [site.pem]", written, err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "site.pem"))
	if err != nil || string(got) != string(plain) {
		t.Fatalf("site.pem = %q, %v", got, err)
	}
	if st, _ := os.Stat(filepath.Join(dir, "site.pem")); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	if _, err := os.Stat(filepath.Join(dir, "other.pem")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a file for another host was written: %v", err)
	}
	// A second install changes nothing; a mode changed by hand is put back.
	if err := os.Chmod(filepath.Join(dir, "site.pem"), 0o644); err != nil {
		t.Fatal(err)
	}
	if written, err := in.Install(fsys); err != nil || len(written) != 0 {
		t.Errorf("second Install = %v, %v; want nothing written", written, err)
	}
	if st, _ := os.Stat(filepath.Join(dir, "site.pem")); st.Mode().Perm() != 0o600 {
		t.Errorf("mode after a second install %v, want 0600", st.Mode().Perm())
	}

	for name, data := range map[string][]byte{
		"secrets/bad name.age": forAB,
		"secrets/garbage.age":  []byte("-----BEGIN AGE ENCRYPTED FILE-----\nnope\n-----END AGE ENCRYPTED FILE-----\n"),
	} {
		_, err := in.Install(fstest.MapFS{name: {Data: data}})
		var bad *BadFileError
		if !errors.As(err, &bad) || bad.File != name {
			t.Errorf("%s: Install error %v, want a BadFileError naming it", name, err)
		}
	}
}
