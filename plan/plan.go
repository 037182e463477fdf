// Package plan says, per host, what changes between two revisions of the
// desired state and how the agent will apply it: nothing, runtime-only
// changes through the HAProxy runtime API, an HAProxy reload, a keepalived
// reload (or both).
//
// A plan is a pure function of its inputs: the same two revisions give the
// same plan, byte for byte once written.
package plan

import "github.com/ddc-gitops/ddc-gitops/render"

// Action is how the agent applies a host's change to one program.
type Action string

// Actions. Keepalived uses only ActionNone and ActionReload.
const (
	// ActionNone: the program's configuration is unchanged.
	ActionNone Action = "none"
	// ActionRuntime: haproxy.cfg is rewritten and the change is applied
	// through the runtime API (Ops), without a reload.
	ActionRuntime Action = "runtime"
	// ActionReload: the configuration is rewritten, checked and reloaded.
	ActionReload Action = "reload"
)

// Op kinds, the value of Op.Op.
const (
	OpAdd        = "add"         // add server BE/S ADDR KEYWORDS, then enable health
	OpDel        = "del"         // set server BE/S state maint, then del server BE/S
	OpSetWeight  = "set-weight"  // set server BE/S weight N
	OpSetAddr    = "set-addr"    // set server BE/S addr IP port P
	OpSetState   = "set-state"   // set server BE/S state ready|drain|maint
	OpSetMaxconn = "set-maxconn" // set maxconn server BE/S N
	OpReplace    = "replace"     // del then add: a setting the runtime API cannot change in place
	OpAdmit      = "admit"       // enable health BE/S, set server BE/S state drain; in service once its first check passes
)

// OpKinds lists every op kind: the runtime changes the agent can make.
var OpKinds = []string{OpAdd, OpDel, OpSetWeight, OpSetAddr, OpSetState, OpSetMaxconn, OpReplace, OpAdmit}

// Plan is the change between two revisions of a fleet, one entry per host
// present in either revision, sorted by host name.
type Plan struct {
	Hosts []HostPlan `json:"hosts"`
	// Containers are the container changes per container host (only
	// hosts with changes).
	Containers []ContainerHostPlan `json:"containers,omitempty"`
	// DNS is the DNS hosts' change (dns.go); nil when neither revision has dns.
	DNS *DNSPlan `json:"dns,omitempty"`
}

// HostPlan is what one host does to go from the old revision to the new one.
type HostPlan struct {
	Host string `json:"host"`
	Zone string `json:"zone"`
	// New is set when the host is not in the old revision (first deploy).
	New bool `json:"new,omitempty"`
	// Removed is set when the host is not in the new revision: its agent has
	// nothing to apply, the host is to be decommissioned.
	Removed    bool   `json:"removed,omitempty"`
	HAProxy    Action `json:"haproxy"`
	Keepalived Action `json:"keepalived"`
	// Ops are the server changes, in backend then server order. When HAProxy
	// is ActionReload they are listed for information only: the reload
	// applies them.
	Ops []Op `json:"ops,omitempty"`
	// Reasons say why HAProxy or keepalived reload.
	Reasons []string `json:"reasons,omitempty"`
	// Warnings flag what an operator should know, such as a backend whose
	// balance algorithm forbids runtime server changes.
	Warnings []string `json:"warnings,omitempty"`
}

// Changed reports whether the host has anything to apply.
func (h *HostPlan) Changed() bool {
	return h.HAProxy != ActionNone || h.Keepalived != ActionNone || h.Removed
}

// Op is one server change in one backend.
type Op struct {
	Op      string `json:"op"`
	Backend string `json:"backend"`
	Server  string `json:"server"`
	// From and To are the old and new values for display: "100" and "50"
	// for set-weight, "198.18.1.21:8080" for set-addr, the changed settings
	// for replace, the server line for add (To) and the address for del (From).
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	// New is the server as the new revision renders it, for every op but
	// del: the runtime driver takes the values to set from it.
	New *render.Server `json:"-"`
	// Line is New's full server line (for add and replace), so JSON readers
	// see exactly what `add server` will be given.
	Line string `json:"line,omitempty"`
	// Batch numbers a replace op's rolling batch (1, 2, ...): the agent
	// replaces one batch at a time, each admitted before the next. 0 for
	// every other op, and when a reload applies the change.
	Batch int `json:"batch,omitempty"`
}
