package trust

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/hiddeco/sshsig"
	"golang.org/x/crypto/ssh"
)

// keys are the signers of the tests.
type keys struct {
	alice, bot, api, mallory sshKey
	release                  pgpKey
	stranger                 pgpKey
}

func newKeys(t testing.TB) *keys {
	t.Helper()
	dir := t.TempDir()
	return &keys{
		alice: newSSHKey(t, dir, "alice"), bot: newSSHKey(t, dir, "ddc-bot"),
		api: newSSHKey(t, dir, "ddc-api"), mallory: newSSHKey(t, dir, "mallory"),
		release: newPGPKey(t, "release"), stranger: newPGPKey(t, "stranger"),
	}
}

// policyText is the brief's example policy with the test keys.
func (k *keys) policyText(extra string) string {
	pgp := "      " + strings.ReplaceAll(strings.TrimSpace(k.release.Pub), "\n", "\n      ")
	return fmt.Sprintf(`kind: TrustPolicy
keys:
  - name: alice
    ssh: %s
  - name: ddc-bot
    ssh: %s
  - name: ddc-api
    ssh: %s
  - name: release
    pgp: |
%s
rules:
  - name: bot-admits-nodes
    keys: [ddc-bot]
    paths: ["nodes/*.yaml"]
    changes: [add, delete]
  - name: api-writes
    keys: [ddc-api]
    paths: ["backends/*.yaml", "overrides/*.yaml", "containers/*.yaml"]
  - name: people
    keys: [alice, release]
    paths: ["**"]
%s`, k.alice.Pub, k.bot.Pub, k.api.Pub, pgp, extra)
}

