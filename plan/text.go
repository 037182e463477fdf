package plan

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// MaxTextOps caps the server ops WriteText lists per host; the rest are
// counted ("... and 12 more").
const MaxTextOps = 50

// WriteJSON writes the plan as indented JSON.
func (p *Plan) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(p); err != nil {
		return fmt.Errorf("writing plan as JSON: %w", err)
	}
	return nil
}

// Summary counts the hosts of a plan by what they do.
type Summary struct {
	Hosts, Unchanged, HAProxyRuntime, HAProxyReload, KeepalivedReload, New, Removed int
}

// Summary counts the plan's hosts by action.
func (p *Plan) Summary() Summary {
	s := Summary{Hosts: len(p.Hosts)}
	for i := range p.Hosts {
		h := &p.Hosts[i]
		switch {
		case h.New:
			s.New++
		case h.Removed:
			s.Removed++
		case !h.Changed():
			s.Unchanged++
		}
		switch h.HAProxy {
		case ActionRuntime:
			s.HAProxyRuntime++
		case ActionReload:
			s.HAProxyReload++
		}
		if h.Keepalived == ActionReload {
			s.KeepalivedReload++
		}
	}
	return s
}

// WriteText writes the plan as Markdown for a pull-request comment: a
// table with one row per host, then one section per group of hosts with
// the same changes, listing server ops (at most MaxTextOps), reasons and
// warnings (prefixed with ⚠).
func (p *Plan) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	s := p.Summary()
	fmt.Fprintf(bw, "### Plan: %d %s\n\n", s.Hosts, plural(s.Hosts, "host", "hosts"))
	if s.Hosts == 0 {
		bw.WriteString("No HAProxy hosts in either revision.\n")
		p.writeContainers(bw)
		return flush(bw)
	}
	var parts []string
	add := func(n int, what string) {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, what))
		}
	}
	add(s.HAProxyRuntime, "HAProxy runtime-only")
	add(s.HAProxyReload, "HAProxy reload")
	add(s.KeepalivedReload, "keepalived reload")
	add(s.New, "new")
	add(s.Removed, "removed")
	add(s.Unchanged, "unchanged")
	fmt.Fprintf(bw, "%s.\n\n", strings.Join(parts, ", "))

	bw.WriteString("| Host | Zone | HAProxy | Keepalived | Server ops | Warnings |\n")
	bw.WriteString("|------|------|---------|------------|-----------:|----------|\n")
	for i := range p.Hosts {
		h := &p.Hosts[i]
		name := h.Host
		switch {
		case h.New:
			name += " (new)"
		case h.Removed:
			name += " (removed)"
		}
		warn := ""
		if len(h.Warnings) > 0 {
			warn = fmt.Sprintf("⚠ %d", len(h.Warnings))
		}
		fmt.Fprintf(bw, "| %s | %s | %s | %s | %d | %s |\n", name, h.Zone, h.HAProxy, h.Keepalived, len(h.Ops), warn)
	}

	for _, g := range groupHosts(p.Hosts) {
		h := g.plan
		if !h.Changed() {
			continue
		}
		fmt.Fprintf(bw, "\n#### %s (%s): HAProxy %s, keepalived %s\n", strings.Join(g.hosts, ", "), h.Zone, h.HAProxy, h.Keepalived)
		if len(h.Warnings) > 0 {
			bw.WriteString("\n")
			for _, wr := range h.Warnings {
				fmt.Fprintf(bw, "- ⚠ %s\n", wr)
			}
		}
		if len(h.Reasons) > 0 {
			bw.WriteString("\nReasons:\n")
			for _, r := range h.Reasons {
				fmt.Fprintf(bw, "- %s\n", r)
			}
		}
		if len(h.Ops) > 0 {
			if h.HAProxy == ActionReload {
				fmt.Fprintf(bw, "\nServer changes (%d, applied by the reload):\n", len(h.Ops))
			} else {
				fmt.Fprintf(bw, "\nRuntime API changes (%d, no reload):\n", len(h.Ops))
			}
			for i, op := range h.Ops {
				if i == MaxTextOps {
					fmt.Fprintf(bw, "- ... and %d more\n", len(h.Ops)-MaxTextOps)
					break
				}
				fmt.Fprintf(bw, "- %s\n", op.Text())
			}
		}
	}
	p.writeContainers(bw)
	writeDNS(bw, p.DNS)
	return flush(bw)
}

func flush(bw *bufio.Writer) error {
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing plan: %w", err)
	}
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// Text is the op as one readable line.
func (op Op) Text() string {
	id := "`" + op.Backend + "/" + op.Server + "`"
	switch op.Op {
	case OpAdd:
		if op.Line != "" {
			return "add " + id + ": `" + op.Line + "`"
		}
		return "add " + id + " at " + op.To
	case OpDel:
		return "del " + id + " (was " + op.From + ")"
	case OpSetWeight:
		return "set-weight " + id + ": weight " + op.From + " -> " + op.To
	case OpSetMaxconn:
		return "set-maxconn " + id + ": maxconn " + op.From + " -> " + op.To
	case OpAdmit:
		return "admit " + id + ": " + op.From + " -> " + op.To + " once its first health check passes"
	case OpReplace:
		if op.Batch > 0 {
			return "replace " + id + " (rolling batch " + strconv.Itoa(op.Batch) + "): " + op.From + " -> " + op.To
		}
		return "replace " + id + ": " + op.From + " -> " + op.To
	default:
		return op.Op + " " + id + ": " + op.From + " -> " + op.To
	}
}

// hostGroup is hosts whose plans are identical but for the host name.
type hostGroup struct {
	hosts []string
	plan  *HostPlan
}

// groupHosts groups hosts with identical plans (same zone, actions, ops,
// reasons and warnings), in order of first appearance.
func groupHosts(hosts []HostPlan) []hostGroup {
	var groups []hostGroup
	idx := map[string]int{}
	for i := range hosts {
		h := &hosts[i]
		key := groupKey(h)
		if j, ok := idx[key]; ok {
			groups[j].hosts = append(groups[j].hosts, h.Host)
			continue
		}
		idx[key] = len(groups)
		groups = append(groups, hostGroup{hosts: []string{h.Host}, plan: h})
	}
	return groups
}

func groupKey(h *HostPlan) string {
	c := *h
	c.Host = ""
	b, err := json.Marshal(&c)
	if err != nil { // cannot happen for these types; never group then
		return h.Host
	}
	return string(b)
}
