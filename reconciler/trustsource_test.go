package reconciler

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ddc-gitops/ddc-gitops/reconciler/source"
	"github.com/ddc-gitops/ddc-gitops/trust"
	"github.com/ddc-gitops/ddc-gitops/trust/trusttest"
)

// TestTrustedSource: the DNS and container roles' fetcher fails on a
// refused head and serves again once a signed revert is pushed.
func TestTrustedSource(t *testing.T) {
	alice := trusttest.NewSSHKey(t, t.TempDir(), "alice")
	p, err := trust.Parse("p.yaml", []byte(fmt.Sprintf("kind: TrustPolicy\nkeys:\n  - name: alice\n    ssh: %s\nrules:\n  - name: people\n    keys: [alice]\n    paths: [\"**\"]\n", alice.Pub)))
	if err != nil {
		t.Fatal(err)
	}
	w := trusttest.NewWork(t)
	signed := w.Change(&alice, map[string]string{"fleet.yaml": "a\n"})
	src := &TrustedSource{Source: &source.Source{URL: w.Dir, Dir: filepath.Join(t.TempDir(), "src")}, Verifier: trust.NewVerifier(p)}
	ctx := context.Background()
	snap, err := src.Sync(ctx)
	if err != nil || snap.Revision.Hash != signed {
		t.Fatalf("sync: %v", err)
	}
	w.Change(nil, map[string]string{"fleet.yaml": "evil\n"})
	for range 2 {
		if _, err := src.Sync(ctx); err == nil || !strings.Contains(err.Error(), "unsigned") {
			t.Fatalf("sync of an unsigned head: %v", err)
		}
	}
	w.N++
	w.Git(trusttest.Signed(&alice, "revert", "--no-edit", "HEAD")...)
	if snap, err := src.Sync(ctx); err != nil || snap.Revision.Hash != w.Head() {
		t.Fatalf("sync of the signed revert: %v", err)
	}
	// Without a git source there is nothing to verify.
	if _, err := (&TrustedSource{Source: &DirSource{Dir: w.Dir}, Verifier: src.Verifier}).Sync(ctx); err == nil {
		t.Fatal("a directory source was accepted")
	}
}