func (k *keys) policy(t testing.TB, extra string) *Policy {
	t.Helper()
	p, err := Parse("trust-policy.yaml", []byte(k.policyText(extra)))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// seed makes the first commit, signed by alice.
func seed(r *repo, k *keys) string {
	return r.Change(&k.alice, map[string]string{
		"fleet.yaml": "kind: Fleet\n", "backends/web.yaml": "servers: []\n", "nodes/n1.yaml": "name: n1\n",
	})
}

// want is one expected refusal: the commit (by the scenario's label), its
// key name, rule and a fragment of its reason.
type want struct {
	commit, key, rule, reason string
}

func TestVerifyRange(t *testing.T) {
	k := newKeys(t)
	ctx := context.Background()
	cases := []struct {
		name  string
		extra string // appended to the policy
		// run builds the history; it returns the base, the head and the
		// commits by label.
		run      func(r *repo) (base, head string, c map[string]string)
		refused  []want
		reverted []string // labels of refused commits the head undoes
	}{
		{name: "ssh-signed commit by a person", run: func(r *repo) (string, string, map[string]string) {
			b := seed(r, k)
			return b, r.Change(&k.alice, map[string]string{"fleet.yaml": "kind: Fleet\n# edited\n"}), nil
		}},
		{name: "pgp-signed commit by a person", run: func(r *repo) (string, string, map[string]string) {
			b := seed(r, k)
			r.Write(map[string]string{"backends/web.yaml": "servers: [a]\n"})
			return b, r.commitPGP(k.release, "release"), nil
		}},
		{name: "bot adds and removes nodes", run: func(r *repo) (string, string, map[string]string) {
			b := seed(r, k)
			r.Change(&k.bot, map[string]string{"nodes/n2.yaml": "name: n2\n"})
			return b, r.Change(&k.bot, map[string]string{"nodes/n1.yaml": ""}), nil
		}},
		{name: "api writes backends, overrides and containers", run: func(r *repo) (string, string, map[string]string) {
			b := seed(r, k)
			return b, r.Change(&k.api, map[string]string{"backends/web.yaml": "servers: [b]\n", "overrides/o.yaml": "x: 1\n", "containers/c.yaml": "y: 2\n"}), nil
		}},
		{name: "unsigned commit", run: func(r *repo) (string, string, map[string]string) {
			b := seed(r, k)
			u := r.Change(nil, map[string]string{"fleet.yaml": "kind: Fleet\n# evil\n"})
			return b, u, map[string]string{"u": u}
		}, refused: []want{{commit: "u", reason: "unsigned"}}},
		{name: "unknown ssh key", run: func(r *repo) (string, string, map[string]string) {
			b := seed(r, k)
			u := r.Change(&k.mallory, map[string]string{"fleet.yaml": "kind: Fleet\n# evil\n"})
			return b, u, map[string]string{"u": u}
		}, refused: []want{{commit: "u", reason: "a key the policy does not know"}}},
		{name: "unknown pgp key", run: func(r *repo) (string, string, map[string]string) {
			b := seed(r, k)
			r.Write(map[string]string{"fleet.yaml": "kind: Fleet\n# evil\n"})
			u := r.commitPGP(k.stranger, "evil")
			return b, u, map[string]string{"u": u}
		}, refused: []want{{commit: "u", reason: "a key the policy does not know"}}},
		{name: "bot key outside nodes", run: func(r *repo) (string, string, map[string]string) {
			b := seed(r, k)
			u := r.Change(&k.bot, map[string]string{"nodes/n2.yaml": "name: n2\n", "backends/web.yaml": "servers: [evil]\n"})
			return b, u, map[string]string{"u": u}
		}, refused: []want{{commit: "u", key: "ddc-bot", rule: "bot-admits-nodes", reason: "not modifying backends/web.yaml"}}},
		{name: "bot key modifies a node", run: func(r *repo) (string, string, map[string]string) {
			b := seed(r, k)
			u := r.Change(&k.bot, map[string]string{"nodes/n1.yaml": "name: n1\nweight: 0\n"})
			return b, u, map[string]string{"u": u}
		}, refused: []want{{commit: "u", key: "ddc-bot", rule: "bot-admits-nodes", reason: "not modifying nodes/n1.yaml"}}},
		{name: "bot key in a subdirectory of nodes", run: func(r *repo) (string, string, map[string]string) {
			b := seed(r, k)
			u := r.Change(&k.bot, map[string]string{"nodes/x/n9.yaml": "name: n9\n"})
			return b, u, map[string]string{"u": u}
		}, refused: []want{{commit: "u", key: "ddc-bot", rule: "bot-admits-nodes", reason: "not adding nodes/x/n9.yaml"}}},
		{name: "api key outside its paths", run: func(r *repo) (string, string, map[string]string) {
			b := seed(r, k)
			u := r.Change(&k.api, map[string]string{"fleet.yaml": "kind: Fleet\n# api\n"})
			return b, u, map[string]string{"u": u}
		}, refused: []want{{commit: "u", key: "ddc-api", rule: "api-writes", reason: "not modifying fleet.yaml"}}},
		{name: "unsigned commit under signed commits", run: func(r *repo) (string, string, map[string]string) {
			b := seed(r, k)
			u := r.Change(nil, map[string]string{"backends/web.yaml": "servers: [evil]\n"})
			return b, r.Change(&k.alice, map[string]string{"fleet.yaml": "kind: Fleet\n# signed on top\n"}), map[string]string{"u": u}
		}, refused: []want{{commit: "u", reason: "unsigned"}}},
		{name: "signed merge of an unsigned commit", run: func(r *repo) (string, string, map[string]string) {
			b := seed(r, k)
			r.Git("checkout", "-q", "-b", "side")
			u := r.Change(nil, map[string]string{"backends/web.yaml": "servers: [evil]\n"})
			r.Git("checkout", "-q", "main")
			r.Change(&k.alice, map[string]string{"fleet.yaml": "kind: Fleet\n# main moves\n"})
			r.N++
			r.Git("-c", "gpg.format=ssh", "-c", "user.signingkey="+k.alice.Priv, "merge", "-q", "-S", "--no-ff", "-m", "merge side", "side")
			return b, r.Head(), map[string]string{"u": u}
		}, refused: []want{{commit: "u", reason: "unsigned"}}},
		{name: "signed merge of signed branches", run: func(r *repo) (string, string, map[string]string) {
			b := seed(r, k)
			r.Git("checkout", "-q", "-b", "side")
			r.Change(&k.bot, map[string]string{"nodes/n3.yaml": "name: n3\n"})
			r.Git("checkout", "-q", "main")
			r.Change(&k.api, map[string]string{"backends/web.yaml": "servers: [c]\n"})
			r.N++
			r.Git("-c", "gpg.format=ssh", "-c", "user.signingkey="+k.bot.Priv, "merge", "-q", "-S", "--no-ff", "-m", "merge proposal", "side")
			return b, r.Head(), nil
		}},
		{name: "bot merge that brings in changes outside nodes", run: func(r *repo) (string, string, map[string]string) {
			b := seed(r, k)
			r.Git("checkout", "-q", "-b", "side")
			r.Change(&k.alice, map[string]string{"fleet.yaml": "kind: Fleet\n# alice\n"})
			r.Git("checkout", "-q", "main")
			r.Change(&k.api, map[string]string{"backends/web.yaml": "servers: [c]\n"})
			r.N++
			r.Git("-c", "gpg.format=ssh", "-c", "user.signingkey="+k.bot.Priv, "merge", "-q", "-S", "--no-ff", "-m", "merge", "side")
			return b, r.Head(), map[string]string{"m": r.Head()}
		}, refused: []want{{commit: "m", key: "ddc-bot", rule: "bot-admits-nodes", reason: "not modifying fleet.yaml"}}},
		{name: "unsigned merge of signed branches", run: func(r *repo) (string, string, map[string]string) {
			b := seed(r, k)
			r.Git("checkout", "-q", "-b", "side")
			r.Change(&k.alice, map[string]string{"fleet.yaml": "kind: Fleet\n# alice\n"})
			r.Git("checkout", "-q", "main")
			r.Change(&k.api, map[string]string{"backends/web.yaml": "servers: [c]\n"})
			r.N++
			r.Git("merge", "-q", "--no-ff", "--no-gpg-sign", "-m", "merge", "side")
			return b, r.Head(), map[string]string{"m": r.Head()}
		}, refused: []want{{commit: "m", reason: "unsigned"}}},
		{name: "rewritten history", run: func(r *repo) (string, string, map[string]string) {
			seed(r, k)
			old := r.Change(&k.alice, map[string]string{"fleet.yaml": "kind: Fleet\n# applied\n"})
			r.Git("reset", "-q", "--hard", "HEAD~1")
			h := r.Change(&k.alice, map[string]string{"fleet.yaml": "kind: Fleet\n# rewritten\n"})
			return old, h, map[string]string{"h": h}
		}, refused: []want{{commit: "h", rule: RuleAllowRewrite, reason: "not an ancestor"}}},
		{name: "rewritten history, allowed", extra: "allowRewrite: true\n", run: func(r *repo) (string, string, map[string]string) {
			seed(r, k)
			old := r.Change(&k.alice, map[string]string{"fleet.yaml": "kind: Fleet\n# applied\n"})
			r.Git("reset", "-q", "--hard", "HEAD~1")
			return old, r.Change(&k.alice, map[string]string{"fleet.yaml": "kind: Fleet\n# rewritten\n"}), nil
		}},
		{name: "rewritten history, allowed, new commits still verified", extra: "allowRewrite: true\n", run: func(r *repo) (string, string, map[string]string) {
			seed(r, k)
			old := r.Change(&k.alice, map[string]string{"fleet.yaml": "kind: Fleet\n# applied\n"})
			r.Git("reset", "-q", "--hard", "HEAD~1")
			u := r.Change(nil, map[string]string{"fleet.yaml": "kind: Fleet\n# rewritten\n"})
			return old, u, map[string]string{"u": u}
		}, refused: []want{{commit: "u", reason: "unsigned"}}},
		{name: "rollback to an older signed revision", run: func(r *repo) (string, string, map[string]string) {
			b := seed(r, k)
			old := r.Change(&k.alice, map[string]string{"fleet.yaml": "kind: Fleet\n# applied\n"})
			return old, b, map[string]string{"b": b}
		}, refused: []want{{commit: "b", rule: RuleAllowRewrite, reason: "not an ancestor"}}},
		{name: "unsigned commit reverted by a signed commit", run: func(r *repo) (string, string, map[string]string) {
			b := seed(r, k)
			u := r.Change(nil, map[string]string{"backends/web.yaml": "servers: [evil]\n", "backends/new.yaml": "x: 1\n"})
			r.N++
			r.Git("-c", "gpg.format=ssh", "-c", "user.signingkey="+k.alice.Priv, "revert", "--no-edit", "-S", "HEAD")
			return b, r.Head(), map[string]string{"u": u}
		}, reverted: []string{"u"}},
		{name: "unsigned commit partly reverted", run: func(r *repo) (string, string, map[string]string) {
			b := seed(r, k)
			u := r.Change(nil, map[string]string{"backends/web.yaml": "servers: [evil]\n", "backends/new.yaml": "x: 1\n"})
			return b, r.Change(&k.alice, map[string]string{"backends/new.yaml": ""}), map[string]string{"u": u}
		}, refused: []want{{commit: "u", reason: "unsigned"}}},
		{name: "first sync verifies the head", run: func(r *repo) (string, string, map[string]string) {
			seed(r, k)
			r.Change(nil, map[string]string{"fleet.yaml": "kind: Fleet\n# before trust\n"})
			return "", r.Change(&k.api, map[string]string{"backends/web.yaml": "servers: [d]\n"}), nil
		}},
		{name: "first sync refuses an unsigned head", run: func(r *repo) (string, string, map[string]string) {
			seed(r, k)
			u := r.Change(nil, map[string]string{"fleet.yaml": "kind: Fleet\n# evil\n"})
			return "", u, map[string]string{"u": u}
		}, refused: []want{{commit: "u", reason: "unsigned"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRepo(t)
			base, head, labels := tc.run(r)
			v := NewVerifier(k.policy(t, tc.extra))
			res, err := v.VerifyRange(ctx, r.open().Storer, base, head)
			if err != nil {
				t.Fatal(err)
			}
			checkRefusals(t, res.Refusals, tc.refused, labels, k)
			var rev []string
			for _, f := range res.Reverted {
				rev = append(rev, f.Commit)
			}
			var wantRev []string
			for _, l := range tc.reverted {
				wantRev = append(wantRev, labels[l])
			}
			if fmt.Sprint(rev) != fmt.Sprint(wantRev) {
				t.Errorf("reverted %v, want %v", rev, wantRev)
			}
			if (res.Err() != nil) != (len(tc.refused) > 0) {
				t.Errorf("Err() = %v", res.Err())
			}
			// A second call answers the same from the cache.
			again, err := v.VerifyRange(ctx, r.open().Storer, base, head)
			if err != nil || fmt.Sprint(again.Refusals) != fmt.Sprint(res.Refusals) {
				t.Errorf("second verification: %v, %v; first %v", err, again.Refusals, res.Refusals)
			}
		})
	}
}

func checkRefusals(t *testing.T, got []Refusal, want []want, labels map[string]string, k *keys) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d refusals, want %d: %v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Commit != labels[w.commit] {
			t.Errorf("refusal %d names commit %s, want %s (%s)", i, g.Commit, labels[w.commit], w.commit)
		}
		if g.KeyName != w.key || g.Rule != w.rule || !strings.Contains(g.Reason, w.reason) {
			t.Errorf("refusal %d = key %q rule %q reason %q; want key %q rule %q reason containing %q", i, g.KeyName, g.Rule, g.Reason, w.key, w.rule, w.reason)
		}
		if g.Author == "" {
			t.Errorf("refusal %d names no author", i)
		}
		if w.key != "" {
			pk, _, _, _, _ := ssh.ParseAuthorizedKey([]byte(map[string]string{"ddc-bot": k.bot.Pub, "ddc-api": k.api.Pub, "alice": k.alice.Pub}[w.key]))
			if g.Key != ssh.FingerprintSHA256(pk) {
				t.Errorf("refusal %d names key %s, want %s", i, g.Key, ssh.FingerprintSHA256(pk))
			}
		}
		if !strings.Contains(g.String(), short(g.Commit)) {
			t.Errorf("refusal %d reads %q", i, g.String())
		}
	}
}

