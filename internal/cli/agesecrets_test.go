package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ddc-gitops/ddc-gitops/examples"
)

// exampleCrtBase is a crt-base with the example certificate decrypted from
// the example fleet's secrets/ by a lab host's identity, as its agent does.
func exampleCrtBase(t *testing.T) string {
	t.Helper()
	id, _ := examples.LabIdentity("eu-haproxy-2")
	idFile := filepath.Join(t.TempDir(), "age.key")
	if err := os.WriteFile(idFile, id, 0o600); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	code, _, errs := run(t, "secrets", "decrypt", "--identity", idFile, "--crt-base", dir, exampleFleet)
	if code != ExitOK {
		t.Fatalf("secrets decrypt: exit %d: %s", code, errs)
	}
	return dir
}

func TestValidateRefusesPlaintextKey(t *testing.T) {
	pem := "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"
	dir := copyFleet(t, map[string]string{"certs/site.pem": pem})
	code, _, errs := run(t, "validate", dir)
	if code != ExitInvalid || !strings.Contains(errs, "certs/site.pem:4:1: plaintext private key") {
		t.Fatalf("exit %d, stderr %q: want 1 and certs/site.pem:4:1", code, errs)
	}
}

// TestSecretsRoundTrip: keygen for two hosts, encrypt to both, each
// decrypts with its own identity (mode 0600), a third host gets nothing,
// and the fleet with the encrypted file is valid and renders for haproxy -c.
func TestSecretsRoundTrip(t *testing.T) {
	dir := t.TempDir()
	var recips []string
	for _, h := range []string{"a", "b", "c"} {
		code, out, errs := run(t, "secrets", "keygen", "--out", filepath.Join(dir, h+".key"))
		if code != ExitOK || !strings.HasPrefix(out, "age1") {
			t.Fatalf("keygen %s: exit %d %q %q", h, code, out, errs)
		}
		if st, _ := os.Stat(filepath.Join(dir, h+".key")); st.Mode().Perm() != 0o600 {
			t.Errorf("identity mode %v", st.Mode().Perm())
		}
		if _, show, _ := run(t, "secrets", "keygen", "--show", "--out", filepath.Join(dir, h+".key")); show != out {
			t.Errorf("--show printed %q, keygen %q", show, out)
		}
		recips = append(recips, strings.TrimSpace(out))
	}
	if code, _, _ := run(t, "secrets", "keygen", "--out", filepath.Join(dir, "a.key")); code == ExitOK {
		t.Error("keygen overwrote an identity")
	}
	crt := filepath.Join(exampleCrtBase(t), "ddc-example.pem")
	code, enc, errs := run(t, "secrets", "encrypt", "--recipient", recips[0], "--recipient", recips[1], crt)
	if code != ExitOK || !strings.HasPrefix(enc, "-----BEGIN AGE ENCRYPTED FILE-----") {
		t.Fatalf("encrypt: exit %d %q", code, errs)
	}
	fleet := copyFleet(t, map[string]string{"secrets/ddc-example.pem.age": enc})
	if code, _, errs := run(t, "validate", fleet); code != ExitOK {
		t.Fatalf("validate: %s", errs)
	}
	want, _ := os.ReadFile(crt)
	for i, h := range []string{"a", "b", "c"} {
		out := t.TempDir()
		code, _, errs := run(t, "secrets", "decrypt", "--identity", filepath.Join(dir, h+".key"), "--crt-base", out, fleet)
		if code != ExitOK {
			t.Fatalf("decrypt %s: %s", h, errs)
		}
		got, err := os.ReadFile(filepath.Join(out, "ddc-example.pem"))
		if i < 2 && string(got) != string(want) {
			t.Errorf("host %s: decrypted %d bytes, %v", h, len(got), err)
		}
		if i == 2 && err == nil {
			t.Errorf("host c, not a recipient, got the file")
		}
	}
	if haproxy, err := exec.LookPath("haproxy"); err == nil {
		out := t.TempDir()
		t.Chdir(t.TempDir())
		if code, _, errs := run(t, "render", "--out", out, "--crt-base", filepath.Dir(crt), fleet); code != ExitOK {
			t.Fatalf("render: %s", errs)
		}
		if b, err := exec.Command(haproxy, "-c", "-f", filepath.Join(out, "eu-haproxy-1", HAProxyFile)).CombinedOutput(); err != nil {
			t.Errorf("haproxy -c: %v\n%s", err, b)
		}
	}
}
