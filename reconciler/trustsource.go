package reconciler

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/go-git/go-git/v5/plumbing/storer"

	"github.com/ddc-gitops/ddc-gitops/reconciler/source"
	"github.com/ddc-gitops/ddc-gitops/trust"
)

// TrustedSource is a git Fetcher whose Sync fails for a head the trust
// policy refuses. It guards the agent roles that have no trust step of
// their own (DNS, containers): they see a refused head as a failed fetch,
// retry with backoff and keep what they run. Each new head is verified
// against the last head it accepted, which it keeps in memory only: after
// a restart the first head is verified as on a first sync (the policy's
// since, or the head commit alone). The HAProxy role verifies against its
// applied revision instead (Config.Trust).
type TrustedSource struct {
	// Source must also have History (*source.Source).
	Source   Fetcher
	Verifier *trust.Verifier

	mu       sync.Mutex
	accepted string        // the last head accepted
	last     *trust.Result // the last verification
	lastBase string        // what last was verified against
}

// Sync fetches and verifies the head.
func (t *TrustedSource) Sync(ctx context.Context) (*source.Snapshot, error) {
	hist, ok := t.Source.(historySource)
	if !ok {
		return nil, errors.New("a trust policy needs a git repository source (--repo), whose commits it verifies")
	}
	snap, err := t.Source.Sync(ctx)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	head := snap.Revision.Hash
	if head == t.accepted {
		return snap, nil
	}
	res := t.last
	if res == nil || res.Head != head || t.lastBase != t.accepted {
		err := hist.History(func(st storer.EncodedObjectStorer) error {
			res, err = t.Verifier.VerifyRange(ctx, st, t.accepted, head)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("verifying the signatures of %s: %w", short(head), err)
		}
		t.last, t.lastBase = res, t.accepted
	}
	if res.Refused() {
		return nil, res.Err()
	}
	t.accepted = head
	return snap, nil
}