// TestTamperedCommits: signatures that do not match what they sign.
func TestTamperedCommits(t *testing.T) {
	k := newKeys(t)
	r := newRepo(t)
	base := seed(r, k)
	signed := r.Change(&k.alice, map[string]string{"fleet.yaml": "kind: Fleet\n# signed\n"})
	g := r.open()
	c, err := g.CommitObject(plumbing.NewHash(signed))
	if err != nil {
		t.Fatal(err)
	}
	store := func(c *object.Commit) string {
		obj := g.Storer.NewEncodedObject()
		if err := c.Encode(obj); err != nil {
			t.Fatal(err)
		}
		h, err := g.Storer.SetEncodedObject(obj)
		if err != nil {
			t.Fatal(err)
		}
		return h.String()
	}
	// The message changed after signing.
	forged := *c
	forged.Message = "something else\n"
	msgForged := store(&forged)
	// Two signature blocks.
	double := *c
	double.PGPSignature = c.PGPSignature + c.PGPSignature
	twoSigs := store(&double)
	// A PGP signature over a different payload.
	pgpCommit := *c
	pgpCommit.PGPSignature = ""
	pgpCommit.Message = "pgp\n"
	pgpCommit.PGPSignature = pgpSign(t, &pgpCommit, k.release)
	pgpCommit.Message = "pgp changed\n"
	pgpForged := store(&pgpCommit)

	v := NewVerifier(k.policy(t, ""))
	for name, tc := range map[string]struct{ head, reason string }{
		"ssh message changed": {msgForged, "bad SSH signature"},
		"two signatures":      {twoSigs, "2 signature blocks"},
		"pgp message changed": {pgpForged, "bad OpenPGP signature"},
	} {
		t.Run(name, func(t *testing.T) {
			res, err := v.VerifyRange(context.Background(), g.Storer, base, tc.head)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Refusals) != 1 || !strings.Contains(res.Refusals[0].Reason, tc.reason) || res.Refusals[0].Commit != tc.head {
				t.Fatalf("refusals %v, want one of %s for %s", res.Refusals, tc.reason, tc.head)
			}
		})
	}
}

