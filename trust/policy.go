// Package trust decides whether the commits of a fleet repository may be
// applied: each commit between the revision a host runs and the new branch
// head must carry a valid signature (SSH, git's gpg.format=ssh, or OpenPGP)
// by a key of the trust policy, and its changes must be allowed to that key
// by one rule of the policy (docs/trust.md).
//
//	p, err := trust.Load("/etc/ddc-gitops/trust-policy.yaml")
//	v := trust.NewVerifier(p)
//	res, err := v.VerifyRange(ctx, repo.Storer, applied, head)
//	if res.Refused() { ... res.Refusals name commit, author, key, rule }
package trust

import (
	"bytes"
	"cmp"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"golang.org/x/crypto/ssh"
	"gopkg.in/yaml.v3"
)

// Kind is the value of a policy file's kind field.
const Kind = "TrustPolicy"

// Change kinds a rule may allow.
const (
	Add    = "add"
	Modify = "modify"
	Delete = "delete"
)

// AllChanges is a rule's default changes.
var AllChanges = []string{Add, Modify, Delete}

// Policy is a loaded, validated trust policy.
type Policy struct {
	// File is where the policy was read from (for messages).
	File  string
	Keys  []*Key
	Rules []*Rule
	// AllowRewrite accepts a branch whose history no longer contains the
	// applied revision (a force push); its new commits are still verified.
	AllowRewrite bool
	// Since, when set, is the commit a host without an applied revision
	// verifies the history from (every commit after it); without it, such a
	// host verifies the head commit only and trusts the history below it.
	Since string

	bySSH map[string]*Key // SSH fingerprint (SHA256:...) -> key
	byPGP map[string]*Key // OpenPGP primary key fingerprint (hex) -> key
	ring  openpgp.EntityList
}

// Key is a trusted signing key.
type Key struct {
	Name string
	// SSH is the public key as an authorized_keys line, PGP an armored
	// OpenPGP public key (block); exactly one is set.
	SSH, PGP string
	// Fingerprints are the key's fingerprints as refusals and logs show
	// them: SHA256:... for SSH, the primary key's hex fingerprint for
	// OpenPGP (one per entity of the block).
	Fingerprints []string
	pos          positions
	sshKey       ssh.PublicKey
}

// positions are the nodes of a list item's fields ("" is the item).
type positions map[string]*yaml.Node

func (p positions) at(field string) *yaml.Node {
	if n := p[field]; n != nil {
		return n
	}
	return p[""]
}

// Rule allows the commits signed by one of Keys that change only Paths,
// and only in the ways Changes lists.
type Rule struct {
	Name    string
	Keys    []string
	Paths   []string
	Changes []string
	pos     positions
}

// Error is one problem of a policy file.
type Error struct {
	File      string
	Line, Col int
	Field     string
	Msg       string
}

func (e Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, e.Col)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in a policy file, in file order.
type Errors []Error

func (es Errors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Load reads and validates the policy file at path.
func Load(path string) (*Policy, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading trust policy: %w", err)
	}
	return Parse(path, b)
}

var (
	reName   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)
	reCommit = regexp.MustCompile(`^[0-9a-f]{40}$`)
)

// Parse decodes a policy strictly (unknown or duplicate fields are errors),
// fills defaults and validates it, reporting every problem as
// file:line:col: field: message.
func Parse(file string, data []byte) (*Policy, error) {
	d := &decoder{file: file}
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		return nil, Errors{{File: file, Msg: "parsing YAML: " + err.Error()}}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		at := &extra
		if len(extra.Content) > 0 {
			at = extra.Content[0]
		}
		return nil, Errors{{File: file, Line: at.Line, Col: at.Column, Msg: "more than one YAML document"}}
	}
	p := &Policy{File: file, bySSH: map[string]*Key{}, byPGP: map[string]*Key{}}
	doc := &root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		doc = doc.Content[0]
	}
	kind := ""
	d.mapping(doc, "", map[string]func(*yaml.Node){
		"kind": func(n *yaml.Node) { kind = d.str(n, "kind") },
		"keys": func(n *yaml.Node) {
			d.seq(n, "keys", func(i int, n *yaml.Node) { p.Keys = append(p.Keys, d.key(n, fmt.Sprintf("keys[%d]", i))) })
		},
		"rules": func(n *yaml.Node) {
			d.seq(n, "rules", func(i int, n *yaml.Node) { p.Rules = append(p.Rules, d.rule(n, fmt.Sprintf("rules[%d]", i))) })
		},
		"allowRewrite": func(n *yaml.Node) { p.AllowRewrite = d.boolean(n, "allowRewrite") },
		"since":        func(n *yaml.Node) { p.Since = d.str(n, "since") },
	})
	if len(d.errs) == 0 {
		p.validate(d, doc, kind)
	}
	if len(d.errs) > 0 {
		slices.SortStableFunc(d.errs, func(a, b Error) int { return cmp.Or(a.Line-b.Line, a.Col-b.Col) })
		return nil, d.errs
	}
	return p, nil
}

