package docker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
	"github.com/ddc-gitops/ddc-gitops/desired"
)

// Drift modes (as for HAProxy).
const (
	DriftCorrect = "correct" // report drift and put the container back
	DriftWarn    = "warn"    // only report drift
)

// Container operations, the label of ddc_gitops_agent_container_ops_total.
const (
	OpCreate   = "create"   // a declared container that did not exist
	OpReplace  = "replace"  // its spec or image changed
	OpRecreate = "recreate" // drift: removed, stopped or killed by hand
	OpRemove   = "remove"   // no longer declared
)

// ReconcilerConfig configures a Reconciler.
type ReconcilerConfig struct {
	Engine *Engine
	// Host is this container host's name in the desired state.
	Host string
	// Networking is NetworkMacvlan (default) or NetworkNone.
	Networking string
	// Drift is DriftCorrect (default) or DriftWarn.
	Drift string
	// StopGrace is how long a container may take to stop (default 10s).
	StopGrace time.Duration
	// PullTimeout bounds an image pull (default 2m).
	PullTimeout time.Duration
	// DrainDelay is how long a container that served a backend keeps
	// running after it left git, so the zone's HAProxy hosts (which apply
	// the same commit) take its server out before it stops (default 0).
	DrainDelay time.Duration
	// OnHealth is called when a container's health changes.
	OnHealth func(name, health string)
	Logger   *slog.Logger
}

// Reconciler makes one engine run the containers declared for its host.
// Apply calls run one at a time; Status may be called at any time.
type Reconciler struct {
	cfg    ReconcilerConfig
	eng    *Engine
	log    *slog.Logger
	probes *prober

	mu sync.Mutex // serialises Apply; guards last
	// smu guards ran, recreated and the Result of a pass while its
	// containers are reconciled concurrently.
	smu sync.Mutex
	// ran is the spec hash of each container this agent has seen running:
	// its absence or a stop is drift, not a first deploy.
	ran map[string]string
	// recreated counts the agent's recreations per container.
	recreated map[string]int
	last      []agentapi.ContainerStatus
}

// NewReconciler checks cfg and applies defaults.
func NewReconciler(cfg ReconcilerConfig) (*Reconciler, error) {
	if cfg.Engine == nil {
		return nil, errors.New("container reconciler: no engine")
	}
	if cfg.Host == "" {
		return nil, errors.New("container reconciler: no host name")
	}
	switch cfg.Networking {
	case "":
		cfg.Networking = NetworkMacvlan
	case NetworkMacvlan, NetworkNone:
	default:
		return nil, fmt.Errorf("container reconciler: networking %q is not %s or %s", cfg.Networking, NetworkMacvlan, NetworkNone)
	}
	switch cfg.Drift {
	case "":
		cfg.Drift = DriftCorrect
	case DriftCorrect, DriftWarn:
	default:
		return nil, fmt.Errorf("container reconciler: drift %q is not %s or %s", cfg.Drift, DriftCorrect, DriftWarn)
	}
	if cfg.StopGrace <= 0 {
		cfg.StopGrace = 10 * time.Second
	}
	if cfg.PullTimeout <= 0 {
		cfg.PullTimeout = 2 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Reconciler{
		cfg: cfg, eng: cfg.Engine, log: cfg.Logger,
		probes:    newProber(cfg.Engine, cfg.OnHealth),
		ran:       map[string]string{},
		recreated: map[string]int{},
	}, nil
}

// Close stops the health checks.
func (r *Reconciler) Close() { r.probes.Close() }

// Result is what one Apply did and found.
type Result struct {
	// Containers is the state of every declared container, by name.
	Containers []agentapi.ContainerStatus
	// Drift lists changes made by hand that the pass found.
	Drift []string
	// Ops counts the operations done, by Op*.
	Ops map[string]int
	// Steps are the durations of the pass's steps, in seconds.
	Steps map[string]float64
	// Err is a failure of the whole pass (engine unreachable, network);
	// per-container failures are in each ContainerStatus.Error.
	Err error
}

// Converged reports whether every declared container runs as declared.
func (res *Result) Converged() bool {
	if res.Err != nil {
		return false
	}
	for _, c := range res.Containers {
		if c.State != agentapi.ContainerRunning || c.Error != "" {
			return false
		}
	}
	return true
}

// Apply makes the engine run the containers f declares for this host at
// revision rev. Each container is handled on its own: one that fails (its
// image is missing, the engine refuses it) is reported and the others
// still reconcile. Containers without the agent's label are never touched.
func (r *Reconciler) Apply(ctx context.Context, rev string, f *desired.Fleet) Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	res := Result{Ops: map[string]int{}, Steps: map[string]float64{}}
	step := func(name string, fn func() error) error {
		t := time.Now()
		err := fn()
		res.Steps[name] = time.Since(t).Seconds()
		return err
	}
	want := f.ContainersOn(r.cfg.Host)
	z, h := f.ContainerHost(r.cfg.Host)
	if z == nil {
		res.Err = fmt.Errorf("host %s is not a container host of any zone at revision %s (containers: hosts: in a zone file); leaving the engine as it is", r.cfg.Host, shortRev(rev))
		return r.done(res, want)
	}
	if err := step("ping", func() error { _, err := r.eng.Ping(ctx); return err }); err != nil {
		res.Err = err
		return r.done(res, want)
	}
	var net *Network
	if r.cfg.Networking == NetworkMacvlan {
		err := step("network", func() error {
			n, err := ZoneNetwork(z, h)
			if err != nil {
				return err
			}
			net = &n
			return r.eng.EnsureNetwork(ctx, n)
		})
		if err != nil {
			res.Err = err
			return r.done(res, want)
		}
	}
	var managed []container.Summary
	if err := step("list", func() (err error) { managed, err = r.eng.Managed(ctx); return err }); err != nil {
		res.Err = err
		return r.done(res, want)
	}
	have := map[string]*container.Summary{}
	for i := range managed {
		c := &managed[i]
		name := c.Labels[LabelContainer]
		if prev := have[name]; prev != nil {
			// Two containers claim one name (a crash between create and
			// remove): keep the running one.
			drop := c
			if c.State == "running" && prev.State != "running" {
				have[name], drop = c, prev
			}
			if err := r.eng.Remove(ctx, drop.ID, r.cfg.StopGrace); err != nil {
				r.log.Warn("removing a duplicate container", "container", name, "err", err)
			}
			continue
		}
		have[name] = c
	}

	_ = step("containers", func() error {
		declared := map[string]bool{}
		for _, c := range want {
			declared[c.Name] = true
		}
		// Containers are independent: up to applyWorkers at once (the
		// engine serialises little of create and start).
		res.Containers = make([]agentapi.ContainerStatus, len(want))
		images := &imageCache{m: map[string]*imageEntry{}}
		sem := make(chan struct{}, applyWorkers)
		var wg sync.WaitGroup
		for i, c := range want {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				res.Containers[i] = r.one(ctx, rev, c, net, have[c.Name], &res, images)
			})
		}
		wg.Wait()
		var gone []*container.Summary
		served := false
		for name, c := range have {
			if !declared[name] {
				gone = append(gone, c)
				served = served || c.Labels[LabelServe] != ""
			}
		}
		if served && r.cfg.DrainDelay > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(r.cfg.DrainDelay):
			}
		}
		for _, c := range gone {
			name := c.Labels[LabelContainer]
			r.probes.stop(name)
			delete(r.ran, name)
			if err := r.eng.Remove(ctx, c.ID, r.cfg.StopGrace); err != nil {
				res.Drift = append(res.Drift, fmt.Sprintf("container %s is no longer declared but could not be removed: %v", name, err))
				continue
			}
			res.Ops[OpRemove]++
			r.log.Info("container removed", "container", name, "id", short(c.ID))
		}
		return nil
	})
	sort.Strings(res.Drift)
	r.last = res.Containers
	return res
}

