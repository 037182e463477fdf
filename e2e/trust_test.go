//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
	"github.com/ddc-gitops/ddc-gitops/lab"
)

// TestTrustVerification runs the lab with verification on (every agent has
// the lab's --trust-policy; the APIs, the bot and the lab's working clone
// sign): a commit through the API, a bot proposal merged by a person and a
// person's signed push each converge on every agent; an unsigned push that
// would point the EU fleet nodes at a closed port is refused by every agent (the
// HAProxy hosts' status names the commit and the refusal metric shows it,
// the DNS and container hosts keep their revision and say why) while a
// request loop through both zones' load balancers sees no failure; a signed
// revert of the unsigned commit converges again.
func TestTrustVerification(t *testing.T) {
	e := startLab(t, labOptions{chain: true, agentPoll: 2 * time.Second})
	if e.info.Chain == nil {
		t.Fatal("the lab has no chain info")
	}
	if _, err := os.Stat(e.info.Trust.Policy); err != nil {
		t.Fatalf("the lab's trust policy: %v", err)
	}
	eu := e.zone("eu")

	// 1. The API's commit (signed with the API's key).
	token := e.apiToken(eu.APIURL)
	body, _ := json.Marshal(map[string]any{"name": "e2e-trust-1", "address": "198.18.1.22:8080", "weight": 50})
	var added struct {
		Revision string `json:"revision"`
		Changed  bool   `json:"changed"`
	}
	start := time.Now()
	if err := e.apiDo(http.MethodPost, eu.APIURL+"/api/v1/backends/ddc_nodes_http/servers", token, body, &added); err != nil {
		t.Fatal(err)
	}
	if !added.Changed {
		t.Fatalf("POST answered %+v, want a new revision", added)
	}
	e.checkSignedBy(added.Revision, lab.KeyAPI)
	e.waitAllApplied(added.Revision, 60*time.Second)
	t.Logf("API commit %s applied everywhere after %v", short(added.Revision), time.Since(start).Round(time.Millisecond))

	// 2. The bot's proposal (signed with the bot's key), merged by a person
	// (a signed merge commit).
	var spare lab.SpareInfo
	for _, s := range e.info.Chain.Spares {
		if s.Zone == "eu" {
			spare = s
		}
	}
	if spare.Name == "" {
		t.Fatalf("no EU spare node: %+v", e.info.Chain.Spares)
	}
	branch := "bot/node/" + strings.TrimPrefix(spare.PubKey, "0x")
	start = time.Now()
	e.labNode("register", "--zone", "eu")
	e.labNode("admit", "--zone", "eu")
	e.waitFor(60*time.Second, "the bot's proposal branch "+branch, func() error { return e.hasBranch(branch) })
	if _, err := e.git("fetch", "-q", "origin", "+refs/heads/"+branch+":refs/remotes/origin/"+branch); err != nil {
		t.Fatal(err)
	}
	botRev, err := e.git("rev-parse", "origin/"+branch)
	if err != nil {
		t.Fatal(err)
	}
	e.checkSignedBy(botRev, lab.KeyBot)
	// A merge commit (as a forge's merge button makes), signed by the person,
	// over the bot's signed commit: the agents verify both.
	for _, args := range [][]string{
		{"checkout", "-q", "main"}, {"pull", "-q", "--ff-only"},
		{"merge", "-q", "--no-ff", "-m", "Merge " + branch, "origin/" + branch}, {"push", "-q", "origin", "HEAD:main"},
	} {
		if _, err := e.git(args...); err != nil {
			t.Fatal(err)
		}
	}
	merged, err := e.git("rev-parse", "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	if parents, err := e.git("rev-list", "--parents", "-n1", merged); err != nil || len(strings.Fields(parents)) != 3 || !strings.Contains(parents, botRev) {
		t.Fatalf("%s is not a merge of %s: %q %v", short(merged), short(botRev), parents, err)
	}
	e.checkSignedBy(merged, lab.KeyPerson)
	e.waitAllApplied(merged, 60*time.Second)
	e.waitFor(30*time.Second, spare.Name+" up on every EU host", func() error { return e.servesServer("eu", spare.Name) })
	t.Logf("bot proposal %s merged as %s, applied everywhere after %v", short(botRev), short(merged), time.Since(start).Round(time.Millisecond))

	// 3. A person's signed push.
	node := e.cloneFile("nodes/eu-node-1.yaml")
	start = time.Now()
	signed := e.gitPush(map[string][]byte{"nodes/eu-node-1.yaml": e.replaceOnce(node, "weight: 100", "weight: 80")}, "e2e: a person's signed change", &start)
	e.checkSignedBy(signed, lab.KeyPerson)
	e.waitAllApplied(signed, 60*time.Second)
	t.Logf("signed push %s applied everywhere after %v", short(signed), time.Since(start).Round(time.Millisecond))

	// 4. An unsigned push that would point the EU fleet nodes at a closed port.
	loads := map[string]*load{}
	for _, z := range e.info.Zones {
		if z.LBURL != "" {
			loads[z.Name] = startLoad(z.LBURL, 4, false, 5*time.Minute)
		}
	}
	stopLoads := func() {
		names := make([]string, 0, len(loads))
		for n := range loads {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			ld := loads[n]
			ok, failed := ld.stop()
			t.Logf("load through the %s load balancer: %d ok, %d failed", n, ok, failed)
			bench(t, "failed_requests", "scenario", "trust_unsigned_push_"+n, "ok", ok, "failed", failed)
			if ok == 0 {
				t.Errorf("%s: the load loop made no successful request", n)
			}
			if failed > 0 {
				t.Errorf("%s: %d requests failed while an unsigned commit was pushed and reverted; first errors: %s", n, failed, strings.Join(ld.errs, "; "))
			}
		}
		loads = nil
	}
	defer func() {
		if loads != nil {
			stopLoads()
		}
	}()
	if _, err := e.git("pull", "-q", "--ff-only"); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"eu-node-1", "eu-node-2", "eu-node-3"} {
		p := filepath.Join(e.info.CloneDir, "nodes", n+".yaml")
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, e.replaceOnce(b, "httpPort: 8080", "httpPort: 1"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.git("-c", "commit.gpgsign=false", "commit", "-q", "-a", "-m", "e2e: an unsigned change"); err != nil {
		t.Fatal(err)
	}
	unsigned, err := e.git("rev-parse", "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	if raw, err := e.git("cat-file", "commit", unsigned); err != nil || strings.Contains(raw, "gpgsig") {
		t.Fatalf("the commit meant to be unsigned: %v\n%s", err, raw)
	}
	pushed := time.Now()
	if _, err := e.git("push", "-q", "origin", "HEAD:main"); err != nil {
		t.Fatal(err)
	}
	e.syncAll("e2e: unsigned push")
	e.waitFor(60*time.Second, "every HAProxy agent refuses "+short(unsigned), func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		var bad []string
		for h, c := range e.agents {
			st, err := c.Status(ctx)
			if err != nil {
				bad = append(bad, fmt.Sprintf("%s: %v", h, err))
				continue
			}
			if st.AppliedRevision != signed {
				bad = append(bad, fmt.Sprintf("%s: applied %s, want %s still", h, short(st.AppliedRevision), short(signed)))
			}
			r := refusalOf(st)
			if r == nil || r.Commit != unsigned || r.Revision != unsigned {
				bad = append(bad, fmt.Sprintf("%s: trust %+v", h, st.Trust))
			}
		}
		if len(bad) > 0 {
			sort.Strings(bad)
			return fmt.Errorf("%s", strings.Join(bad, "; "))
		}
		return nil
	})
	t.Logf("every HAProxy agent refused %s %v after the push", short(unsigned), time.Since(pushed).Round(time.Millisecond))
	for h, c := range e.agents {
		st, err := c.Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		r := refusalOf(st)
		t.Logf("%s: refused %s by %s: %s", h, short(r.Commit), r.Author, r.Reason)
		if !strings.Contains(r.Reason, "unsigned") || r.Author == "" {
			t.Errorf("%s: refusal %+v: want the author and why (unsigned)", h, r)
		}
		e.waitFor(10*time.Second, h+" exports the refusal metric", func() error { return e.refusedMetric(c.BaseURL, unsigned) })
	}
	// The DNS and container hosts' agents refuse it too: they keep their
	// revision and their last error names the commit.
	e.waitFor(60*time.Second, "every DNS and container agent refuses "+short(unsigned), func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		var bad []string
		for h, c := range e.otherAgents() {
			st, err := c.Status(ctx)
			if err != nil {
				bad = append(bad, fmt.Sprintf("%s: %v", h, err))
				continue
			}
			if st.AppliedRevision != signed || !strings.Contains(st.LastError, short(unsigned)) {
				bad = append(bad, fmt.Sprintf("%s: applied %s, last error %q", h, short(st.AppliedRevision), st.LastError))
			}
		}
		if len(bad) > 0 {
			sort.Strings(bad)
			return fmt.Errorf("%s", strings.Join(bad, "; "))
		}
		return nil
	})
	// The EU nodes still answer through the EU load balancer.
	if h, err := health(e.client, eu.LBURL); err != nil || h.Zone != "eu" {
		t.Errorf("the EU load balancer after the refused push: %+v %v", h, err)
	}

	// 5. A signed revert converges again.
	if _, err := e.git("revert", "--no-edit", unsigned); err != nil {
		t.Fatal(err)
	}
	reverted, err := e.git("rev-parse", "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	e.checkSignedBy(reverted, lab.KeyPerson)
	start = time.Now()
	if _, err := e.git("push", "-q", "origin", "HEAD:main"); err != nil {
		t.Fatal(err)
	}
	e.waitAllApplied(reverted, 60*time.Second)
	t.Logf("signed revert %s applied everywhere after %v", short(reverted), time.Since(start).Round(time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	for h, c := range e.agents {
		st, err := c.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if r := refusalOf(st); r != nil {
			t.Errorf("%s: still refusing after the revert: %+v", h, r)
		}
	}
	stopLoads()
}

// refusalOf is the status's trust refusal, nil if none.
func refusalOf(st *agentapi.Status) *agentapi.TrustRefusal {
	if st.Trust == nil {
		return nil
	}
	return st.Trust.Refused
}

// otherAgents are the agents of the DNS and container hosts.
func (e *env) otherAgents() map[string]*agentapi.Client {
	out := map[string]*agentapi.Client{}
	for _, c := range e.info.ContainerHosts {
		out[c.Host] = &agentapi.Client{BaseURL: c.AgentURL, Token: e.info.SyncToken, HTTP: e.client}
	}
	if e.info.DNS != nil {
		for _, s := range e.info.DNS.Servers {
			out[s.Name] = &agentapi.Client{BaseURL: s.AgentURL, Token: e.info.SyncToken, HTTP: e.client}
		}
	}
	return out
}

// waitAllApplied waits until every agent (HAProxy, DNS and container
// hosts) runs rev.
func (e *env) waitAllApplied(rev string, d time.Duration) {
	e.t.Helper()
	e.waitApplied(rev, nil, d)
	e.waitFor(d, "every DNS and container agent applies "+short(rev), func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		var bad []string
		for h, c := range e.otherAgents() {
			st, err := c.Status(ctx)
			switch {
			case err != nil:
				bad = append(bad, fmt.Sprintf("%s: %v", h, err))
			case st.AppliedRevision != rev:
				bad = append(bad, fmt.Sprintf("%s: applied %s, last %s %s", h, short(st.AppliedRevision), st.LastResult, st.LastError))
			}
		}
		if len(bad) > 0 {
			sort.Strings(bad)
			return fmt.Errorf("%s", strings.Join(bad, "; "))
		}
		return nil
	})
}

// checkSignedBy fails the test unless the working clone's git verifies
// rev's signature as made by the lab key name (the clone's
// gpg.ssh.allowedSignersFile lists the lab's keys).
func (e *env) checkSignedBy(rev, name string) {
	e.t.Helper()
	if _, err := e.git("fetch", "-q", "origin"); err != nil {
		e.t.Fatal(err)
	}
	out, err := e.git("verify-commit", rev)
	if err != nil || !strings.Contains(out, `Good "git" signature for `+name+"@lab") {
		e.t.Fatalf("commit %s: want a good signature by %s: %v\n%s", short(rev), name, err, out)
	}
}

// cloneFile reads path at the head of origin/main in the working clone.
func (e *env) cloneFile(path string) []byte {
	e.t.Helper()
	if _, err := e.git("fetch", "-q", "origin"); err != nil {
		e.t.Fatal(err)
	}
	out, err := e.git("show", "origin/main:"+path)
	if err != nil {
		e.t.Fatal(err)
	}
	return []byte(out + "\n")
}

// refusedMetric reports (nil) whether the agent at url exports
// ddc_gitops_agent_trust_refused for commit, at 1.
func (e *env) refusedMetric(url, commit string) error {
	resp, err := e.client.Get(url + agentapi.PathMetrics)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "ddc_gitops_agent_trust_refused{") && strings.Contains(l, `commit="`+commit+`"`) {
			if strings.HasSuffix(l, " 1") {
				return nil
			}
			return fmt.Errorf("%s", l)
		}
	}
	return fmt.Errorf("no ddc_gitops_agent_trust_refused series for commit %s", short(commit))
}
