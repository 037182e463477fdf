package api

import (
	"os"
	"path/filepath"
	"testing"
)

// TestPlaintextKeyRefused: once someone pushes a plaintext private key to
// the branch, every API mutation is refused with the key's file:line (the
// API validates each commit with desired.Load), and nothing is committed.
func TestPlaintextKeyRefused(t *testing.T) {
	e := newEnv(t, envOpts{})
	work := t.TempDir()
	gitRun(t, work, "clone", "-q", e.bare, ".")
	if err := os.MkdirAll(filepath.Join(work, "certs"), 0o755); err != nil {
		t.Fatal(err)
	}
	key := "# leaked by hand\n-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"
	if err := os.WriteFile(filepath.Join(work, "certs", "leaked.pem"), []byte(key), 0o644); err != nil {
		t.Fatal(err)
	}
	gitRun(t, work, "add", "certs/leaked.pem")
	gitRun(t, work, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-q", "-m", "leak a key")
	gitRun(t, work, "push", "-q", "origin", "HEAD:main")
	before := e.head()

	res := e.call("POST", "/api/v1/backends/ddc_nodes_http/servers", "ada", `{"name":"x","address":"198.18.2.50:80"}`)
	ae := res.apiError(t)
	if res.code != 422 || ae.Code != CodeInvalidState {
		t.Fatalf("got %d %s, want 422 %s", res.code, res.body, CodeInvalidState)
	}
	found := false
	for _, d := range ae.Details {
		if d.File == "certs/leaked.pem" && d.Line == 2 {
			found = true
		}
	}
	if !found {
		t.Errorf("the refusal does not name certs/leaked.pem:2: %s", res.body)
	}
	if h := e.head(); h != before {
		t.Errorf("HEAD moved to %s", h)
	}
}
