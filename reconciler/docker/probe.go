package docker

import (
	"context"
	"sync"
	"time"

	"github.com/ddc-gitops/ddc-gitops/desired"
)

// prober runs the HTTP health check of each running container on its
// interval, in its own goroutine, until the container changes or Close.
type prober struct {
	eng    *Engine
	ctx    context.Context
	cancel context.CancelFunc
	// onChange is called (from a probe goroutine) when a container's
	// health changes.
	onChange func(name, health string)

	mu     sync.Mutex
	probes map[string]*probe
	wg     sync.WaitGroup
}

type probe struct {
	id     string // the container it checks
	spec   desired.ContainerHealth
	addr   string
	cancel context.CancelFunc

	// guarded by prober.mu
	health  string
	lastErr string
}

func newProber(eng *Engine, onChange func(name, health string)) *prober {
	ctx, cancel := context.WithCancel(context.Background())
	return &prober{eng: eng, ctx: ctx, cancel: cancel, onChange: onChange, probes: map[string]*probe{}}
}

// ensure checks container id (name) with h at addr from now on, unless it
// already does; a nil h stops checking it.
func (p *prober) ensure(name, id string, h *desired.ContainerHealth, addr string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := p.probes[name]
	if h != nil && old != nil && old.id == id && old.spec == *h && old.addr == addr {
		return
	}
	if old != nil {
		old.cancel()
		delete(p.probes, name)
	}
	if h == nil || p.ctx.Err() != nil {
		return
	}
	ctx, cancel := context.WithCancel(p.ctx)
	pr := &probe{id: id, spec: *h, addr: addr, cancel: cancel, health: HealthStarting}
	p.probes[name] = pr
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.run(ctx, name, pr)
	}()
}

// stop stops checking name.
func (p *prober) stop(name string) { p.ensure(name, "", nil, "") }

// health returns name's health and the last check's error.
func (p *prober) health(name string) (string, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pr := p.probes[name]
	if pr == nil {
		return HealthNone, ""
	}
	return pr.health, pr.lastErr
}

func (p *prober) run(ctx context.Context, name string, pr *probe) {
	fails := 0
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := p.check(ctx, pr)
		if ctx.Err() != nil {
			return
		}
		p.mu.Lock()
		prev := pr.health
		if err == nil {
			fails = 0
			pr.health, pr.lastErr = HealthHealthy, ""
		} else {
			fails++
			pr.lastErr = err.Error()
			if fails >= pr.spec.Retries {
				pr.health = HealthUnhealthy
			}
		}
		now := pr.health
		p.mu.Unlock()
		if now != prev && p.onChange != nil {
			p.onChange(name, now)
		}
		t.Reset(pr.spec.Interval.D())
	}
}

// check runs one check of pr's container.
func (p *prober) check(ctx context.Context, pr *probe) error {
	c, err := p.eng.Inspect(ctx, pr.id)
	if err != nil {
		return err
	}
	if c.State == nil || !c.State.Running || c.State.Pid == 0 {
		return errNotRunning
	}
	return checkHTTP(ctx, c.State.Pid, pr.addr, pr.spec.Path, pr.spec.ExpectStatus, pr.spec.Timeout.D())
}

// Close stops every probe and waits for them.
func (p *prober) Close() {
	p.cancel()
	p.wg.Wait()
}

type notRunningError struct{}

func (notRunningError) Error() string { return "the container is not running" }

var errNotRunning error = notRunningError{}
