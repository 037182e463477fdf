package trust

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/ddc-gitops/ddc-gitops/trust/trusttest"
)

// history is a repository of a fleet with nodes node files and n signed
// commits on top of its seed, each changing one node file.
type history struct {
	repo       *git.Repository
	dir        string
	base, head plumbing.Hash
}

func newHistory(tb testing.TB, k *keys, nodes, n int, pgp bool) *history {
	tb.Helper()
	dir := tb.TempDir()
	g, err := git.PlainInit(dir, false)
	if err != nil {
		tb.Fatal(err)
	}
	files := map[string][]byte{"fleet.yaml": []byte("kind: Fleet\n"), "backends/web.yaml": []byte("servers: []\n")}
	for i := range nodes {
		files[fmt.Sprintf("nodes/n-%05d.yaml", i)] = []byte(fmt.Sprintf("name: n-%05d\nweight: 100\n", i))
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h := trusttest.Commit(tb, g.Storer, plumbing.ZeroHash, files, &k.alice, t0, "seed")
	base := h
	for i := range n {
		f := map[string][]byte{fmt.Sprintf("nodes/n-%05d.yaml", i%nodes): []byte(fmt.Sprintf("name: n-%05d\nweight: %d\n", i%nodes, i))}
		if pgp {
			h = pgpCommit(tb, g, h, f, k.release, t0.Add(time.Duration(i+1)*time.Second))
		} else {
			h = trusttest.Commit(tb, g.Storer, h, f, &k.alice, t0.Add(time.Duration(i+1)*time.Second), fmt.Sprintf("change %d", i))
		}
	}
	if err := g.Storer.SetReference(plumbing.NewHashReference("refs/heads/master", h)); err != nil {
		tb.Fatal(err)
	}
	return &history{repo: g, dir: dir, base: base, head: h}
}

// pgpCommit is trusttest.Commit signed with an OpenPGP key.
func pgpCommit(tb testing.TB, g *git.Repository, parent plumbing.Hash, files map[string][]byte, k pgpKey, when time.Time) plumbing.Hash {
	h := trusttest.Commit(tb, g.Storer, parent, files, nil, when, "pgp")
	c, err := object.GetCommit(g.Storer, h)
	if err != nil {
		tb.Fatal(err)
	}
	c.PGPSignature = pgpSign(tb, c, k)
	obj := g.Storer.NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		tb.Fatal(err)
	}
	h, err = g.Storer.SetEncodedObject(obj)
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

// BenchmarkVerify is the cost of verifying a push of 1 and of 1,000
// commits (each changing one of 1,000 node files) by a host that has not
// seen them (a fresh Verifier: no verdict or tree cached), and of the
// same 1,000 verified again (every verdict cached).
func BenchmarkVerify(b *testing.B) {
	k := newKeys(b)
	p := k.policy(b, "")
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		n      int
		pgp    bool
		cached bool
	}{
		{"ssh/1-commit", 1, false, false},
		{"ssh/1000-commits", 1000, false, false},
		{"ssh/1000-commits-cached", 1000, false, true},
		{"pgp/1-commit", 1, true, false},
		{"pgp/100-commits", 100, true, false},
	} {
		b.Run(tc.name, func(b *testing.B) {
			h := newHistory(b, k, 1000, tc.n, tc.pgp)
			v := NewVerifier(p)
			if tc.cached {
				if _, err := v.VerifyRange(ctx, h.repo.Storer, h.base.String(), h.head.String()); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for range b.N {
				if !tc.cached {
					v = NewVerifier(p)
				}
				res, err := v.VerifyRange(ctx, h.repo.Storer, h.base.String(), h.head.String())
				if err != nil || res.Refused() || res.Verified != tc.n {
					b.Fatalf("%v %v %d", err, res.Err(), res.Verified)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*tc.n), "µs/commit")
		})
	}
}

// TestInProcessSignaturesAreGits: git itself verifies the commits
// trusttest.Commit signs (the benchmarks' histories are what git writes).
func TestInProcessSignaturesAreGits(t *testing.T) {
	k := newKeys(t)
	h := newHistory(t, k, 3, 2, false)
	allowed := filepath.Join(t.TempDir(), "allowed_signers")
	if err := os.WriteFile(allowed, []byte("tess@example.test "+k.alice.Pub+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("git", "-c", "gpg.ssh.allowedSignersFile="+allowed, "verify-commit", h.head.String())
	cmd.Dir = h.dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git verify-commit: %v\n%s", err, out)
	}
	res, err := NewVerifier(k.policy(t, "")).VerifyRange(context.Background(), h.repo.Storer, h.base.String(), h.head.String())
	if err != nil || res.Refused() || res.Verified != 2 {
		t.Fatalf("%v %v", err, res.Err())
	}
}
