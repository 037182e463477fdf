package reconciler

import (
	"cmp"
	"context"
	"os"
	"strings"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
	"github.com/ddc-gitops/ddc-gitops/reconciler/haproxy"
	"github.com/ddc-gitops/ddc-gitops/reconciler/keepalived"
)

// HostState reads the host now: every backend's servers through HAProxy's
// runtime API (servers awaiting admission reported as PENDING) and which
// VIPs of keepalived.conf are on this host's interfaces.
func (a *Agent) HostState(ctx context.Context) agentapi.HostState {
	pending := map[string]bool{}
	for _, k := range a.Status().Pending { // "backend/server: why"
		key, _, _ := strings.Cut(k, ":")
		pending[key] = true
	}
	out := agentapi.HostState{Host: a.cfg.Host, Backends: []agentapi.BackendState{}, VIPs: []agentapi.VIPState{}}
	// The server rows only, streamed: at 10,000 servers a full `show
	// stat` parsed into rows is tens of megabytes per status page refresh.
	idx := map[string]int{}
	var key []byte
	err := a.runtime.StatColumns(ctx, "show stat -1 4 -1", hostStateColumns, func(f [][]byte) error {
		if atoiStat(f[3]) != haproxy.StatServer {
			return nil
		}
		px := f[0]
		i, ok := idx[string(px)]
		if !ok {
			i = len(out.Backends)
			idx[string(px)] = i
			out.Backends = append(out.Backends, agentapi.BackendState{Name: string(px)})
		}
		st := serverStatus(string(f[2]))
		key = append(append(append(key[:0], px...), '/'), f[1]...)
		if pending[string(key)] {
			st = "PENDING"
		}
		out.Backends[i].Servers = append(out.Backends[i].Servers, agentapi.ServerState{Name: string(f[1]), Status: st, Backup: string(f[4]) == "1"})
		return nil
	})
	if err != nil {
		out.Error = err.Error()
	}
	if ka := a.cfg.Keepalived; ka != nil {
		if conf, err := os.ReadFile(cmp.Or(ka.ConfigPath, keepalived.DefaultConfigPath)); err == nil {
			for _, v := range KeepalivedVIPs(conf) {
				held, err := keepalived.State(ctx, ka.Netns, v.Interface, v.Address)
				if err != nil {
					a.log.Warn("reading VIP state", "vip", v.Address, "err", err)
				}
				out.VIPs = append(out.VIPs, agentapi.VIPState{Instance: v.Instance, Address: v.Address, Held: held})
			}
		}
	}
	return out
}

// hostStateColumns are the `show stat` columns HostState reads.
var hostStateColumns = []string{"pxname", "svname", "status", "type", "bck"}

// serverStatus reduces HAProxy's status column to its state: "UP 1/3"
// (going down) is UP, "DOWN 1/2" (going up) DOWN, "MAINT (via b/s)" MAINT;
// "no check" stays.
func serverStatus(s string) string {
	if s == "no check" {
		return s
	}
	word, _, _ := strings.Cut(s, " ")
	return word
}
