package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ddc-gitops/ddc-gitops/trust"
	"github.com/ddc-gitops/ddc-gitops/trust/trusttest"
)

// TestExampleTrustPolicy: the shipped example loads and names its keys.
func TestExampleTrustPolicy(t *testing.T) {
	p, err := trust.Load("../../examples/trust-policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"alice", "ddc-bot", "ddc-api", "release"} {
		k := p.Key(name)
		if k == nil || len(k.Fingerprints) != 1 {
			t.Errorf("key %s: %+v", name, k)
		}
		if k != nil && k.SSH != "" && !strings.HasPrefix(k.SSH, "ssh-ed25519 AAAA") {
			t.Errorf("key %s: %q is not an ssh-ed25519 line", name, k.SSH)
		}
	}
	if len(p.Rules) != 5 || p.AllowRewrite {
		t.Errorf("rules %d, allowRewrite %v", len(p.Rules), p.AllowRewrite)
	}
}

// TestVerifyCommand: `verify` accepts a signed range and names every
// refused commit of an unsigned one, with exit status 1.
func TestVerifyCommand(t *testing.T) {
	dir := t.TempDir()
	alice := trusttest.NewSSHKey(t, dir, "alice")
	policy := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(policy, []byte(fmt.Sprintf("kind: TrustPolicy\nkeys:\n  - name: alice\n    ssh: %s\nrules:\n  - name: people\n    keys: [alice]\n    paths: [\"**\"]\n", alice.Pub)), 0o644); err != nil {
		t.Fatal(err)
	}
	w := trusttest.NewWork(t)
	base := w.Change(&alice, map[string]string{"fleet.yaml": "a\n"})
	signed := w.Change(&alice, map[string]string{"fleet.yaml": "b\n"})
	u1 := w.Change(nil, map[string]string{"fleet.yaml": "c\n"})
	u2 := w.Change(nil, map[string]string{"x.yaml": "d\n"})

	code, out, errs := run(t, "verify", "--repo", w.Dir, "--trust-policy", policy, base+".."+signed)
	if code != ExitOK || !strings.Contains(out, "accepted: 1 commit(s)") {
		t.Fatalf("signed range: exit %d, %q %q", code, out, errs)
	}
	code, out, errs = run(t, "verify", "--repo", w.Dir, "--trust-policy", policy, base+"..main")
	if code != ExitInvalid || !strings.Contains(out, "refused: commit "+u1[:12]) || !strings.Contains(out, "refused: commit "+u2[:12]) ||
		!strings.Contains(errs, "2 commit(s) break the trust policy") {
		t.Fatalf("unsigned range: exit %d, %q %q", code, out, errs)
	}
	// HEAD alone: judged as on a first sync (the head commit).
	if code, out, _ := run(t, "verify", "--repo", w.Dir, "--trust-policy", policy, signed); code != ExitOK {
		t.Fatalf("single revision: exit %d %q", code, out)
	}
	for _, args := range [][]string{
		{"verify", "--repo", w.Dir, base + ".." + signed},
		{"verify", "--repo", w.Dir, "--trust-policy", policy, ".." + signed},
		{"verify", "--repo", w.Dir, "--trust-policy", policy},
	} {
		if code, _, _ := run(t, args...); code != ExitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, ExitUsage)
		}
	}
	if code, _, errs := run(t, "verify", "--repo", w.Dir, "--trust-policy", filepath.Join(dir, "none.yaml"), signed); code != ExitInvalid || !strings.Contains(errs, "none.yaml") {
		t.Errorf("missing policy: exit %d %q", code, errs)
	}
}
