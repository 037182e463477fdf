package keepalived

import "sync"

// ReloadTally counts the reloads completed by a series of keepalived
// Processes that a supervisor starts one after the other (a new Process
// counts from zero), so a Driver's Reloads keeps moving forward across
// restarts. The zero value is ready to use; it is safe for concurrent use.
type ReloadTally struct {
	mu   sync.Mutex
	past int // reloads of the Processes before cur
	cur  *Process
}

// Set makes p the keepalived whose reloads count from now on.
func (t *ReloadTally) Set(p *Process) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cur != nil {
		t.past += t.cur.Reloads()
	}
	t.cur = p
}

// Reloads implements ReloadCounter: every reload logged by the current
// Process and the ones before it.
func (t *ReloadTally) Reloads() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := t.past
	if t.cur != nil {
		n += t.cur.Reloads()
	}
	return n
}
