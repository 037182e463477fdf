package lab_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/ddc-gitops/ddc-gitops/lab"
	"github.com/ddc-gitops/ddc-gitops/trust"
)

// checkTrustSetup checks that the lab runs with verification on: its
// policy loads and names the three keys, the private keys are 0600, every
// agent runs with --trust-policy and the bot with --signing-key, the
// working clone signs with the person's key, and the seed is signed by it.
func checkTrustSetup(t *testing.T, info lab.Info) {
	t.Helper()
	p, err := trust.Load(info.Trust.Policy)
	if err != nil {
		t.Fatalf("the lab's trust policy: %v", err)
	}
	var names []string
	for _, k := range p.Keys {
		names = append(names, k.Name)
	}
	if got := strings.Join(names, ","); got != lab.KeyPerson+","+lab.KeyAPI+","+lab.KeyBot {
		t.Errorf("policy keys %s", got)
	}
	for name, file := range info.Trust.Keys {
		fi, err := os.Stat(file)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("key %s (%s) has mode %v, want 0600", name, file, fi.Mode().Perm())
		}
	}
	for _, c := range info.Children {
		kind := strings.Fields(c.Name)[0]
		if kind != "agent" && kind != "bot" {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", c.PID))
		if err != nil {
			t.Errorf("%s: %v", c.Name, err)
			continue
		}
		args := strings.Split(string(bytes.TrimRight(b, "\x00")), "\x00")
		want := []string{"--trust-policy", info.Trust.Policy}
		if kind == "bot" {
			want = []string{"--signing-key", info.Trust.Keys[lab.KeyBot]}
		}
		if !containsSeq(args, want) {
			t.Errorf("%s runs without %s: %q", c.Name, strings.Join(want, " "), args)
		}
	}
	git := func(args ...string) string {
		out, err := exec.Command("git", append([]string{"-C", info.CloneDir}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if got := git("config", "user.signingkey"); got != info.Trust.Keys[lab.KeyPerson] {
		t.Errorf("the clone signs with %q, want the person's key", got)
	}
	if got := git("config", "commit.gpgsign"); got != "true" {
		t.Errorf("commit.gpgsign = %q", got)
	}
	if out := git("verify-commit", "HEAD"); !strings.Contains(out, `Good "git" signature for `+lab.KeyPerson+"@lab") {
		t.Errorf("the seed's signature: %s", out)
	}
}

func containsSeq(s, seq []string) bool {
	for i := 0; i+len(seq) <= len(s); i++ {
		if fmt.Sprint(s[i:i+len(seq)]) == fmt.Sprint(seq) {
			return true
		}
	}
	return false
}
