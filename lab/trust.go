package lab

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"text/template"

	"golang.org/x/crypto/ssh"

	"github.com/ddc-gitops/ddc-gitops/gittree"
	"github.com/ddc-gitops/ddc-gitops/trust"
)

// The lab runs with commit verification on (docs/trust.md): it makes an
// SSH signing key for the APIs, one for the bot and one for a person (the
// lab's own commits and the working clone's), writes a trust policy that
// trusts them, passes it to every agent (--trust-policy) and the keys to
// the writers (--signing-key, repo.Options.Signer, gitserver.Options.Signer).

// Names of the lab's signing keys, as the policy names them.
const (
	KeyAPI    = "lab-api"
	KeyBot    = "lab-bot"
	KeyPerson = "lab-person"
)

// TrustInfo is the lab's trust setup: files under STATE-DIR/trust.
type TrustInfo struct {
	// Policy is the trust policy every agent of the lab runs with.
	Policy string
	// AllowedSigners is git's gpg.ssh.allowedSignersFile for the same keys
	// (`git log --show-signature`, `git verify-commit` in the clone).
	AllowedSigners string
	// Keys maps KeyAPI, KeyBot and KeyPerson to their private key files
	// (mode 0600; the public key is FILE.pub).
	Keys map[string]string
}

// labKey is one generated key.
type labKey struct {
	file, pub string
	signer    ssh.Signer
}

// labTrust is what setupTrust made.
type labTrust struct {
	info TrustInfo
	keys map[string]labKey
}

// policyTemplate is the lab's trust policy. Every rule is what the writer
// does, no more: see docs/trust.md ("The lab") for why each path is there.
var policyTemplate = template.Must(template.New("policy").Parse(`# The lab's trust policy, written by ddc-gitops lab up: every agent of the
# lab runs with --trust-policy {{.File}}.
# The keys are {{.Dir}}/*.pub (made for this lab run).
kind: TrustPolicy
keys:
  - name: ` + KeyPerson + `     # the lab's commits (seed, lab/e2e helpers) and the working clone
    ssh: {{index .Keys "` + KeyPerson + `"}}
  - name: ` + KeyAPI + `        # both zones' APIs
    ssh: {{index .Keys "` + KeyAPI + `"}}
  - name: ` + KeyBot + `        # the node-admission bot
    ssh: {{index .Keys "` + KeyBot + `"}}
rules:
  # The bot proposes a node's admission (add), a changed registry record
  # (update: modify) and a removal (delete), one node file per commit.
  - name: bot-node-files
    keys: [` + KeyBot + `]
    paths: ["nodes/*.yaml"]
    changes: [add, modify, delete]
  # The API's endpoints: servers and the config endpoint edit backends
  # files, a zone reload bumps zones/ZONE/zone.yaml, removing a DDC node's
  # server deletes its node file, overrides and containers are files of
  # their own.
  - name: api-backends-zones
    keys: [` + KeyAPI + `]
    paths: ["backends/*.yaml", "zones/*/zone.yaml"]
    changes: [modify]
  - name: api-node-removal
    keys: [` + KeyAPI + `]
    paths: ["nodes/*.yaml"]
    changes: [delete]
  - name: api-overrides-containers
    keys: [` + KeyAPI + `]
    paths: ["overrides/*.yaml", "containers/*.yaml"]
  # The API's proposed reverts (branch revert/SHA of a quarantined
  # revision) are judged by these rules too: a revert of a backend's
  # settings is accepted; a revert of anything else (fleet.yaml,
  # frontends, ...) is refused once merged, and a person re-signs it
  # (git cherry-pick -S, git revert -S): the API's key never gets "**".
  - name: people
    keys: [` + KeyPerson + `]
    paths: ["**"]
allowRewrite: false
`))

// setupTrust makes the keys and the policy under STATE-DIR/trust.
func (l *lab) setupTrust() error {
	dir := filepath.Join(l.o.StateDir, "trust")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	t := &labTrust{info: TrustInfo{Policy: filepath.Join(dir, "trust-policy.yaml"), AllowedSigners: filepath.Join(dir, "allowed_signers"),
		Keys: map[string]string{}}, keys: map[string]labKey{}}
	pubs := map[string]string{}
	var allowed bytes.Buffer
	for _, name := range []string{KeyPerson, KeyAPI, KeyBot} {
		priv, pub, signer, err := gittree.NewSigningKey(name + "@lab")
		if err != nil {
			return fmt.Errorf("lab: the %s key: %w", name, err)
		}
		file := filepath.Join(dir, name)
		if err := os.WriteFile(file, priv, 0o600); err != nil {
			return fmt.Errorf("lab: writing the %s key: %w", name, err)
		}
		if err := os.WriteFile(file+".pub", []byte(pub+"\n"), 0o644); err != nil {
			return fmt.Errorf("lab: writing the %s key: %w", name, err)
		}
		t.keys[name] = labKey{file: file, pub: pub, signer: signer}
		t.info.Keys[name] = file
		pubs[name] = pub
		fmt.Fprintf(&allowed, "%s@lab namespaces=\"git\" %s\n", name, pub)
	}
	var b bytes.Buffer
	if err := policyTemplate.Execute(&b, map[string]any{"File": t.info.Policy, "Dir": dir, "Keys": pubs}); err != nil {
		return fmt.Errorf("lab: the trust policy: %w", err)
	}
	// What the agents will load: refuse to start with a policy they refuse.
	if _, err := trust.Parse(t.info.Policy, b.Bytes()); err != nil {
		return fmt.Errorf("lab: the generated trust policy: %w", err)
	}
	if err := os.WriteFile(t.info.Policy, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("lab: writing the trust policy: %w", err)
	}
	if err := os.WriteFile(t.info.AllowedSigners, allowed.Bytes(), 0o644); err != nil {
		return fmt.Errorf("lab: writing the allowed signers: %w", err)
	}
	l.trust = t
	l.progress("verification on: keys %s (%s), %s (%s), %s (%s); every agent runs with --trust-policy %s",
		KeyPerson, ssh.FingerprintSHA256(t.signer(KeyPerson).PublicKey()), KeyAPI, ssh.FingerprintSHA256(t.signer(KeyAPI).PublicKey()),
		KeyBot, ssh.FingerprintSHA256(t.signer(KeyBot).PublicKey()), t.info.Policy)
	return nil
}

// signer is the signer of the lab key name.
func (t *labTrust) signer(name string) ssh.Signer { return t.keys[name].signer }

// configureClone makes the working clone sign every commit (and merge,
// revert, tag) with the person's key, and show signatures against the
// lab's allowed signers, as a person's clone would be set up.
func (t *labTrust) configureClone(ctx context.Context, dir string) error {
	for _, kv := range [][2]string{
		{"gpg.format", "ssh"},
		{"user.signingkey", t.keys[KeyPerson].file},
		{"commit.gpgsign", "true"},
		{"gpg.ssh.allowedSignersFile", t.info.AllowedSigners},
	} {
		if out, err := exec.CommandContext(ctx, "git", "-C", dir, "config", kv[0], kv[1]).CombinedOutput(); err != nil {
			return fmt.Errorf("lab: setting %s in the clone: %w: %s", kv[0], err, bytes.TrimSpace(out))
		}
	}
	return nil
}

// agentArgs are the flags every agent of the lab gets.
func (t *labTrust) agentArgs() []string { return []string{"--trust-policy", t.info.Policy} }
