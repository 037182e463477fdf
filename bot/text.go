package bot

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/plan"
	"github.com/ddc-gitops/ddc-gitops/render"
	"github.com/ddc-gitops/ddc-gitops/repo"
)

// maxBody keeps a pull request body under GitHub's 65,536 characters.
const maxBody = 60_000

// marker is the hidden line of a proposal's body that lets the bot tell
// which change and which base a pull request describes.
type marker struct{ fingerprint, base string }

var markerRe = regexp.MustCompile(`<!-- ddc-gitops-bot fingerprint=([0-9a-f]+) base=([0-9a-f]*) -->`)

func markerOf(body string) marker {
	m := markerRe.FindStringSubmatch(body)
	if m == nil {
		return marker{}
	}
	return marker{m[1], m[2]}
}

// nodeName is the proposal's node name.
func (p *proposal) nodeName() string {
	if p.file != nil {
		return p.file.Node.Name
	}
	return p.existing.Node.Name
}

func (p *proposal) node() *desired.Node {
	if p.file != nil {
		return &p.file.Node
	}
	return &p.existing.Node
}

func (p *proposal) title() string {
	n := p.node()
	switch p.action {
	case ActionAdd:
		return fmt.Sprintf("Admit DDC node %s (%s:%d) in zone %s", n.Name, n.Host, n.HTTPPort, n.Zone)
	case ActionUpdate:
		return fmt.Sprintf("Update DDC node %s (%s:%d) from the chain registry", n.Name, n.Host, n.HTTPPort)
	default:
		return fmt.Sprintf("Remove DDC node %s (%s:%d): it left the registry", n.Name, n.Host, n.HTTPPort)
	}
}

func (p *proposal) subject() string {
	verb := map[string]string{ActionAdd: "admit", ActionUpdate: "update", ActionRemove: "remove"}[p.action]
	return fmt.Sprintf("nodes: %s %s (chain %d, block %d)", verb, p.nodeName(), p.prov.ChainID, p.prov.Block)
}

func (p *proposal) commitBody() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Proposed by the ddc-gitops node-admission bot from the DDC node registry (%s).\n", p.prov.short())
	if p.file != nil {
		fmt.Fprintf(&b, "Zone %s: %s.\n", p.file.Zone.Zone, strings.ReplaceAll(p.file.Zone.Why, "`", ""))
	}
	return b.String()
}

// body is the pull request description: what, why, provenance and plan.
func (b *Bot) body(p *proposal, fp, base, planText string) string {
	var w strings.Builder
	fmt.Fprintf(&w, "<!-- ddc-gitops-bot fingerprint=%s base=%s -->\n", fp, base)
	n := p.node()
	switch p.action {
	case ActionAdd:
		fmt.Fprintf(&w, "The DDC node registry admitted node `%s` (in its cluster and validated). This adds `%s`; **merging admits the node**: the HAProxy hosts of zone `%s` then send it traffic.\n", n.Name, p.path, n.Zone)
	case ActionUpdate:
		fmt.Fprintf(&w, "The record of admitted node `%s` changed on chain. This updates `%s` to match; merging applies it on the HAProxy hosts of zone `%s`.\n", n.Name, p.path, n.Zone)
	default:
		fmt.Fprintf(&w, "Node `%s` is no longer admitted by the DDC node registry. This removes `%s`; merging takes it out of the HAProxy hosts of zone `%s`.\n", n.Name, p.path, n.Zone)
	}
	w.WriteString("\n### Node record\n\n| Field | Value |\n|---|---|\n")
	row := func(k string, v any) { fmt.Fprintf(&w, "| %s | `%v` |\n", k, v) }
	row("name", n.Name)
	row("pubKey", n.PubKey)
	row("providerId", n.ProviderID)
	row("clusterId", n.ClusterID)
	row("host", n.Host)
	row("domain", n.Domain)
	row("ssl", n.SSL)
	row("httpPort", n.HTTPPort)
	row("grpcPort", n.GRPCPort)
	row("p2pPort", n.P2PPort)
	row("mode", n.Mode)
	row("zone", n.Zone)
	if p.file != nil && p.file.Existing != nil {
		if prev := &p.file.Existing.Node; !sameNodeFields(prev, n) {
			w.WriteString("\nChanged from the main branch: ")
			w.WriteString(strings.Join(changedFields(prev, n), ", "))
			w.WriteString(".\n")
		}
	}

	w.WriteString("\n### Chain event\n\n| | |\n|---|---|\n")
	pr := p.prov
	fmt.Fprintf(&w, "| Chain ID | %d |\n", pr.ChainID)
	if pr.BlockHash != "" {
		fmt.Fprintf(&w, "| Block | %d (`%s`) |\n", pr.Block, pr.BlockHash)
	} else {
		fmt.Fprintf(&w, "| Block | %d |\n", pr.Block)
	}
	if pr.Source == SourceSync {
		w.WriteString("| Source | full registry read (no single event) |\n")
	} else {
		ev := pr.Kind
		if pr.Removed {
			ev += " (undone by a reorg)"
		}
		fmt.Fprintf(&w, "| Event | %s |\n", ev)
		if pr.TxHash != "" {
			fmt.Fprintf(&w, "| Transaction | `%s` |\n| Log index | %d |\n", pr.TxHash, pr.LogIndex)
		}
	}

	if p.file != nil {
		fmt.Fprintf(&w, "\n### Zone\n\n`%s`: %s.\n", p.file.Zone.Zone, p.file.Zone.Why)
		if len(p.file.Kept) > 0 {
			fmt.Fprintf(&w, "\nKept from the main branch (set by people, not by the chain): %s.\n", strings.Join(p.file.Kept, ", "))
		}
	}
	w.WriteString("\n")
	w.WriteString(planText)
	fmt.Fprintf(&w, "\n---\nOpened by the ddc-gitops node-admission bot on top of `%.12s`. The bot rebuilds this branch when the chain or the main branch changes; "+
		"once anyone else commits to it, the bot leaves it alone.\n", base)
	s := w.String()
	if len(s) > maxBody {
		s = strings.ToValidUTF8(s[:maxBody], "") + "\n\n(truncated)\n"
	}
	return s
}

