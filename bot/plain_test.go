package bot

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/ddc-gitops/ddc-gitops/bot/chain"
	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/forge"
	"github.com/ddc-gitops/ddc-gitops/gittree"
)

// plainRecord is one proposal of forge.Plain's state file.
type plainRecord struct {
	forge.PullRequest
	Comments []struct{ Body string } `json:"comments"`
}

func readPlain(t *testing.T, e *env) []plainRecord {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.cfg.proposalsDir(), forge.PlainFile))
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		PullRequests []plainRecord `json:"pullRequests"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	return st.PullRequests
}

// Without a forge, the proposal is a branch in the remote (a valid fleet)
// recorded in the state directory; merging the branch is the admission,
// after which the record is closed and nothing more is proposed.
func TestNoForgeProposalIsABranch(t *testing.T) {
	e := newEnv(t, envOptions{})
	r := testRecord(1)
	ev := testEvent(chain.NodeAdmitted, r, 42)
	res := e.handle(ev, ResultAdd)
	branch := UpsertBranch(r.PubKey)

	// Read the remote's bare repository directly, as an operator would.
	fsys, rev, err := gittree.Open(e.srv.RepoPath(), "refs/heads/"+branch)
	if err != nil {
		t.Fatalf("the proposal branch is not in the remote: %v", err)
	}
	f, err := desired.Load(fsys)
	if err != nil {
		t.Fatalf("desired.Load on the proposal branch: %v", err)
	}
	if n := f.Node("node-a11ce0010000"); n == nil || !sameChainFields(n, r) {
		t.Fatalf("node on the branch = %+v", n)
	}
	if rev.Author != "ddc-gitops-bot <"+DefaultAuthorEmail+">" {
		t.Fatalf("author = %s", rev.Author)
	}
	prs := readPlain(t, e)
	if len(prs) != 1 || prs[0].Head != branch || prs[0].Base != "main" || prs[0].State != forge.StateOpen || res.PullRequest.Number != 1 {
		t.Fatalf("recorded proposals = %+v", prs)
	}
	if m := markerOf(prs[0].Body); m.base == "" || m.fingerprint == "" {
		t.Fatalf("recorded body has no marker:\n%s", prs[0].Body)
	}

	e.handle(ev, ResultUpToDate)
	e.merge(branch, "nodes/node-a11ce0010000.yaml")
	res = e.handle(ev, ResultNone)
	if len(res.Closed) != 1 {
		t.Fatalf("the merged proposal was not closed: %+v", res)
	}
	prs = readPlain(t, e)
	if len(prs) != 1 || prs[0].State != forge.StateClosed || len(prs[0].Comments) != 1 {
		t.Fatalf("after the merge: %+v", prs)
	}
	e.handle(ev, ResultNone)
	if n := len(readPlain(t, e)); n != 1 {
		t.Fatalf("%d proposals after the merge", n)
	}
}
