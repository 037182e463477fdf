package trust

import (
	"strings"
	"testing"
)

func TestParsePolicy(t *testing.T) {
	k := newKeys(t)
	p := k.policy(t, "allowRewrite: true\nsince: 0123456789abcdef0123456789abcdef01234567\n")
	if len(p.Keys) != 4 || len(p.Rules) != 3 || !p.AllowRewrite || p.Since == "" {
		t.Fatalf("policy %+v", p)
	}
	if got := p.Rules[1].Changes; strings.Join(got, ",") != "add,modify,delete" {
		t.Errorf("default changes %v", got)
	}
	if fp := p.Key("release").Fingerprints; len(fp) != 1 || len(fp[0]) != 40 {
		t.Errorf("release fingerprints %v", fp)
	}
	if fp := p.Key("alice").Fingerprints; len(fp) != 1 || !strings.HasPrefix(fp[0], "SHA256:") {
		t.Errorf("alice fingerprints %v", fp)
	}
}

func TestParsePolicyErrors(t *testing.T) {
	k := newKeys(t)
	good := "  - name: alice\n    ssh: " + k.alice.Pub + "\n"
	rule := "rules:\n  - name: people\n    keys: [alice]\n    paths: [\"**\"]\n"
	cases := []struct{ name, text, want string }{
		{"not yaml", "kind: [", "p.yaml: parsing YAML"},
		{"two documents", "kind: TrustPolicy\n---\nkind: TrustPolicy\n", "p.yaml:3:1: more than one YAML document"},
		{"wrong kind", "kind: Fleet\nkeys:\n" + good + rule, "p.yaml:1:7: kind: want \"TrustPolicy\""},
		{"unknown field", "kind: TrustPolicy\nkeys:\n" + good + rule + "allowRewrites: true\n", "p.yaml:9:1: allowRewrites: unknown field"},
		{"duplicate field", "kind: TrustPolicy\nkind: TrustPolicy\nkeys:\n" + good + rule, "p.yaml:2:1: kind: duplicate field (first set on line 1)"},
		{"unknown key field", "kind: TrustPolicy\nkeys:\n" + good + "    gpg: x\n" + rule, "p.yaml:5:5: keys[0].gpg: unknown field"},
		{"no keys", "kind: TrustPolicy\n" + rule, "keys: no keys"},
		{"no rules", "kind: TrustPolicy\nkeys:\n" + good, "rules: no rules"},
		{"bad ssh key", "kind: TrustPolicy\nkeys:\n  - name: alice\n    ssh: ssh-ed25519 AAAAnope\n" + rule, "p.yaml:4:10: keys[0].ssh: not an SSH public key"},
		{"bad pgp key", "kind: TrustPolicy\nkeys:\n  - name: alice\n    pgp: nope\n" + rule, "keys[0].pgp: not an armored OpenPGP public key"},
		{"both ssh and pgp", "kind: TrustPolicy\nkeys:\n" + good + "    pgp: x\n" + rule, "keys[0]: give exactly one of ssh and pgp"},
		{"duplicate key name", "kind: TrustPolicy\nkeys:\n" + good + "  - name: alice\n    ssh: " + k.bot.Pub + "\n" + rule, "keys[1].name: duplicate key name"},
		{"same key twice", "kind: TrustPolicy\nkeys:\n" + good + "  - name: bob\n    ssh: " + k.alice.Pub + "\n" + rule, "keys[1].ssh: the same key as \"alice\""},
		{"rule names unknown key", "kind: TrustPolicy\nkeys:\n" + good + "rules:\n  - name: r\n    keys: [bob]\n    paths: [\"**\"]\n", "rules[0].keys[0]: no key named \"bob\""},
		{"bad path", "kind: TrustPolicy\nkeys:\n" + good + "rules:\n  - name: r\n    keys: [alice]\n    paths: [\"/etc/*\"]\n", "rules[0].paths[0]: \"/etc/*\": want a relative"},
		{"bad glob", "kind: TrustPolicy\nkeys:\n" + good + "rules:\n  - name: r\n    keys: [alice]\n    paths: [\"a/[\"]\n", "rules[0].paths[0]"},
		{"partial double star", "kind: TrustPolicy\nkeys:\n" + good + "rules:\n  - name: r\n    keys: [alice]\n    paths: [\"a/x**\"]\n", "'**' must be a whole segment"},
		{"bad change", "kind: TrustPolicy\nkeys:\n" + good + "rules:\n  - name: r\n    keys: [alice]\n    paths: [\"**\"]\n    changes: [rename]\n", "rules[0].changes[0]: \"rename\""},
		{"empty changes", "kind: TrustPolicy\nkeys:\n" + good + "rules:\n  - name: r\n    keys: [alice]\n    paths: [\"**\"]\n    changes: []\n", "rules[0].changes: empty"},
		{"no paths", "kind: TrustPolicy\nkeys:\n" + good + "rules:\n  - name: r\n    keys: [alice]\n", "rules[0].paths: no paths"},
		{"allowRewrite not bool", "kind: TrustPolicy\nkeys:\n" + good + rule + "allowRewrite: yes please\n", "allowRewrite: want true or false"},
		{"short since", "kind: TrustPolicy\nkeys:\n" + good + rule + "since: abc123\n", "since: \"abc123\": want a full 40-digit"},
		{"private pgp key", "kind: TrustPolicy\nkeys:\n  - name: alice\n    pgp: |\n      " + strings.ReplaceAll(strings.TrimSpace(privateArmor(t, k.release)), "\n", "\n      ") + "\n" + rule, "holds a private key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("p.yaml", []byte(tc.text))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	// Every problem is reported, not only the first.
	_, err := Parse("p.yaml", []byte("kind: TrustPolicy\nkeys:\n  - name: a b\n    ssh: x\nrules:\n  - name: r\n    keys: [c]\n    paths: [\"/\"]\n"))
	if es, ok := err.(Errors); !ok || len(es) < 4 {
		t.Fatalf("errors %v, want at least 4", err)
	}
}

func TestMatchPath(t *testing.T) {
	cases := []struct {
		pattern, path string
		want          bool
	}{
		{"nodes/*.yaml", "nodes/a.yaml", true},
		{"nodes/*.yaml", "nodes/a.yml", false},
		{"nodes/*.yaml", "nodes/x/a.yaml", false},
		{"nodes/*.yaml", "nodes.yaml", false},
		{"**", "a", true},
		{"**", "a/b/c.yaml", true},
		{"backends/**", "backends/a.yaml", true},
		{"backends/**", "backends/x/y/a.yaml", true},
		{"backends/**", "backendsx/a.yaml", false},
		{"**/secret.age", "secret.age", true},
		{"**/secret.age", "a/b/secret.age", true},
		{"a/**/b", "a/b", true},
		{"a/**/b", "a/x/y/b", true},
		{"a/**/b", "a/x/y/c", false},
		{"fleet.yaml", "fleet.yaml", true},
		{"fleet.yaml", "x/fleet.yaml", false},
		{"n?.yaml", "n1.yaml", true},
		{"[ab].yaml", "c.yaml", false},
	}
	for _, tc := range cases {
		if err := checkPattern(tc.pattern); err != nil {
			t.Errorf("%s: %v", tc.pattern, err)
		}
		if got := matchPath(tc.pattern, tc.path); got != tc.want {
			t.Errorf("matchPath(%q, %q) = %v", tc.pattern, tc.path, got)
		}
	}
}