// pgpSign returns an armored detached signature of c by k.
func pgpSign(t testing.TB, c *object.Commit, k pgpKey) string {
	t.Helper()
	var payload plumbing.MemoryObject
	if err := c.EncodeWithoutSignature(&payload); err != nil {
		t.Fatal(err)
	}
	rd, err := payload.Reader()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := openpgp.ArmoredDetachSign(&b, k.Entity, rd, nil); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestSSHNamespace: an SSH signature made for another purpose (namespace)
// than git commits is refused even by a trusted key.
func TestSSHNamespace(t *testing.T) {
	k := newKeys(t)
	r := newRepo(t)
	base := seed(r, k)
	g := r.open()
	c, err := g.CommitObject(plumbing.NewHash(base))
	if err != nil {
		t.Fatal(err)
	}
	child := *c
	child.ParentHashes = []plumbing.Hash{c.Hash}
	child.PGPSignature = ""
	child.Message = "signed for files\n"
	var payload plumbing.MemoryObject
	if err := child.EncodeWithoutSignature(&payload); err != nil {
		t.Fatal(err)
	}
	rd, _ := payload.Reader()
	pem, err := os.ReadFile(k.alice.Priv)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		t.Fatal(err)
	}
	for ns, want := range map[string]string{"file": `namespace "file"`, "git": ""} {
		rd, _ = payload.Reader()
		sig, err := sshsig.Sign(rd, signer, sshsig.HashSHA512, ns)
		if err != nil {
			t.Fatal(err)
		}
		child.PGPSignature = string(sshsig.Armor(sig))
		obj := g.Storer.NewEncodedObject()
		if err := child.Encode(obj); err != nil {
			t.Fatal(err)
		}
		h, err := g.Storer.SetEncodedObject(obj)
		if err != nil {
			t.Fatal(err)
		}
		res, err := NewVerifier(k.policy(t, "")).VerifyRange(context.Background(), g.Storer, base, h.String())
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case want == "" && res.Refused():
			t.Errorf("namespace %s: refused: %v", ns, res.Err())
		case want != "" && (!res.Refused() || !strings.Contains(res.Refusals[0].Reason, want)):
			t.Errorf("namespace %s: %v, want a refusal naming %s", ns, res.Refusals, want)
		}
	}
}

