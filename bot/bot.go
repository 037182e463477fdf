// Package bot is `ddc-gitops bot`: it watches the DDC node registry on chain
// and proposes every admission, change and removal of a node as a change to
// the fleet repository, a pull request that a person reviews and merges.
// Merged, the change reaches the HAProxy hosts through the normal git path.
//
// For each node event at the confirmation depth (package chain) the bot
// works out what the main branch should hold for that node (level-based:
// the event says what the node should be, not what to do) and makes the
// proposal match:
//
//   - Chain data is untrusted: the record is checked with package desired's
//     rules (CheckRecord) before anything is built from it; an invalid
//     record is logged, counted (ddc_gitops_bot_invalid_events_total) and
//     never becomes a file. The whole candidate tree is validated again
//     (desired.Load) before the commit, and by repo.Commit.
//   - A node file is nodes/node-<first 12 hex of the pubKey>.yaml, or in
//     its shard directory when fleet.yaml says nodeLayout: sharded (a longer
//     name when that one belongs to another key), zone from the cluster mapping
//     or the default zone, admitted: true. An existing file for the key
//     keeps its name, zone, weight, admitted flag and state.
//   - One branch per node and action: bot/node/<pubKey hex> for an addition
//     or update, bot/node/<pubKey hex>-remove for a removal (the full key:
//     providers choose keys freely, so a prefix could be forged). The branch
//     is rebuilt on the current main head and force-pushed; the pull request
//     for it is updated in place, never opened twice.
//   - A branch with a commit by anyone but the bot is never force-pushed:
//     the bot comments on its pull request instead.
//   - When main already has the node's record, nothing is proposed and an
//     open proposal for it is closed. A later event that supersedes an open
//     proposal (a removal before the admission was merged, a reorg undo)
//     closes it with a comment. A proposal a person closed is not reopened
//     for the same change.
//   - Without a forge (forge.Plain) a proposal is its branch, recorded in
//     the state directory; merging the branch is the admission.
//
// Transient failures (git or forge unreachable) are retried per node with
// backoff; the work survives a restart in the state directory.
package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ddc-gitops/ddc-gitops/bot/chain"
	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/forge"
	"github.com/ddc-gitops/ddc-gitops/repo"
)

// Registry reads the whole node registry; *chain.EVMWatcher implements it.
type Registry interface {
	// ConfirmedBlock is the newest block at the confirmation depth.
	ConfirmedBlock(ctx context.Context) (uint64, error)
	// Registry reads every node at a block.
	Registry(ctx context.Context, block uint64) (chain.Snapshot, error)
}

// Deps are the parts of a Bot that New does not build from Config.
type Deps struct {
	// Source emits the chain's node events (required for Run).
	Source chain.Source
	// Registry serves Sync and Nodes; when nil and Source implements
	// Registry, Source is used.
	Registry Registry
	// Repo writes the proposal branches (required).
	Repo *repo.Repo
	// Forge opens and closes the pull requests (required; forge.Plain for
	// no forge).
	Forge forge.Forge
	// Metrics, or nil to create them on Registerer.
	Metrics    *Metrics
	Registerer prometheus.Registerer
	Logger     *slog.Logger
}

// Bot proposes the chain's node admissions as pull requests.
type Bot struct {
	cfg      Config
	src      chain.Source
	registry Registry
	repo     *repo.Repo
	forge    forge.Forge
	branches *branchInspector
	metrics  *Metrics
	log      *slog.Logger
	st       *state
	now      func() time.Time

	// mu serialises the handling of events and syncs: one node at a time.
	mu sync.Mutex
	// wake is signalled when retry work is added (one slot: bursts collapse).
	wake chan struct{}
}