func (p *Policy) validate(d *decoder, doc *yaml.Node, kind string) {
	if kind != Kind {
		d.errorf(d.pos(doc, "kind"), "kind", "want %q, got %q", Kind, kind)
	}
	if len(p.Keys) == 0 {
		d.errorf(doc, "keys", "no keys: a policy trusts at least one key")
	}
	if len(p.Rules) == 0 {
		d.errorf(doc, "rules", "no rules: a policy allows something to at least one key")
	}
	names := map[string]bool{}
	for i, k := range p.Keys {
		f := fmt.Sprintf("keys[%d]", i)
		at := k.pos.at
		switch {
		case !reName.MatchString(k.Name):
			d.errorf(at("name"), f+".name", "%q: want 1-64 letters, digits, '.', '_', '@' or '-'", k.Name)
		case names[k.Name]:
			d.errorf(at("name"), f+".name", "duplicate key name %q", k.Name)
		}
		names[k.Name] = true
		switch {
		case (k.SSH == "") == (k.PGP == ""):
			d.errorf(at(""), f, "give exactly one of ssh and pgp")
		case k.SSH != "":
			pub, _, opts, rest, err := ssh.ParseAuthorizedKey([]byte(k.SSH))
			switch {
			case err != nil:
				d.errorf(at("ssh"), f+".ssh", "not an SSH public key (want `ssh-ed25519 AAAA... comment`): %v", err)
				continue
			case len(opts) > 0 || len(bytes.TrimSpace(rest)) > 0:
				d.errorf(at("ssh"), f+".ssh", "want one public key without options")
				continue
			case strings.HasSuffix(pub.Type(), "-cert-v01@openssh.com"):
				d.errorf(at("ssh"), f+".ssh", "an SSH certificate: give the plain public key")
				continue
			}
			k.sshKey = pub
			fp := ssh.FingerprintSHA256(pub)
			k.Fingerprints = []string{fp}
			if o := p.bySSH[fp]; o != nil {
				d.errorf(at("ssh"), f+".ssh", "the same key as %q", o.Name)
			}
			p.bySSH[fp] = k
		default:
			ents, err := openpgp.ReadArmoredKeyRing(strings.NewReader(k.PGP))
			if err != nil {
				d.errorf(at("pgp"), f+".pgp", "not an armored OpenPGP public key: %v", err)
				continue
			}
			for _, e := range ents {
				if e.PrivateKey != nil {
					d.errorf(at("pgp"), f+".pgp", "holds a private key: give the public key only (gpg --armor --export)")
				}
				fp := strings.ToUpper(hex.EncodeToString(e.PrimaryKey.Fingerprint))
				k.Fingerprints = append(k.Fingerprints, fp)
				if o := p.byPGP[fp]; o != nil {
					d.errorf(at("pgp"), f+".pgp", "the same key as %q", o.Name)
				}
				p.byPGP[fp] = k
				p.ring = append(p.ring, e)
			}
		}
	}
	rules := map[string]bool{}
	for i, r := range p.Rules {
		f := fmt.Sprintf("rules[%d]", i)
		at := r.pos.at
		switch {
		case !reName.MatchString(r.Name):
			d.errorf(at("name"), f+".name", "%q: want 1-64 letters, digits, '.', '_', '@' or '-'", r.Name)
		case rules[r.Name]:
			d.errorf(at("name"), f+".name", "duplicate rule name %q", r.Name)
		}
		rules[r.Name] = true
		if len(r.Keys) == 0 {
			d.errorf(at("keys"), f+".keys", "no keys")
		}
		for j, k := range r.Keys {
			if !names[k] {
				d.errorf(elem(at("keys"), j), fmt.Sprintf("%s.keys[%d]", f, j), "no key named %q in keys", k)
			}
		}
		if len(r.Paths) == 0 {
			d.errorf(at("paths"), f+".paths", "no paths (\"**\" allows every path)")
		}
		for j, g := range r.Paths {
			if err := checkPattern(g); err != nil {
				d.errorf(elem(at("paths"), j), fmt.Sprintf("%s.paths[%d]", f, j), "%q: %v", g, err)
			}
		}
		if r.Changes == nil {
			r.Changes = slices.Clone(AllChanges)
		}
		if len(r.Changes) == 0 {
			d.errorf(at("changes"), f+".changes", "empty: omit it to allow add, modify and delete")
		}
		seen := map[string]bool{}
		for j, c := range r.Changes {
			if !slices.Contains(AllChanges, c) || seen[c] {
				d.errorf(elem(at("changes"), j), fmt.Sprintf("%s.changes[%d]", f, j), "%q: want add, modify or delete, each once", c)
			}
			seen[c] = true
		}
	}
	if p.Since != "" && !reCommit.MatchString(p.Since) {
		d.errorf(d.pos(doc, "since"), "since", "%q: want a full 40-digit lowercase commit hash", p.Since)
	}
}