// done fills the status of a pass that could not look at the containers.
func (r *Reconciler) done(res Result, want []*desired.Container) Result {
	for _, c := range want {
		st := agentapi.ContainerStatus{Name: c.Name, Image: c.Image, Address: c.Address, State: agentapi.ContainerUnknown, Health: HealthNone, Error: res.Err.Error()}
		for _, p := range r.last {
			if p.Name == c.Name {
				st.ID, st.StartedAt, st.Restarts, st.Revision = p.ID, p.StartedAt, p.Restarts, p.Revision
			}
		}
		res.Containers = append(res.Containers, st)
	}
	r.last = res.Containers
	return res
}

// one reconciles one declared container and returns its status.
func (r *Reconciler) one(ctx context.Context, rev string, c *desired.Container, net *Network, ex *container.Summary, res *Result, images *imageCache) agentapi.ContainerStatus {
	st := agentapi.ContainerStatus{Name: c.Name, Image: c.Image, Address: c.Address, Health: HealthNone}
	fail := func(state string, err error) agentapi.ContainerStatus {
		st.State, st.Error = state, err.Error()
		if ex != nil {
			st.ID = ex.ID
		}
		r.log.Warn("container not reconciled", "container", c.Name, "state", state, "err", err)
		return st
	}
	spec := NewSpec(c, r.cfg.Host, rev, net)
	imageID, err := images.get(c.Image, func() (string, error) { return r.eng.EnsureImage(ctx, c.Image, spec.Pull, r.cfg.PullTimeout) })
	if err != nil {
		if errors.Is(err, errImageMissing) {
			msg := strings.TrimPrefix(err.Error(), errImageMissing.Error())
			return fail(agentapi.ContainerImageMissing, fmt.Errorf("image %q not present on host %s%s", c.Image, r.cfg.Host, msg))
		}
		return fail(agentapi.ContainerError, err)
	}
	spec.Config.Labels[LabelImageID] = imageID

	op := OpCreate // what creating the container below is, when it is needed
	if ex != nil && (ex.Labels[LabelSpec] != spec.Hash || ex.Labels[LabelImageID] != imageID) {
		what := "its spec changed"
		if ex.Labels[LabelSpec] == spec.Hash {
			what = fmt.Sprintf("image %s now names %s", c.Image, short(strings.TrimPrefix(imageID, "sha256:")))
		}
		r.log.Info("replacing container", "container", c.Name, "why", what)
		if err := r.eng.Remove(ctx, ex.ID, r.cfg.StopGrace); err != nil {
			return fail(agentapi.ContainerError, fmt.Errorf("replacing (%s): %w", what, err))
		}
		ex = nil
		op = OpReplace
	} else if ex != nil && ex.State != "running" && ex.State != "restarting" {
		msg := fmt.Sprintf("container %s is %s (%s), not running", c.Name, ex.State, ex.Status)
		if r.cfg.Drift == DriftWarn {
			r.drift(res, msg+": not corrected (--drift=warn)")
			return r.status(ctx, st, ex.ID, c, spec)
		}
		r.drift(res, msg+": recreated")
		if err := r.eng.Remove(ctx, ex.ID, r.cfg.StopGrace); err != nil {
			return fail(agentapi.ContainerError, fmt.Errorf("recreating a stopped container: %w", err))
		}
		ex = nil
		op = OpRecreate
	} else if ex == nil && r.ranHash(c.Name) == spec.Hash {
		msg := fmt.Sprintf("container %s was removed by hand", c.Name)
		if r.cfg.Drift == DriftWarn {
			r.drift(res, msg+": not corrected (--drift=warn)")
			r.probes.stop(c.Name)
			st.State = agentapi.ContainerMissing
			return st
		}
		r.drift(res, msg+": recreated")
		op = OpRecreate
	}

	id := ""
	if ex != nil {
		id = ex.ID
	} else {
		if id, err = r.eng.Create(ctx, spec); err != nil {
			return fail(agentapi.ContainerError, err)
		}
		if err := r.eng.Start(ctx, id); err != nil {
			st.ID = id
			return fail(agentapi.ContainerError, err)
		}
		r.smu.Lock()
		res.Ops[op]++
		if op == OpRecreate {
			r.recreated[c.Name]++
		}
		r.smu.Unlock()
		r.log.Info("container started", "container", c.Name, "op", op, "id", short(id), "image", c.Image, "address", c.Address)
	}
	r.smu.Lock()
	r.ran[c.Name] = spec.Hash
	r.smu.Unlock()
	return r.status(ctx, st, id, c, spec)
}