// TestSince: a host with no applied revision verifies every commit after
// the policy's since commit, and refuses a head that does not descend from it.
func TestSince(t *testing.T) {
	k := newKeys(t)
	r := newRepo(t)
	r.Change(nil, map[string]string{"old.yaml": "before trust\n"})
	since := seed(r, k)
	u := r.Change(nil, map[string]string{"backends/web.yaml": "servers: [evil]\n"})
	head := r.Change(&k.alice, map[string]string{"fleet.yaml": "kind: Fleet\n# on top\n"})
	v := NewVerifier(k.policy(t, "since: "+since+"\n"))
	res, err := v.VerifyRange(context.Background(), r.open().Storer, "", head)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Refusals) != 1 || res.Refusals[0].Commit != u || res.Base != since {
		t.Fatalf("refusals %v (base %s), want the unsigned %s", res.Refusals, res.Base, u)
	}
	// Without since only the head is verified.
	res, err = NewVerifier(k.policy(t, "")).VerifyRange(context.Background(), r.open().Storer, "", head)
	if err != nil || res.Refused() || res.Verified != 1 {
		t.Fatalf("head only: %v %v verified %d", err, res.Refusals, res.Verified)
	}
	// A head beside since.
	r.Git("checkout", "-q", "--orphan", "other")
	other := r.Change(&k.alice, map[string]string{"x": "y"})
	res, err = v.VerifyRange(context.Background(), r.open().Storer, "", other)
	if err != nil || len(res.Refusals) != 1 || !strings.Contains(res.Refusals[0].Reason, "since commit") {
		t.Fatalf("orphan head: %v %v", err, res.Refusals)
	}
}

