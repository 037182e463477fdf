package agentapi

import "time"

// The rollout and trust parts of an agent's status (docs/rollouts.md,
// docs/trust.md). Other agents read them from GET /v1/status to decide when
// their wave may apply a revision, and the API reads them to propose reverts.

// Gate states.
const (
	GateWatching = "watching" // the revision was applied; its window runs
	GatePassed   = "passed"   // the window ended with no threshold crossed
	GateTripped  = "tripped"  // a threshold was crossed: the revision was rolled back and quarantined
)

// WaveStatus is where this host stands in the rollout of the newest revision.
type WaveStatus struct {
	// Wave is this host's rollout wave (0 applies first).
	Wave int `json:"wave"`
	// Holding is the revision this host waits to apply, empty when it waits
	// for nothing.
	Holding string `json:"holding,omitempty"`
	// WaitingFor says, for each earlier-wave host that has not yet reported
	// Holding applied and healthy, why (unreachable, applying, gate watching,
	// quarantined...).
	WaitingFor []string  `json:"waitingFor,omitempty"`
	Since      time.Time `json:"since,omitzero"`
	// Decision is a person's `rollout promote|hold` for Holding, if any.
	Decision string `json:"decision,omitempty"`
}

// GateStatus is the health gate's watch of the last applied revision.
type GateStatus struct {
	Revision string    `json:"revision"`
	State    string    `json:"state"`
	Since    time.Time `json:"since"`
	Until    time.Time `json:"until,omitzero"`
	// Verdict says why the gate tripped (empty unless tripped).
	Verdict  string         `json:"verdict,omitempty"`
	Evidence []GateEvidence `json:"evidence,omitempty"`
}

// GateEvidence is one signal the gate compared, before and after the change.
type GateEvidence struct {
	// Signal is e.g. "up_ratio", "http_5xx_rate", "conn_error_rate",
	// "vip_answers", "frontend_answers".
	Signal string `json:"signal"`
	// Subject is the backend, frontend or VIP the signal is about.
	Subject   string  `json:"subject"`
	Before    float64 `json:"before"`
	After     float64 `json:"after"`
	Threshold float64 `json:"threshold"`
	Tripped   bool    `json:"tripped"`
}

// Quarantine is a revision this host refuses to apply again (until a newer
// commit arrives) because its health gate tripped.
type Quarantine struct {
	Revision string         `json:"revision"`
	At       time.Time      `json:"at"`
	Reason   string         `json:"reason"`
	Evidence []GateEvidence `json:"evidence,omitempty"`
}

// TrustStatus is the outcome of the signature check of the commits between
// the applied revision and the branch head (absent without --trust-policy).
type TrustStatus struct {
	// Verified is the newest revision whose history was accepted.
	Verified string `json:"verified,omitempty"`
	// Refused is set when a commit was refused: the revision is not applied.
	Refused *TrustRefusal `json:"refused,omitempty"`
}

// TrustRefusal names the commit that made a revision refused and why.
type TrustRefusal struct {
	Revision string `json:"revision"` // the head that was refused
	Commit   string `json:"commit"`   // the offending commit
	Author   string `json:"author"`
	Key      string `json:"key,omitempty"`  // the signing key's fingerprint, if signed
	Rule     string `json:"rule,omitempty"` // the policy rule it broke
	Reason   string `json:"reason"`
}

// OverrideStatus is a timed override (overrides/<name>.yaml) this host applies.
type OverrideStatus struct {
	Name    string    `json:"name"`
	Until   time.Time `json:"until"`
	Reason  string    `json:"reason"`
	Targets []string  `json:"targets,omitempty"` // e.g. "backend/server drain"
}

// FreezeStatus is a freeze window in force: only emergency commits apply.
type FreezeStatus struct {
	Name    string    `json:"name"`
	Until   time.Time `json:"until"`
	Reason  string    `json:"reason,omitempty"`
	Holding string    `json:"holding,omitempty"` // the non-emergency revision held back
}