// status completes st from the engine's view of container id and starts or
// keeps its health check.
func (r *Reconciler) status(ctx context.Context, st agentapi.ContainerStatus, id string, c *desired.Container, spec *Spec) agentapi.ContainerStatus {
	st.ID = id
	in, err := r.eng.Inspect(ctx, id)
	if err != nil {
		st.State, st.Error = agentapi.ContainerError, err.Error()
		return st
	}
	st.Revision = in.Config.Labels[LabelRevision]
	r.smu.Lock()
	st.Restarts = in.RestartCount + r.recreated[c.Name]
	r.smu.Unlock()
	if s := in.State; s != nil {
		st.State = s.Status
		if t, err := time.Parse(time.RFC3339Nano, s.StartedAt); err == nil && s.Running {
			st.StartedAt = t
		}
	}
	switch st.State {
	case "running":
		st.State = agentapi.ContainerRunning
		r.probes.ensure(c.Name, id, c.Health, spec.ProbeAddr)
	case "restarting":
		st.State = agentapi.ContainerRestarting
	case "created":
		st.State = agentapi.ContainerCreated
	default:
		st.State = agentapi.ContainerExited
	}
	if st.State != agentapi.ContainerRunning {
		r.probes.stop(c.Name)
	}
	if c.Health != nil {
		var herr string
		st.Health, herr = r.probes.health(c.Name)
		if st.Health == HealthUnhealthy && herr != "" {
			st.Error = "health check: " + herr
		}
	}
	return st
}

// applyWorkers bounds the containers one pass reconciles at once.
const applyWorkers = 4

// drift records a drift finding of a pass.
func (r *Reconciler) drift(res *Result, msg string) {
	r.smu.Lock()
	defer r.smu.Unlock()
	res.Drift = append(res.Drift, msg)
}

// ranHash is the spec hash name last ran with ("" if none).
func (r *Reconciler) ranHash(name string) string {
	r.smu.Lock()
	defer r.smu.Unlock()
	return r.ran[name]
}

// imageCache resolves each image reference once per pass, however many
// containers use it.
type imageCache struct {
	mu sync.Mutex
	m  map[string]*imageEntry
}

type imageEntry struct {
	once sync.Once
	id   string
	err  error
}

func (c *imageCache) get(ref string, resolve func() (string, error)) (string, error) {
	c.mu.Lock()
	e := c.m[ref]
	if e == nil {
		e = &imageEntry{}
		c.m[ref] = e
	}
	c.mu.Unlock()
	e.once.Do(func() { e.id, e.err = resolve() })
	return e.id, e.err
}

// Health returns the health of a container now (between passes).
func (r *Reconciler) Health(name string) string {
	h, _ := r.probes.health(name)
	return h
}

func shortRev(rev string) string {
	if len(rev) > 12 {
		return rev[:12]
	}
	return rev
}