// planText is the plan of p for the hosts it affects, as Markdown. It
// validates the fleet with p applied: an invalid result refuses the node.
func (b *Bot) planText(snap *repo.Snapshot, p *proposal) (string, error) {
	old, err := desired.Load(snap.FS)
	if err != nil {
		return "", fmt.Errorf("loading the main branch at %.12s: %w", snap.Revision.Hash, err)
	}
	cand, err := candidate(snap.FS, p)
	if err != nil {
		return "", err
	}
	nw, err := desired.Load(cand)
	if err != nil {
		var errs desired.Errors
		if errors.As(err, &errs) {
			return "", refusedf("the fleet would not validate with node %s: %v", p.pubKey, errs)
		}
		return "", fmt.Errorf("loading the proposed fleet: %w", err)
	}
	pl, err := plan.Compute(old, nw, render.Options{})
	if err != nil {
		return "", fmt.Errorf("planning the proposal: %w", err)
	}
	affected := &plan.Plan{}
	for _, h := range pl.Hosts {
		if h.Changed() {
			affected.Hosts = append(affected.Hosts, h)
		}
	}
	if len(affected.Hosts) == 0 {
		n := p.node()
		return fmt.Sprintf("### Plan: no host changes\n\nNo HAProxy host renders this node: no backend of zone `%s` selects mode `%s`.\n", n.Zone, n.Mode), nil
	}
	var buf bytes.Buffer
	if err := affected.WriteText(&buf); err != nil {
		return "", err
	}
	return buf.String(), nil
}

// sameNodeFields reports whether two nodes carry the same values.
func sameNodeFields(a, b *desired.Node) bool { return len(changedFields(a, b)) == 0 }

func changedFields(a, b *desired.Node) []string {
	var out []string
	add := func(name string, x, y any) {
		if x != y {
			out = append(out, fmt.Sprintf("%s `%v` → `%v`", name, x, y))
		}
	}
	add("providerId", a.ProviderID, b.ProviderID)
	add("clusterId", a.ClusterID, b.ClusterID)
	add("host", a.Host, b.Host)
	add("domain", a.Domain, b.Domain)
	add("ssl", a.SSL, b.SSL)
	add("httpPort", a.HTTPPort, b.HTTPPort)
	add("grpcPort", a.GRPCPort, b.GRPCPort)
	add("p2pPort", a.P2PPort, b.P2PPort)
	add("mode", a.Mode, b.Mode)
	return out
}
