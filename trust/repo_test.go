package trust

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
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// sshKey is an SSH key pair made by ssh-keygen for a test.
type sshKey struct {
	priv string // private key file
	pub  string // authorized_keys line
}

func newSSHKey(t testing.TB, dir, name string) sshKey {
	t.Helper()
	f := filepath.Join(dir, name)
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name+"@test", "-f", f).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	pub, err := os.ReadFile(f + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	return sshKey{priv: f, pub: strings.TrimSpace(string(pub))}
}

// pgpKey is an OpenPGP key made in memory.
type pgpKey struct {
	ent *openpgp.Entity
	pub string // armored public key
}

func newPGPKey(t testing.TB, name string) pgpKey {
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
	return pgpKey{ent: e, pub: b.String()}
}

// repo is a work tree driven by the git binary.
type repo struct {
	t   testing.TB
	dir string
	n   int // commits made, for distinct timestamps
}

func newRepo(t testing.TB) *repo {
	t.Helper()
	r := &repo{t: t, dir: t.TempDir()}
	r.git("init", "-q", "-b", "main")
	return r
}

func (r *repo) git(args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = r.dir
	date := time.Date(2026, 1, 1, 0, 0, r.n, 0, time.UTC).Format(time.RFC3339)
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=Tess Ter", "GIT_AUTHOR_EMAIL=tess@example.test",
		"GIT_COMMITTER_NAME=Tess Ter", "GIT_COMMITTER_EMAIL=tess@example.test",
		"GIT_AUTHOR_DATE="+date, "GIT_COMMITTER_DATE="+date, "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// write sets files (an empty content deletes the file).
func (r *repo) write(files map[string]string) {
	r.t.Helper()
	for name, content := range files {
		p := filepath.Join(r.dir, name)
		if content == "" {
			r.git("rm", "-q", name)
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			r.t.Fatal(err)
		}
		r.git("add", name)
	}
}

// commit commits the staged files, signed with key (nil: unsigned), and
// returns the new head.
func (r *repo) commit(key *sshKey, msg string) string {
	r.t.Helper()
	r.n++
	args := []string{"-c", "gpg.format=ssh"}
	if key != nil {
		args = append(args, "-c", "user.signingkey="+key.priv, "commit", "-q", "-S", "--allow-empty", "-m", msg)
	} else {
		args = append(args, "commit", "-q", "--no-gpg-sign", "--allow-empty", "-m", msg)
	}
	r.git(args...)
	return r.head()
}

func (r *repo) head() string { return r.git("rev-parse", "HEAD") }

// change writes files and commits them signed with key.
func (r *repo) change(key *sshKey, files map[string]string) string {
	r.t.Helper()
	r.write(files)
	return r.commit(key, fmt.Sprintf("change %d", r.n+1))
}

// commitPGP commits the staged files with go-git, signed with k.
func (r *repo) commitPGP(k pgpKey, msg string) string {
	r.t.Helper()
	r.n++
	g, err := git.PlainOpen(r.dir)
	if err != nil {
		r.t.Fatal(err)
	}
	w, err := g.Worktree()
	if err != nil {
		r.t.Fatal(err)
	}
	when := time.Date(2026, 1, 1, 0, 0, r.n, 0, time.UTC)
	sig := &object.Signature{Name: "Rel Ease", Email: "release@example.test", When: when}
	h, err := w.Commit(msg, &git.CommitOptions{Author: sig, Committer: sig, SignKey: k.ent, AllowEmptyCommits: true})
	if err != nil {
		r.t.Fatal(err)
	}
	return h.String()
}

// open returns the repository's go-git handle.
func (r *repo) open() *git.Repository {
	r.t.Helper()
	g, err := git.PlainOpen(r.dir)
	if err != nil {
		r.t.Fatal(err)
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
	if err := k.ent.SerializePrivate(w, nil); err != nil {
		t.Fatal(err)
	}
	_ = w.Close()
	return b.String()
}

// gitOK runs git and reports whether it exited 0.
func (r *repo) gitOK(args ...string) bool {
	cmd := exec.Command("git", args...)
	cmd.Dir = r.dir
	return cmd.Run() == nil
}