// Key returns the key named name, nil if there is none.
func (p *Policy) Key(name string) *Key {
	for _, k := range p.Keys {
		if k.Name == name {
			return k
		}
	}
	return nil
}

// decoder walks the YAML nodes of a policy, collecting errors with their
// positions.
type decoder struct {
	file string
	errs Errors
}

func (d *decoder) errorf(n *yaml.Node, field, format string, args ...any) {
	d.errs = append(d.errs, Error{File: d.file, Line: n.Line, Col: n.Column, Field: field, Msg: fmt.Sprintf(format, args...)})
}

// pos returns the value node of key in mapping n, or n.
func (d *decoder) pos(n *yaml.Node, key string) *yaml.Node {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				return n.Content[i+1]
			}
		}
	}
	return n
}

// mapping calls fields[key] for each key of mapping n; unknown and
// duplicate keys are errors.
func (d *decoder) mapping(n *yaml.Node, field string, fields map[string]func(*yaml.Node)) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, field, "want a mapping")
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		name := strings.TrimPrefix(field+"."+k.Value, ".")
		fn, ok := fields[k.Value]
		switch {
		case k.Kind != yaml.ScalarNode:
			d.errorf(k, field, "a key that is not a string")
		case seen[k.Value] > 0:
			d.errorf(k, name, "duplicate field (first set on line %d)", seen[k.Value])
		case !ok:
			known := make([]string, 0, len(fields))
			for f := range fields {
				known = append(known, f)
			}
			slices.Sort(known)
			d.errorf(k, name, "unknown field (known: %s)", strings.Join(known, ", "))
		default:
			seen[k.Value] = k.Line
			fn(v)
		}
	}
}

func (d *decoder) seq(n *yaml.Node, field string, each func(int, *yaml.Node)) {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, field, "want a list")
		return
	}
	for i, c := range n.Content {
		each(i, c)
	}
}

func (d *decoder) str(n *yaml.Node, field string) string {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		d.errorf(n, field, "want a string")
		return ""
	}
	return n.Value
}

func (d *decoder) strs(n *yaml.Node, field string) []string {
	out := []string{}
	d.seq(n, field, func(i int, c *yaml.Node) { out = append(out, d.str(c, fmt.Sprintf("%s[%d]", field, i))) })
	return out
}

func (d *decoder) boolean(n *yaml.Node, field string) bool {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		d.errorf(n, field, "want true or false")
		return false
	}
	return n.Value == "true"
}

func (d *decoder) key(n *yaml.Node, field string) *Key {
	k := &Key{pos: positions{"": n}}
	d.mapping(n, field, k.pos.record(map[string]func(*yaml.Node){
		"name": func(v *yaml.Node) { k.Name = d.str(v, field+".name") },
		"ssh":  func(v *yaml.Node) { k.SSH = strings.TrimSpace(d.str(v, field+".ssh")) },
		"pgp":  func(v *yaml.Node) { k.PGP = d.str(v, field+".pgp") },
	}))
	return k
}

// record wraps each field's decoder to remember the field's node.
func (p positions) record(fields map[string]func(*yaml.Node)) map[string]func(*yaml.Node) {
	out := make(map[string]func(*yaml.Node), len(fields))
	for name, fn := range fields {
		out[name] = func(v *yaml.Node) { p[name] = v; fn(v) }
	}
	return out
}

// elem returns the i-th item of sequence n, or n.
func elem(n *yaml.Node, i int) *yaml.Node {
	if n.Kind == yaml.SequenceNode && i < len(n.Content) {
		return n.Content[i]
	}
	return n
}

func (d *decoder) rule(n *yaml.Node, field string) *Rule {
	r := &Rule{pos: positions{"": n}}
	d.mapping(n, field, r.pos.record(map[string]func(*yaml.Node){
		"name":    func(v *yaml.Node) { r.Name = d.str(v, field+".name") },
		"keys":    func(v *yaml.Node) { r.Keys = d.strs(v, field+".keys") },
		"paths":   func(v *yaml.Node) { r.Paths = d.strs(v, field+".paths") },
		"changes": func(v *yaml.Node) { r.Changes = d.strs(v, field+".changes") },
	}))
	return r
}
