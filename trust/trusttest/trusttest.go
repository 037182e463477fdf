// Package trusttest makes signing keys and signed commits for tests of
// the trust policy: SSH keys by ssh-keygen, commits signed by the git
// binary (gpg.format=ssh), OpenPGP keys in memory.
package trusttest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/hiddeco/sshsig"
	"golang.org/x/crypto/ssh"

	"github.com/ddc-gitops/ddc-gitops/gittree"
)

// SSHKey is an SSH key pair made by ssh-keygen.
type SSHKey struct {
	Priv   string // private key file
	Pub    string // authorized_keys line
	Signer ssh.Signer
}

// NewSSHKey makes an ed25519 key pair in dir.
func NewSSHKey(t testing.TB, dir, name string) SSHKey {
	t.Helper()
	f := filepath.Join(dir, name)
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name+"@test", "-f", f).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	pub, err := os.ReadFile(f + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		t.Fatal(err)
	}
	return SSHKey{Priv: f, Pub: strings.TrimSpace(string(pub)), Signer: signer}
}

// PGPKey is an OpenPGP key made in memory.
type PGPKey struct {
	Entity *openpgp.Entity
	Pub    string // armored public key
}

// NewPGPKey makes an OpenPGP key.
func NewPGPKey(t testing.TB, name string) PGPKey {
	t.Helper()
	e, err := openpgp.NewEntity(name, "", name+"@test", nil)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	w, err := armor.Encode(&b, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Serialize(w); err != nil {
		t.Fatal(err)
	}
	_ = w.Close()
	return PGPKey{Entity: e, Pub: b.String()}
}

// Work is a git work tree driven by the git binary, with fixed identities
// and commit dates one second apart.
type Work struct {
	T   testing.TB
	Dir string
	// N counts the commits made; the next one is dated N+1 seconds after
	// 2026-01-01.
	N int
}

// NewWork initialises a work tree on branch main.
func NewWork(t testing.TB) *Work {
	t.Helper()
	w := &Work{T: t, Dir: t.TempDir()}
	w.Git("init", "-q", "-b", "main")
	return w
}

// Clone clones remote (a path or URL) into a new work tree.
func Clone(t testing.TB, remote string) *Work {
	t.Helper()
	w := &Work{T: t, Dir: t.TempDir()}
	w.Git("clone", "-q", remote, ".")
	return w
}

// Git runs git in the work tree and returns its trimmed output.
func (w *Work) Git(args ...string) string {
	w.T.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = w.Dir
	date := time.Date(2026, 1, 1, 0, 0, w.N, 0, time.UTC).Format(time.RFC3339)
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=Tess Ter", "GIT_AUTHOR_EMAIL=tess@example.test",
		"GIT_COMMITTER_NAME=Tess Ter", "GIT_COMMITTER_EMAIL=tess@example.test",
		"GIT_AUTHOR_DATE="+date, "GIT_COMMITTER_DATE="+date, "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		w.T.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// OK runs git and reports whether it exited 0.
func (w *Work) OK(args ...string) bool {
	cmd := exec.Command("git", args...)
	cmd.Dir = w.Dir
	return cmd.Run() == nil
}

// Write stages files; an empty content removes the file.
func (w *Work) Write(files map[string]string) {
	w.T.Helper()
	for name, content := range files {
		if content == "" {
			w.Git("rm", "-q", name)
			continue
		}
		p := filepath.Join(w.Dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			w.T.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			w.T.Fatal(err)
		}
		w.Git("add", name)
	}
}

// Signed returns git arguments that sign with key (nil: no signature),
// to put before a commit, merge or revert subcommand.
func Signed(key *SSHKey, args ...string) []string {
	if key == nil {
		return append([]string{"-c", "commit.gpgSign=false"}, args...)
	}
	return append([]string{"-c", "gpg.format=ssh", "-c", "user.signingkey=" + key.Priv, "-c", "commit.gpgSign=true"}, args...)
}

// Commit commits what is staged (empty commits allowed), signed with key
// (nil: unsigned), and returns the new head.
func (w *Work) Commit(key *SSHKey, msg string) string {
	w.T.Helper()
	w.N++
	w.Git(Signed(key, "commit", "-q", "--allow-empty", "-m", msg)...)
	return w.Head()
}

// Change writes files and commits them signed with key.
func (w *Work) Change(key *SSHKey, files map[string]string) string {
	w.T.Helper()
	w.Write(files)
	return w.Commit(key, fmt.Sprintf("change %d", w.N+1))
}

// Head returns the commit HEAD names.
func (w *Work) Head() string { return w.Git("rev-parse", "HEAD") }

// Commit stores in st a commit of parent's tree with files changed (nil
// content deletes), signed in process the way git signs with
// gpg.format=ssh (key nil: unsigned), and returns its hash: thousands of
// signed commits in a second, for benchmarks.
func Commit(t testing.TB, st storer.EncodedObjectStorer, parent plumbing.Hash, files map[string][]byte, key *SSHKey, when time.Time, msg string) plumbing.Hash {
	t.Helper()
	base := plumbing.ZeroHash
	var parents []plumbing.Hash
	if !parent.IsZero() {
		pc, err := object.GetCommit(st, parent)
		if err != nil {
			t.Fatal(err)
		}
		base, parents = pc.TreeHash, []plumbing.Hash{parent}
	}
	tree, err := gittree.WriteTree(st, base, gittree.FileChanges(files))
	if err != nil {
		t.Fatal(err)
	}
	who := object.Signature{Name: "Tess Ter", Email: "tess@example.test", When: when}
	c := &object.Commit{Author: who, Committer: who, Message: msg, TreeHash: tree, ParentHashes: parents}
	if key != nil {
		var payload plumbing.MemoryObject
		if err := c.EncodeWithoutSignature(&payload); err != nil {
			t.Fatal(err)
		}
		rd, err := payload.Reader()
		if err != nil {
			t.Fatal(err)
		}
		sig, err := sshsig.Sign(rd, key.Signer, sshsig.HashSHA512, "git")
		if err != nil {
			t.Fatal(err)
		}
		c.PGPSignature = string(sshsig.Armor(sig))
	}
	obj := st.NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		t.Fatal(err)
	}
	h, err := st.SetEncodedObject(obj)
	if err != nil {
		t.Fatal(err)
	}
	return h
}
