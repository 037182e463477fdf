package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ddc-gitops/ddc-gitops/gittree"
)

// TestSigningKeyFlags: `api --signing-key` and `bot --signing-key` (and
// the embedded bot's --bot-signing-key) refuse a key file others may read,
// a passphrase-protected key and garbage, naming the flag and the file,
// before doing anything else.
func TestSigningKeyFlags(t *testing.T) {
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		t.Skip("ssh-keygen not in PATH")
	}
	dir := t.TempDir()
	priv, _, _, err := gittree.NewSigningKey("test")
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte, mode os.FileMode) string {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, b, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(f, mode); err != nil { // past the umask
			t.Fatal(err)
		}
		return f
	}
	open := write("open", priv, 0o644)
	garbage := write("garbage", []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nnope\n-----END OPENSSH PRIVATE KEY-----\n"), 0o600)
	pass := filepath.Join(dir, "pass")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "secret phrase", "-f", pass).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	missing := filepath.Join(dir, "missing")
	api := []string{"api", "--repo", filepath.Join(dir, "repo"), "--users-file", filepath.Join(dir, "users.yaml"), "--log-format", "json"}
	for _, c := range []struct {
		name string
		args []string
		want []string
	}{
		{"api 0644", append(api, "--signing-key", open), []string{"--signing-key", open, "permissions 0644 are too open"}},
		{"api passphrase", append(api, "--signing-key", pass), []string{"--signing-key", pass, "protected by a passphrase"}},
		{"api garbage", append(api, "--signing-key", garbage), []string{"--signing-key", garbage, "not an SSH private key"}},
		{"api missing", append(api, "--signing-key", missing), []string{"--signing-key", missing, "no such file"}},
		{"api embedded bot 0644", append(api, "--bot-rpc-url", "http://127.0.0.1:1", "--bot-signing-key", open, "--signing-key", write("good", priv, 0o600)), []string{"--bot-signing-key", open, "too open"}},
		{"bot 0644", []string{"bot", "--signing-key", open}, []string{"--signing-key", open, "permissions 0644 are too open"}},
		{"bot passphrase", []string{"bot", "--signing-key", pass}, []string{"--signing-key", pass, "protected by a passphrase"}},
		{"bot garbage", []string{"bot", "--signing-key", garbage}, []string{"--signing-key", garbage, "not an SSH private key"}},
		{"api bot key without the bot", append(api, "--bot-signing-key", write("good2", priv, 0o600)), []string{"--bot-signing-key", "needs --bot-rpc-url"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			want := ExitInvalid
			if strings.HasPrefix(c.name, "api bot key without") {
				want = ExitUsage
			}
			code, _, errs := run(t, c.args...)
			if code != want {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, want, errs)
			}
			for _, w := range c.want {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errs)
				}
			}
		})
	}
}