// New returns a bot for cfg with the given dependencies.
func New(cfg Config, deps Deps) (*Bot, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if deps.Repo == nil || deps.Forge == nil {
		return nil, errors.New("creating bot: a repository and a forge are required")
	}
	if cfg.RepoURL == "" {
		return nil, errors.New("creating bot: the repository URL is required (proposal branches are read from it)")
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Registry == nil {
		if r, ok := deps.Source.(Registry); ok {
			deps.Registry = r
		}
	}
	m := deps.Metrics
	if m == nil {
		var err error
		if m, err = NewMetrics(deps.Registerer); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(cfg.StateDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating bot state directory: %w", err)
	}
	st, err := loadState(cfg.statePath())
	if err != nil {
		return nil, err
	}
	return &Bot{
		cfg:      cfg,
		src:      deps.Source,
		registry: deps.Registry,
		repo:     deps.Repo,
		forge:    deps.Forge,
		branches: newBranchInspector(cfg.RepoURL, cfg.Branch, cfg.branchesDir(), gitAuth(cfg), cfg.Author),
		metrics:  m,
		log:      deps.Logger.With("component", "bot"),
		st:       st,
		now:      time.Now,
		wake:     make(chan struct{}, 1),
	}, nil
}

// Open builds a bot from cfg alone: it dials the chain (cfg.RPCURL), clones
// the repository into the state directory and makes the forge.
func Open(ctx context.Context, cfg Config, reg prometheus.Registerer, logger *slog.Logger) (*Bot, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if !common.IsHexAddress(cfg.Contract) {
		return nil, fmt.Errorf("bot configuration: contract %q is not a 0x-prefixed 20-byte address", cfg.Contract)
	}
	if cfg.RPCURL == "" || cfg.RepoURL == "" {
		return nil, errors.New("bot configuration: the chain RPC URL and the repository URL are required")
	}
	m, err := NewMetrics(reg)
	if err != nil {
		return nil, err
	}
	w, err := chain.DialEVMWatcher(chain.Config{
		Contract:      common.HexToAddress(cfg.Contract),
		StateDir:      cfg.chainDir(),
		Confirmations: cfg.Confirmations,
		Finalized:     cfg.Finalized,
		StartBlock:    cfg.StartBlock,
		SnapshotStart: cfg.SnapshotStart,
		PollInterval:  cfg.PollInterval,
		Metrics:       m.Chain(),
		Logger:        logger,
	}, cfg.RPCURL)
	if err != nil {
		return nil, err
	}
	r, err := repo.Open(ctx, repo.Options{URL: cfg.RepoURL, Branch: cfg.Branch, Dir: cfg.repoDir(), Auth: gitAuth(cfg), Logger: logger, Signer: cfg.Signer})
	if err != nil {
		return nil, err
	}
	var f forge.Forge
	switch cfg.Forge.Kind {
	case ForgeGitHub:
		f, err = forge.NewGitHub(forge.GitHubOptions{Token: cfg.Forge.Token, BaseURL: cfg.Forge.BaseURL,
			Owner: cfg.Forge.Owner, Repo: cfg.Forge.Repo, Logger: logger})
	default:
		f, err = forge.NewPlain(cfg.proposalsDir(), logger)
	}
	if err != nil {
		return nil, err
	}
	return New(cfg, Deps{Source: w, Registry: w, Repo: r, Forge: f, Metrics: m, Logger: logger})
}

// gitAuth is cfg.GitAuth, or basic auth with cfg.GitToken as the password.
func gitAuth(cfg Config) transport.AuthMethod {
	if cfg.GitAuth != nil {
		return cfg.GitAuth
	}
	if cfg.GitToken != "" {
		return &githttp.BasicAuth{Username: "x-access-token", Password: cfg.GitToken}
	}
	return nil
}

// Metrics returns the bot's metrics.
func (b *Bot) Metrics() *Metrics { return b.metrics }

// Run follows the chain and proposes its events until ctx is cancelled
// (then it returns nil once the source has stopped). It returns an error
// when the source fails for good.
func (b *Bot) Run(ctx context.Context) error {
	if b.src == nil {
		return errors.New("bot: no chain source")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events := make(chan chain.Event, 256)
	srcDone := make(chan error, 1)
	go func() { srcDone <- b.src.Run(ctx, events) }()
	stop := func(err error) error {
		cancel()
		if serr := <-srcDone; err == nil && serr != nil {
			err = fmt.Errorf("bot: chain source: %w", serr)
		}
		return err
	}
	if b.cfg.SyncOnStart {
		b.runSync(ctx)
	}
	var syncC <-chan time.Time
	if b.cfg.SyncInterval > 0 {
		t := time.NewTicker(b.cfg.SyncInterval)
		defer t.Stop()
		syncC = t.C
	}
	retry := time.NewTimer(0)
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return stop(nil)
		case err := <-srcDone:
			if ctx.Err() != nil {
				return nil
			}
			if err == nil {
				err = errors.New("the source stopped")
			}
			return fmt.Errorf("bot: chain source: %w", err)
		case e := <-events:
			b.HandleEvent(ctx, e)
		case <-syncC:
			b.runSync(ctx)
		case <-retry.C:
			b.retryDue(ctx)
		case <-b.wake:
		}
		if d, ok := b.nextRetry(); ok {
			retry.Reset(d)
		}
	}
}

func (b *Bot) runSync(ctx context.Context) {
	rep, err := b.Sync(ctx)
	if err != nil {
		b.log.Error("full sync failed", "err", err)
		return
	}
	b.log.Info("full sync done", "block", rep.Block, "nodes", len(rep.Results), "changed", rep.Changed)
}

// HandleEvent proposes what one chain event asks for. Errors are logged,
// and transient ones retried later (see Run); the result says what was done.
func (b *Bot) HandleEvent(ctx context.Context, e chain.Event) NodeResult {
	b.metrics.event(e)
	kind, rec := e.Effective()
	prov := provenanceOf(e)
	log := b.log.With("event", e.Kind, "removed", e.Removed, "block", e.Block, "tx", e.TxHash, "log_index", e.LogIndex, "pubkey", rec.PubKey)
	var want *chain.Record
	if kind != chain.NodeRemoved {
		want = &rec
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if desiredPubKey(rec.PubKey) {
		b.save(func(d *stateData) { d.Provenance[rec.PubKey] = prov })
	}
	res, err := b.reconcile(ctx, rec.PubKey, want, prov, true)
	b.finish(ctx, log, rec.PubKey, want, prov, &res, err, true)
	return res
}

// finish logs a reconcile's outcome, counts refusals and schedules a retry
// of transient failures.
func (b *Bot) finish(ctx context.Context, log *slog.Logger, pubKey string, want *chain.Record, prov Provenance, res *NodeResult, err error, fromEvent bool) {
	var refused *refusedError
	switch {
	case err == nil:
		log.Info("node reconciled", "action", res.Action, "detail", res.Detail, "pr", prNumber(res.PullRequest))
		if desiredPubKey(pubKey) {
			b.save(func(d *stateData) { delete(d.Pending, pubKey); delete(d.Refused, pubKey) })
		}
	case errors.As(err, &refused):
		log.Warn("node refused", "reason", refused.Error())
		if fromEvent {
			b.metrics.invalid.Inc()
		}
		res.Action, res.Detail = ResultInvalid, refused.Error()
		if desiredPubKey(pubKey) {
			b.save(func(d *stateData) { delete(d.Pending, pubKey); d.Refused[pubKey] = refused.Error() })
		}
	case ctx.Err() != nil:
		res.Action, res.Detail = ResultFailed, err.Error()
		b.schedule(pubKey, want, prov, err)
	default:
		log.Error("proposing the node failed; will retry", "err", err)
		res.Action, res.Detail = ResultFailed, err.Error()
		b.schedule(pubKey, want, prov, err)
	}
}

// schedule records a node for retry with exponential backoff.
func (b *Bot) schedule(pubKey string, want *chain.Record, prov Provenance, cause error) {
	if !desiredPubKey(pubKey) {
		return
	}
	b.save(func(d *stateData) {
		p := d.Pending[pubKey]
		if p == nil {
			p = &pendingWork{}
			d.Pending[pubKey] = p
		}
		p.Want, p.Prov, p.LastError = want, prov, cause.Error()
		p.Attempts++
		delay := b.cfg.RetryMin
		for i := 1; i < p.Attempts && delay < b.cfg.RetryMax; i++ {
			delay *= 2
		}
		p.NotBefore = b.now().Add(min(delay, b.cfg.RetryMax))
	})
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// nextRetry is the time until the earliest retry.
func (b *Bot) nextRetry() (time.Duration, bool) {
	var next time.Time
	b.st.read(func(d *stateData) {
		for _, p := range d.Pending {
			if next.IsZero() || p.NotBefore.Before(next) {
				next = p.NotBefore
			}
		}
	})
	if next.IsZero() {
		return 0, false
	}
	return max(next.Sub(b.now()), 0), true
}

// retryDue retries every node whose backoff has passed.
func (b *Bot) retryDue(ctx context.Context) {
	type due struct {
		key string
		p   pendingWork
	}
	var work []due
	now := b.now()
	b.st.read(func(d *stateData) {
		for _, k := range sortedKeys(d.Pending) {
			if p := d.Pending[k]; !p.NotBefore.After(now) {
				work = append(work, due{k, *p})
			}
		}
	})
	for _, w := range work {
		if ctx.Err() != nil {
			return
		}
		b.mu.Lock()
		log := b.log.With("pubkey", w.key, "attempt", w.p.Attempts+1)
		res, err := b.reconcile(ctx, w.key, w.p.Want, w.p.Prov, true)
		b.finish(ctx, log, w.key, w.p.Want, w.p.Prov, &res, err, false)
		b.mu.Unlock()
	}
}

// desiredPubKey reports whether s can key the bot's state (a valid pubKey).
func desiredPubKey(s string) bool { return desired.ValidPubKey(s) }

func prNumber(pr *forge.PullRequest) int {
	if pr == nil {
		return 0
	}
	return pr.Number
}

// save changes the persistent state; a failure to write it is logged (the
// state only saves work: it is rebuilt from git and the forge).
func (b *Bot) save(fn func(d *stateData)) {
	if err := b.st.update(fn); err != nil {
		b.log.Error("saving the bot state", "err", err)
	}
}