// TestMalformedTree: a signed commit whose tree git would not write (two
// entries of one name, which could show a modification as a delete and an
// add) is refused, and is never taken as undone by a later commit.
func TestMalformedTree(t *testing.T) {
	k := newKeys(t)
	r := newRepo(t)
	base := seed(r, k)
	g := r.open()
	blob := func(s string) plumbing.Hash {
		o := g.Storer.NewEncodedObject()
		o.SetType(plumbing.BlobObject)
		w, _ := o.Writer()
		w.Write([]byte(s))
		w.Close()
		h, err := g.Storer.SetEncodedObject(o)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	a, b := blob("name: n1\n"), blob("name: n1\nweight: 0\n")
	raw := "100644 n1.yaml\x00" + string(a[:]) + "100644 n1.yaml\x00" + string(b[:])
	o := g.Storer.NewEncodedObject()
	o.SetType(plumbing.TreeObject)
	w, _ := o.Writer()
	w.Write([]byte(raw))
	w.Close()
	nodes, err := g.Storer.SetEncodedObject(o)
	if err != nil {
		t.Fatal(err)
	}
	bc, _ := g.CommitObject(plumbing.NewHash(base))
	root, _ := bc.Tree()
	var entries []object.TreeEntry
	for _, e := range root.Entries {
		if e.Name == "nodes" {
			e.Hash = nodes
		}
		entries = append(entries, e)
	}
	rt := &object.Tree{Entries: entries}
	ro := g.Storer.NewEncodedObject()
	if err := rt.Encode(ro); err != nil {
		t.Fatal(err)
	}
	rootHash, err := g.Storer.SetEncodedObject(ro)
	if err != nil {
		t.Fatal(err)
	}
	st := g.Storer
	when := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	c := &object.Commit{Author: object.Signature{Name: "B", Email: "b@x", When: when}, Committer: object.Signature{Name: "B", Email: "b@x", When: when},
		TreeHash: rootHash, ParentHashes: []plumbing.Hash{bc.Hash}, Message: "dup\n"}
	c.PGPSignature = sshSign(t, c, k.bot)
	co := st.NewEncodedObject()
	if err := c.Encode(co); err != nil {
		t.Fatal(err)
	}
	head, err := st.SetEncodedObject(co)
	if err != nil {
		t.Fatal(err)
	}
	res, err := NewVerifier(k.policy(t, "")).VerifyRange(context.Background(), st, base, head.String())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Refusals) != 1 || !strings.Contains(res.Refusals[0].Reason, "malformed") {
		t.Fatalf("refusals %v", res.Refusals)
	}
}

// sshSign returns git's SSH signature of c by k.
func sshSign(t testing.TB, c *object.Commit, k sshKey) string {
	t.Helper()
	var payload plumbing.MemoryObject
	if err := c.EncodeWithoutSignature(&payload); err != nil {
		t.Fatal(err)
	}
	rd, _ := payload.Reader()
	sig, err := sshsig.Sign(rd, k.Signer, sshsig.HashSHA512, "git")
	if err != nil {
		t.Fatal(err)
	}
	return string(sshsig.Armor(sig))
}
