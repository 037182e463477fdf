package plan

import (
	"fmt"
	"runtime"
	"sort"
	"sync"

	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/render"
)

// Compute renders every host of both revisions and diffs them by host name.
// A nil fleet is an empty one: Compute(nil, f, opts) plans a first deploy.
// Hosts without changes are listed with action none.
func Compute(old, new *desired.Fleet, opts render.Options) (*Plan, error) {
	// The two revisions render independently: in parallel.
	var (
		oh   []*render.Host
		oErr error
		wg   sync.WaitGroup
	)
	wg.Go(func() { oh, oErr = renderFleet(old, opts) })
	nh, nErr := renderFleet(new, opts)
	wg.Wait()
	if oErr != nil {
		return nil, fmt.Errorf("planning: rendering the old revision: %w", oErr)
	}
	if nErr != nil {
		return nil, fmt.Errorf("planning: rendering the new revision: %w", nErr)
	}
	p := DiffHosts(oh, nh)
	p.Containers = DiffContainers(old, new)
	if p.DNS, nErr = DiffDNS(old, new); nErr != nil {
		return nil, nErr
	}
	return p, nil
}

func renderFleet(f *desired.Fleet, opts render.Options) ([]*render.Host, error) {
	if f == nil {
		return nil, nil
	}
	return render.RenderAll(f, opts)
}

// DiffHosts diffs two revisions' rendered hosts by name, sorted by host
// name. A name present only in old is a removed host, only in new a new one.
// Should a name appear twice in one list, its first host is used.
func DiffHosts(old, new []*render.Host) *Plan {
	byName := make(map[string][2]*render.Host, len(old)+len(new))
	for _, h := range old {
		if p := byName[h.Name]; p[0] == nil {
			p[0] = h
			byName[h.Name] = p
		}
	}
	for _, h := range new {
		if p := byName[h.Name]; p[1] == nil {
			p[1] = h
			byName[h.Name] = p
		}
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	p := &Plan{Hosts: make([]HostPlan, len(names))}
	// Hosts diff independently: spread them over the CPUs, each result in
	// its own slot so the order stays fixed.
	workers := min(runtime.GOMAXPROCS(0), len(names))
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				pair := byName[names[i]]
				p.Hosts[i] = Diff(pair[0], pair[1])
			}
		})
	}
	for i := range names {
		next <- i
	}
	close(next)
	wg.Wait()
	return p
}
