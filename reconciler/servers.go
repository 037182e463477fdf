package reconciler

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ddc-gitops/ddc-gitops/plan"
	"github.com/ddc-gitops/ddc-gitops/reconciler/haproxy"
	"github.com/ddc-gitops/ddc-gitops/render"
)

// hostChanges is what it takes to make the running servers match the
// desired ones, as plan.ServerChanges decides it.
type hostChanges struct {
	// Ops are every backend's ops, deferred replaces (Batch > 1) included.
	Ops []plan.Op
	// Reasons say why the change needs a reload.
	Reasons []string
	// Old holds, for each replace op ("backend/server"), the server as it
	// runs: a deferred replace keeps its running line in the persisted file.
	Old map[string]render.Server
}

// now are the ops to apply in this reconcile: every op but the replaces of
// later rolling batches.
func (c *hostChanges) now() (now []plan.Op, deferred int) {
	for _, op := range c.Ops {
		if op.Batch > 1 {
			deferred++
			continue
		}
		now = append(now, op)
	}
	return now, deferred
}

// diffHost compares the desired backends with the servers HAProxy runs
// (actual, from `show servers state`) and the server lines of the config on
// disk (for the settings the runtime API does not show; nil when the file on
// disk is exactly the desired config). adm holds the servers waiting for
// admission; scratch (may be nil) is reused for the "before" lists. The
// runtime-or-reload decision is plan.ServerChanges's.
func diffHost(want []render.Backend, actual map[string][]haproxy.ActualServer, disk map[string]map[string]string, adm *admissionState, scratch *[]plan.Before) hostChanges {
	var c hostChanges
	if scratch == nil {
		scratch = new([]plan.Before)
	}
	for i := range want {
		b := &want[i]
		rows, running := actual[b.Name]
		if !running && len(b.Servers) > 0 && disk != nil {
			// An empty backend has no rows in `show servers state`: only a
			// problem when we want servers there and the file does not
			// have the backend either, which a reload fixes.
			if _, known := disk[b.Name]; !known {
				c.Reasons = append(c.Reasons, fmt.Sprintf("backend %s is not running", b.Name))
				continue
			}
		}
		before := befores(b, rows, disk, adm, (*scratch)[:0])
		*scratch = before
		bc := plan.ServerChanges(b, before)
		c.Reasons = append(c.Reasons, bc.Reasons...)
		c.add(b.Name, bc.Ops, before)
	}
	return c
}

// add appends a backend's ops and remembers, for each replace, the server
// as it runs (before).
func (c *hostChanges) add(backend string, ops []plan.Op, before []plan.Before) {
	c.Ops = append(c.Ops, ops...)
	for _, op := range ops {
		if op.Op != plan.OpReplace {
			continue
		}
		for j := range before {
			if before[j].Name == op.Server {
				if c.Old == nil {
					c.Old = map[string]render.Server{}
				}
				c.Old[backend+"/"+op.Server] = before[j].Server
			}
		}
	}
}

// befores is backend b's servers as they run: address, port, weight and
// state from HAProxy, every other setting from the server line on disk
// (disk nil: the file holds the desired lines), and the admission facts, in out (reused).
func befores(b *render.Backend, rows []haproxy.ActualServer, disk map[string]map[string]string, adm *admissionState, out []plan.Before) []plan.Before {
	aligned := len(rows) == len(b.Servers)
	for i := 0; aligned && i < len(rows); i++ {
		aligned = rows[i].Name == b.Servers[i].Name
	}
	var wantByName map[string]*render.Server
	if !aligned {
		wantByName = make(map[string]*render.Server, len(b.Servers))
		for i := range b.Servers {
			wantByName[b.Servers[i].Name] = &b.Servers[i]
		}
	}
	lines := disk[b.Name]
	out = slices.Grow(out[:0], len(rows))[:len(rows)]
	for i := range rows {
		r := &rows[i]
		var desired *render.Server
		if aligned {
			desired = &b.Servers[i]
		} else {
			desired = wantByName[r.Name]
		}
		o := &out[i]
		*o = plan.Before{}
		line, onDisk := lines[r.Name]
		switch {
		case disk != nil && onDisk:
			s, err := render.ParseServerLine(line)
			if err != nil {
				o.Unknown = errors.Is(err, render.ErrForeignServerLine)
				s = render.Server{Name: r.Name}
			}
			o.Server = s
		case desired != nil:
			o.Server = *desired
		default:
			// Running, neither desired nor on disk: only deleted.
			o.Server = render.Server{Name: r.Name}
		}
		if !o.Hostname {
			// A server with a DNS name shows the resolved address: the
			// runtime API cannot change it, the file says what it is.
			o.Address, o.Port = r.Address, r.Port
		}
		o.Weight, o.State = r.Weight, r.State
		if adm != nil {
			k := b.Name + "/" + r.Name
			if _, ok := adm.since[k]; ok {
				o.Admitting = true
				o.Replacing = adm.replacing[k]
				o.CheckPassed = r.Up && haproxy.CheckPassed(r.CheckStatus)
			}
		}
	}
	return out
}

// describe is an op as one line for drift reports and errors.
func describe(op plan.Op) string {
	s := op.Op + " " + op.Backend + "/" + op.Server
	if op.From != "" || op.To != "" {
		s += ": " + op.From + " -> " + op.To
	}
	return s
}

// persistedConfig is the desired haproxy.cfg as it runs: servers waiting for
// their first passing check are written `disabled`, so a restart or reload
// does not put them in service unchecked (the agent admits them again), and
// servers whose replace waits for a later batch keep their running line.
func persistedConfig(want *render.Host, adm *admissionState, c *hostChanges) []byte {
	repl := map[string]map[string]string{}
	set := func(be string, s render.Server) {
		if repl[be] == nil {
			repl[be] = map[string]string{}
		}
		repl[be][s.Name] = s.Line()
	}
	for _, op := range c.Ops {
		if op.Batch > 1 {
			if old, ok := c.Old[op.Backend+"/"+op.Server]; ok {
				set(op.Backend, old)
			}
		}
	}
	if len(adm.since) > 0 {
		// The waiting servers by backend, so the fleet's servers are
		// looked up without building a key for each.
		waiting := map[string]map[string]bool{}
		for k := range adm.since {
			be, name, _ := strings.Cut(k, "/")
			if waiting[be] == nil {
				waiting[be] = map[string]bool{}
			}
			waiting[be][name] = true
		}
		for _, b := range want.Backends {
			w := waiting[b.Name]
			if w == nil {
				continue
			}
			for _, s := range b.Servers {
				if w[s.Name] {
					s.State = haproxy.StateMaint
					set(b.Name, s)
				}
			}
		}
	}
	return render.WithServerLines(want.HAProxy, repl)
}
