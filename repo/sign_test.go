package repo

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	git "github.com/go-git/go-git/v5"

	"github.com/ddc-gitops/ddc-gitops/trust"
	"github.com/ddc-gitops/ddc-gitops/trust/trusttest"
)

// verifyCommit runs `git verify-commit rev` in dir with allowedSigners
// (gpg.format=ssh) and returns its output and error.
func verifyCommit(dir, allowedSigners, rev string) (string, error) {
	cmd := exec.Command("git", "-c", "gpg.format=ssh", "-c", "gpg.ssh.allowedSignersFile="+allowedSigners, "verify-commit", rev)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// TestSignedCommitsPassGitAndTrust: with a Signer, every commit the Repo
// writes (a single change, a grouped batch, a proposal branch) carries an
// SSH signature that `git verify-commit` and the trust policy's verifier
// accept; without one, commits stay unsigned and the verifier refuses them.
func TestSignedCommitsPassGitAndTrust(t *testing.T) {
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		t.Skip("ssh-keygen not in PATH")
	}
	ctx := context.Background()
	remote := newRemote(t)
	seed := gitRun(t, remote, "rev-parse", "main")
	key := trusttest.NewSSHKey(t, t.TempDir(), "api")
	allowed := filepath.Join(t.TempDir(), "allowed_signers")
	if err := os.WriteFile(allowed, []byte("api@test "+key.Pub+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	policy, err := trust.Parse("policy.yaml", fmt.Appendf(nil, "kind: TrustPolicy\nkeys:\n  - name: api\n    ssh: %s\nrules:\n  - name: api-writes\n    keys: [api]\n    paths: [\"backends/*.yaml\"]\n", key.Pub))
	if err != nil {
		t.Fatal(err)
	}
	bare, err := git.PlainOpen(remote)
	if err != nil {
		t.Fatal(err)
	}

	signed, err := Open(ctx, Options{URL: remote, Dir: filepath.Join(t.TempDir(), "clone"), Signer: key.Signer})
	if err != nil {
		t.Fatal(err)
	}
	one, err := signed.Commit(ctx, Change{Author: author, Subject: "add signed-1", Edit: addServer("signed-1")})
	if err != nil || !one.Changed {
		t.Fatalf("commit: %+v %v", one, err)
	}
	// Two concurrent changes: one grouped batch of two commits, one push.
	errc := make(chan error, 2)
	for _, n := range []string{"signed-2", "signed-3"} {
		go func() {
			_, err := signed.Commit(ctx, Change{Author: author, Subject: "add " + n, Edit: addServer(n)})
			errc <- err
		}()
	}
	for range 2 {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	branch, err := signed.Commit(ctx, Change{Author: author, Subject: "propose signed-4", Edit: addServer("signed-4"), Branch: "proposal/signed-4"})
	if err != nil || !branch.Changed {
		t.Fatalf("branch commit: %+v %v", branch, err)
	}
	head := gitRun(t, remote, "rev-parse", "main")
	revs := strings.Fields(gitRun(t, remote, "rev-list", seed+"..main"))
	revs = append(revs, branch.Revision)
	if len(revs) != 4 {
		t.Fatalf("commits after the seed: %v, want 3 on main and the branch's", revs)
	}
	for _, rev := range revs {
		out, err := verifyCommit(remote, allowed, rev)
		if err != nil || !strings.Contains(out, `Good "git" signature for api@test`) {
			t.Errorf("git verify-commit %s: %v\n%s", short(rev), err, out)
		}
	}
	v := trust.NewVerifier(policy)
	for _, r := range [][2]string{{seed, head}, {head, branch.Revision}} {
		res, err := v.VerifyRange(ctx, bare.Storer, r[0], r[1])
		if err != nil {
			t.Fatal(err)
		}
		if res.Refused() {
			t.Errorf("the trust policy refuses %s..%s: %v", short(r[0]), short(r[1]), res.Err())
		}
	}

	// Without a signer: unsigned, as before; git and the policy refuse it.
	plain := openRepo(t, remote)
	res, err := plain.Commit(ctx, Change{Author: author, Subject: "add unsigned", Edit: addServer("unsigned")})
	if err != nil || !res.Changed {
		t.Fatalf("unsigned commit: %+v %v", res, err)
	}
	if raw := gitRun(t, remote, "cat-file", "commit", res.Revision); strings.Contains(raw, "gpgsig") {
		t.Errorf("a commit without a signer carries a signature:\n%s", raw)
	}
	if out, err := verifyCommit(remote, allowed, res.Revision); err == nil {
		t.Errorf("git verify-commit accepts the unsigned commit:\n%s", out)
	}
	vr, err := v.VerifyRange(ctx, bare.Storer, head, res.Revision)
	if err != nil {
		t.Fatal(err)
	}
	if !vr.Refused() || vr.Refusals[0].Commit != res.Revision || !strings.Contains(vr.Refusals[0].Reason, "unsigned") {
		t.Errorf("the policy's verdict on the unsigned commit: %+v", vr.Refusals)
	}
	gitRun(t, remote, "fsck", "--strict")
}
