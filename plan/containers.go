package plan

import (
	"bufio"
	"fmt"
	"sort"
	"strings"

	"github.com/ddc-gitops/ddc-gitops/desired"
)

// Container ops, the value of ContainerOp.Op.
const (
	ContainerCreate  = "create"  // a new container on this host
	ContainerReplace = "replace" // removed and created again: its runtime part changed
	ContainerUpdate  = "update"  // health check, port or serve changed: no new container
	ContainerRemove  = "remove"  // stopped and removed from this host
)

// ContainerHostPlan is what one container host's agent does to its
// containers between two revisions.
type ContainerHostPlan struct {
	Host string        `json:"host"`
	Zone string        `json:"zone"`
	Ops  []ContainerOp `json:"ops"`
}

// ContainerOp is one container change on a container host.
type ContainerOp struct {
	Op        string `json:"op"`
	Container string `json:"container"`
	// Detail says what changed ("image ddc-node:lab -> ddc-node:v2", the
	// changed fields) or, for create, the image and address.
	Detail string `json:"detail,omitempty"`
}

// DiffContainers lists, per container host (sorted by name), the
// container changes from old to new; hosts without changes are left out.
// A container that moves to another host is removed from the old one and
// created on the new one. Nil fleets are empty.
func DiffContainers(old, new *desired.Fleet) []ContainerHostPlan {
	type key struct{ host, name string }
	type pair struct{ o, n *desired.Container }
	pairs := map[key]*pair{}
	zones := map[string]string{}
	if old != nil {
		for _, c := range old.Containers {
			pairs[key{c.Host, c.Name}] = &pair{o: c}
			zones[c.Host] = c.Zone
		}
	}
	if new != nil {
		for _, c := range new.Containers {
			k := key{c.Host, c.Name}
			if p := pairs[k]; p != nil {
				p.n = c
			} else {
				pairs[k] = &pair{n: c}
			}
			zones[c.Host] = c.Zone
		}
	}
	byHost := map[string][]ContainerOp{}
	for k, p := range pairs {
		var op ContainerOp
		switch {
		case p.o == nil:
			op = ContainerOp{Op: ContainerCreate, Container: k.name, Detail: fmt.Sprintf("%s at %s", p.n.Image, p.n.Address)}
		case p.n == nil:
			op = ContainerOp{Op: ContainerRemove, Container: k.name, Detail: p.o.Image}
		default:
			if changed := p.o.Runtime().Changed(p.n.Runtime()); len(changed) > 0 {
				d := strings.Join(changed, ", ")
				if p.o.Image != p.n.Image {
					d = fmt.Sprintf("%s (image %s -> %s)", d, p.o.Image, p.n.Image)
				}
				op = ContainerOp{Op: ContainerReplace, Container: k.name, Detail: d}
			} else if u := updated(p.o, p.n); u != "" {
				op = ContainerOp{Op: ContainerUpdate, Container: k.name, Detail: u}
			} else {
				continue
			}
		}
		byHost[k.host] = append(byHost[k.host], op)
	}
	hosts := make([]string, 0, len(byHost))
	for h := range byHost {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	out := make([]ContainerHostPlan, 0, len(hosts))
	for _, h := range hosts {
		ops := byHost[h]
		sort.Slice(ops, func(i, j int) bool { return ops[i].Container < ops[j].Container })
		out = append(out, ContainerHostPlan{Host: h, Zone: zones[h], Ops: ops})
	}
	return out
}

// updated names what changed in o and n besides their runtime part.
func updated(o, n *desired.Container) string {
	var out []string
	if o.Port != n.Port {
		out = append(out, "port")
	}
	if !equalPtr(o.Health, n.Health) {
		out = append(out, "health")
	}
	if !sameServe(o.Serve, n.Serve) {
		out = append(out, "serve")
	}
	if o.PullPolicy != n.PullPolicy {
		out = append(out, "pullPolicy")
	}
	return strings.Join(out, ", ")
}

func sameServe(a, b *desired.Serve) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Backend == b.Backend && a.Port == b.Port && equalPtr(a.Weight, b.Weight)
}

func equalPtr[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// writeContainers writes the container section of WriteText.
func (p *Plan) writeContainers(bw *bufio.Writer) {
	if len(p.Containers) == 0 {
		return
	}
	n := 0
	for _, h := range p.Containers {
		n += len(h.Ops)
	}
	fmt.Fprintf(bw, "\n### Containers: %d %s on %d container %s\n", n, plural(n, "change", "changes"), len(p.Containers), plural(len(p.Containers), "host", "hosts"))
	for _, h := range p.Containers {
		fmt.Fprintf(bw, "\n#### %s (%s)\n\n", h.Host, h.Zone)
		for _, op := range h.Ops {
			if op.Detail != "" {
				fmt.Fprintf(bw, "- %s %s: %s\n", op.Op, op.Container, op.Detail)
			} else {
				fmt.Fprintf(bw, "- %s %s\n", op.Op, op.Container)
			}
		}
	}
}
