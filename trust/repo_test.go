package trust

import (
	"bytes"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/ddc-gitops/ddc-gitops/trust/trusttest"
)

type (
	sshKey = trusttest.SSHKey
	pgpKey = trusttest.PGPKey
)

var (
	newSSHKey = trusttest.NewSSHKey
	newPGPKey = trusttest.NewPGPKey
)

// repo is a work tree driven by the git binary (trusttest.Work).
type repo struct{ *trusttest.Work }

func newRepo(t testing.TB) *repo { return &repo{trusttest.NewWork(t)} }

// commitPGP commits the staged files with go-git, signed with k.
func (r *repo) commitPGP(k pgpKey, msg string) string {
	r.T.Helper()
	r.N++
	g := r.open()
	w, err := g.Worktree()
	if err != nil {
		r.T.Fatal(err)
	}
	when := time.Date(2026, 1, 1, 0, 0, r.N, 0, time.UTC)
	sig := &object.Signature{Name: "Rel Ease", Email: "release@example.test", When: when}
	h, err := w.Commit(msg, &git.CommitOptions{Author: sig, Committer: sig, SignKey: k.Entity, AllowEmptyCommits: true})
	if err != nil {
		r.T.Fatal(err)
	}
	return h.String()
}

// open returns the repository's go-git handle.
func (r *repo) open() *git.Repository {
	r.T.Helper()
	g, err := git.PlainOpen(r.Dir)
	if err != nil {
		r.T.Fatal(err)
	}
	return g
}

// privateArmor returns k's private key, armored.
func privateArmor(t testing.TB, k pgpKey) string {
	t.Helper()
	var b bytes.Buffer
	w, err := armor.Encode(&b, openpgp.PrivateKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Entity.SerializePrivate(w, nil); err != nil {
		t.Fatal(err)
	}
	_ = w.Close()
	return b.String()
}
