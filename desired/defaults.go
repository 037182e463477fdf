package desired

import (
	"strconv"
	"time"
)

// Defaults applied by SetDefaults. They are documented in docs/desired-state.md.
const (
	DefaultMaxconn        = 20000
	DefaultHardStopAfter  = 30 * time.Second
	DefaultCrtBase        = "/etc/haproxy/certs"
	DefaultAdminSocket    = "/run/haproxy/admin.sock"
	DefaultLogTarget      = "/dev/log"
	DefaultServerWeight   = 100
	DefaultServerMaxconn  = 1000
	DefaultSlowstart      = 10 * time.Second
	DefaultAdvertInt      = time.Second
	DefaultOwnerPriority  = 150
	DefaultHostPriority   = 100
	DefaultInterface      = "eth0"
	DefaultScriptUser     = "root"
	DefaultTrackProcess   = "haproxy"
	DefaultStatsPort      = 8404
	DefaultStatsURI       = "/stats"
	DefaultMetricsPath    = "/metrics"
	DefaultCheckPath      = "/health"
	DefaultCheckInterval  = 2 * time.Second
	DefaultCheckRise      = 2
	DefaultCheckFall      = 3
	DefaultBackendRetries = 3
)

// SetDefaults fills every unset field with its default, in place. It runs
// after decoding and before validation; it never overrides a set value. For
// the numbers where 0 is not a usable value (priorities, rise, fall, ports,
// maxconn, intervals) an explicit 0 written in a file is kept, so validation
// reports it instead of silently replacing it; f.Source tells which fields
// the files set.
func SetDefaults(f *Fleet) {
	src := f.Source
	h := &f.HAProxy
	setIntAt(&h.Maxconn, DefaultMaxconn, src, FleetFile, "haproxy.maxconn")
	setDurAt(&h.HardStopAfter, DefaultHardStopAfter, src, FleetFile, "haproxy.hardStopAfter")
	setStr(&h.CrtBase, DefaultCrtBase)
	setStr(&h.AdminSocket, DefaultAdminSocket)
	setStr(&h.LogTarget, DefaultLogTarget)
	t := &h.Timeouts
	setDur(&t.Connect, 5*time.Second)
	setDur(&t.Client, 30*time.Second)
	setDur(&t.Server, 30*time.Second)
	setDur(&t.HTTPRequest, 10*time.Second)
	setDur(&t.HTTPKeepAlive, 10*time.Second)
	setDur(&t.Queue, 30*time.Second)
	setDur(&t.Tunnel, time.Hour)
	setDur(&t.Check, 5*time.Second)
	sd := &h.ServerDefaults
	setIntPtr(&sd.Weight, DefaultServerWeight)
	setIntPtr(&sd.Maxconn, DefaultServerMaxconn)
	setDurAt(&sd.Slowstart, DefaultSlowstart, src, FleetFile, "haproxy.serverDefaults.slowstart")

	k := &f.Keepalived
	setDurAt(&k.AdvertInt, DefaultAdvertInt, src, FleetFile, "keepalived.advertInt")
	setIntAt(&k.OwnerPriority, DefaultOwnerPriority, src, FleetFile, "keepalived.ownerPriority")
	setBool(&k.Preempt, true)
	setStr(&k.ScriptUser, DefaultScriptUser)
	setStr(&k.TrackProcess, DefaultTrackProcess)

	setStr(&f.NodeLayout, NodeLayoutFlat)
	setRolloutDefaults(f)
	for _, z := range f.Zones {
		setStr(&z.Network.Name, z.Name)
		for i, hst := range z.Hosts {
			setStr(&hst.Interface, DefaultInterface)
			setIntAt(&hst.Priority, DefaultHostPriority, src, z.File, "hosts["+strconv.Itoa(i)+"].priority")
		}
		for _, fe := range z.Frontends {
			setStr(&fe.Mode, "http")
			for i := range fe.Binds {
				setStr(&fe.Binds[i].Address, "*")
			}
			if fe.Mode != "tcp" {
				setBool(&fe.Options.ForwardFor, true)
				setBool(&fe.Options.HTTPLog, true)
			}
			if fe.TLS != nil {
				if len(fe.TLS.ALPN) == 0 {
					fe.TLS.ALPN = []string{"h2", "http/1.1"}
				}
				setStr(&fe.TLS.MinVersion, "TLSv1.2")
			}
		}
		if z.Stats != nil {
			setStr(&z.Stats.Bind.Address, "*")
			setIntAt(&z.Stats.Bind.Port, DefaultStatsPort, src, z.File, "stats.bind.port")
			setStr(&z.Stats.URI, DefaultStatsURI)
			setDur(&z.Stats.Refresh, 10*time.Second)
			setBool(&z.Stats.Prometheus, true)
			setStr(&z.Stats.MetricsPath, DefaultMetricsPath)
		}
	}

	for _, b := range f.Backends {
		setStr(&b.Mode, "http")
		setStr(&b.Balance, "roundrobin")
		if b.Check == nil && b.Mode != "tcp" {
			b.Check = &Check{}
		}
		if c := b.Check; c != nil {
			if b.Mode == "tcp" {
				setStr(&c.Type, "tcp")
			} else {
				setStr(&c.Type, "http")
			}
			if c.Type == "http" {
				setStr(&c.Method, "GET")
				setStr(&c.Path, DefaultCheckPath)
				setIntAt(&c.ExpectStatus, 200, src, b.File, "check.expectStatus")
			}
			setDurAt(&c.Interval, DefaultCheckInterval, src, b.File, "check.interval")
			setIntAt(&c.Rise, DefaultCheckRise, src, b.File, "check.rise")
			setIntAt(&c.Fall, DefaultCheckFall, src, b.File, "check.fall")
		}
		if b.Retries == nil {
			r := DefaultBackendRetries
			b.Retries = &r
		}
		setBool(&b.Redispatch, true)
		setBool(&b.ForwardFor, b.Mode != "tcp")
		if b.ServerDefaults.Weight == nil {
			b.ServerDefaults.Weight = h.ServerDefaults.Weight
		}
		if b.ServerDefaults.Maxconn == nil {
			b.ServerDefaults.Maxconn = h.ServerDefaults.Maxconn
		}
		setDurAt(&b.ServerDefaults.Slowstart, h.ServerDefaults.Slowstart.D(), src, b.File, "serverDefaults.slowstart")
		if b.Nodes != nil {
			if b.Mode == "grpc" {
				setStr(&b.Nodes.Port, "grpc")
			} else {
				setStr(&b.Nodes.Port, "http")
			}
		}
		if b.Failover != nil {
			setBool(&b.Failover.Enabled, true)
		}
		for _, s := range b.Servers {
			setStr(&s.State, "ready")
		}
	}

	for _, n := range f.Nodes {
		setNodeDefaults(n)
	}
	setContainerDefaults(f)
	setDNSDefaults(f)
	setHealthGateDefaults(f)
}

// setNodeDefaults fills one node's defaults (a Cache's incremental load
// calls it for the nodes it decodes).
func setNodeDefaults(n *Node) {
	setStr(&n.State, "ready")
}

func setStr(p *string, v string) {
	if *p == "" {
		*p = v
	}
}

// setIntAt sets *p to v when it is 0 and file does not set the field (an
// explicit 0 is kept for validation to report).
func setIntAt(p *int, v int, src Source, file, field string) {
	if *p == 0 && !src.has(file, field) {
		*p = v
	}
}

// setDurAt is setIntAt for durations.
func setDurAt(p *Duration, v time.Duration, src Source, file, field string) {
	if *p == 0 && !src.has(file, field) {
		*p = Duration(v)
	}
}

func setIntPtr(p **int, v int) {
	if *p == nil {
		*p = &v
	}
}

func setBool(p **bool, v bool) {
	if *p == nil {
		*p = &v
	}
}

func setDur(p *Duration, v time.Duration) {
	if *p == 0 {
		*p = Duration(v)
	}
}
