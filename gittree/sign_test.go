package gittree_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"golang.org/x/crypto/ssh"

	"github.com/ddc-gitops/ddc-gitops/gittree"
)

func runGit(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// TestWriteCommitSignedVerifiesWithGit: a commit WriteCommit signs is
// accepted by `git verify-commit` (gpg.format=ssh, allowed signers), for
// each key type ssh-keygen makes, and one signed by a key not in the
// allowed signers is refused; without a signer the commit is unsigned.
func TestWriteCommitSignedVerifiesWithGit(t *testing.T) {
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		t.Skip("ssh-keygen not in PATH")
	}
	dir := t.TempDir()
	r, err := gogit.PlainInit(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	tree, err := gittree.WriteTree(r.Storer, plumbing.ZeroHash, gittree.FileChanges(map[string][]byte{"fleet.yaml": []byte("x: 1\n")}))
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]ssh.Signer{}
	var allowed strings.Builder
	for _, typ := range []string{"ed25519", "ecdsa", "rsa"} {
		f := filepath.Join(t.TempDir(), typ)
		if out, err := exec.Command("ssh-keygen", "-q", "-t", typ, "-N", "", "-C", typ, "-f", f).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v\n%s", err, out)
		}
		s, err := gittree.LoadSigningKey(f)
		if err != nil {
			t.Fatal(err)
		}
		keys[typ] = s
		pub, err := os.ReadFile(f + ".pub")
		if err != nil {
			t.Fatal(err)
		}
		allowed.WriteString(typ + "@test " + string(pub))
	}
	_, _, stranger, err := gittree.NewSigningKey("stranger")
	if err != nil {
		t.Fatal(err)
	}
	signers := filepath.Join(t.TempDir(), "allowed_signers")
	if err := os.WriteFile(signers, []byte(allowed.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	verify := func(h plumbing.Hash) (string, error) {
		return runGit(t, dir, "-c", "gpg.format=ssh", "-c", "gpg.ssh.allowedSignersFile="+signers, "verify-commit", h.String())
	}
	who := object.Signature{Name: "Ada", Email: "ada@example.org", When: time.Date(2026, 12, 5, 8, 0, 0, 0, time.FixedZone("", 3600))}
	for typ, s := range keys {
		c := &object.Commit{Author: who, Committer: who, Message: "signed by " + typ + "\n", TreeHash: tree}
		h, err := gittree.WriteCommit(r.Storer, c, s)
		if err != nil {
			t.Fatal(err)
		}
		if c.Hash != h {
			t.Errorf("%s: the commit's Hash is %s, WriteCommit returned %s", typ, c.Hash, h)
		}
		if out, err := verify(h); err != nil {
			t.Errorf("%s: git verify-commit refuses the signed commit: %v\n%s", typ, err, out)
		} else if !strings.Contains(out, `Good "git" signature`) {
			t.Errorf("%s: git verify-commit says %q", typ, out)
		}
		if out, err := runGit(t, dir, "cat-file", "commit", h.String()); err != nil || !strings.Contains(out, "gpgsig -----BEGIN SSH SIGNATURE-----") {
			t.Errorf("%s: the commit has no gpgsig header: %v\n%s", typ, err, out)
		}
	}
	c := &object.Commit{Author: who, Committer: who, Message: "stranger\n", TreeHash: tree}
	h, err := gittree.WriteCommit(r.Storer, c, stranger)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := verify(h); err == nil {
		t.Errorf("git verify-commit accepts a commit signed by a key not in the allowed signers:\n%s", out)
	}
	c = &object.Commit{Author: who, Committer: who, Message: "unsigned\n", TreeHash: tree}
	h, err = gittree.WriteCommit(r.Storer, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if out, _ := runGit(t, dir, "cat-file", "commit", h.String()); strings.Contains(out, "gpgsig") {
		t.Errorf("a commit written without a signer is signed:\n%s", out)
	}
	if out, err := verify(h); err == nil {
		t.Errorf("git verify-commit accepts the unsigned commit:\n%s", out)
	}
	// The unsigned commit is byte-identical to what Encode alone writes.
	o := r.Storer.NewEncodedObject()
	if err := c.Encode(o); err != nil {
		t.Fatal(err)
	}
	if o.Hash() != h {
		t.Errorf("unsigned WriteCommit hash %s, plain Encode %s", h, o.Hash())
	}
}

// TestLoadSigningKey: what --signing-key accepts and refuses.
func TestLoadSigningKey(t *testing.T) {
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		t.Skip("ssh-keygen not in PATH")
	}
	dir := t.TempDir()
	keygen := func(name, typ, pass string, mode os.FileMode) string {
		f := filepath.Join(dir, name)
		if out, err := exec.Command("ssh-keygen", "-q", "-t", typ, "-N", pass, "-C", name, "-f", f).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v\n%s", err, out)
		}
		if err := os.Chmod(f, mode); err != nil {
			t.Fatal(err)
		}
		return f
	}
	write := func(name, content string, mode os.FileMode) string {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		return f
	}
	priv, _, _, err := gittree.NewSigningKey("lab-api")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, file string
		want       string // substring of the error; "" accepts
	}{
		{"ed25519", keygen("ed", "ed25519", "", 0o600), ""},
		{"ecdsa", keygen("ec", "ecdsa", "", 0o600), ""},
		{"rsa", keygen("rsa", "rsa", "", 0o400), ""},
		{"generated", write("gen", string(priv), 0o600), ""},
		{"group and others may read", keygen("open", "ed25519", "", 0o644), "permissions 0644 are too open"},
		{"group may read", keygen("group", "ed25519", "", 0o640), "permissions 0640 are too open"},
		{"passphrase", keygen("pass", "ed25519", "correct horse", 0o600), "protected by a passphrase"},
		{"garbage", write("garbage", "not a key\n", 0o600), "not an SSH private key"},
		{"public key", write("pub", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExlCt9oMle8cJJrnyJk6HyoDhBeBlmMH7QRnnWa2nqY x\n", 0o600), "not an SSH private key"},
		{"missing", filepath.Join(dir, "none"), "no such file"},
		{"directory", dir, "not a regular file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := gittree.LoadSigningKey(c.file)
			if c.want == "" {
				if err != nil || s == nil {
					t.Fatalf("LoadSigningKey(%s): %v", c.file, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("LoadSigningKey(%s) accepted it", c.file)
			}
			if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.file) {
				t.Errorf("error %q: want %q and the file's name", err, c.want)
			}
		})
	}
}

// TestNewSigningKey: the generated key's public line parses and matches
// its signer.
func TestNewSigningKey(t *testing.T) {
	priv, pub, s, err := gittree.NewSigningKey("lab-bot")
	if err != nil {
		t.Fatal(err)
	}
	pk, comment, _, _, err := ssh.ParseAuthorizedKey([]byte(pub))
	if err != nil {
		t.Fatal(err)
	}
	if comment != "lab-bot" || ssh.FingerprintSHA256(pk) != ssh.FingerprintSHA256(s.PublicKey()) || pk.Type() != ssh.KeyAlgoED25519 {
		t.Errorf("public key %q (%s), signer %s", pub, comment, ssh.FingerprintSHA256(s.PublicKey()))
	}
	back, err := ssh.ParsePrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	if ssh.FingerprintSHA256(back.PublicKey()) != ssh.FingerprintSHA256(pk) {
		t.Error("the private key file holds another key")
	}
}
