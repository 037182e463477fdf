package desired

import "time"

// Defaults applied by SetDefaults. They are documented in docs/desired-state.md.
const (
	DefaultMaxconn        = 20000
	DefaultHardStopAfter  = 30 * time.Second
	DefaultCrtBase        = "/etc/haproxy/certs"
	DefaultAdminSocket    = "/run/haproxy/admin.sock"
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
// after decoding and before validation; it never overrides a set value.
func SetDefaults(f *Fleet) {
	h := &f.HAProxy
	setInt(&h.Maxconn, DefaultMaxconn)
	setDur(&h.HardStopAfter, DefaultHardStopAfter)
	setStr(&h.CrtBase, DefaultCrtBase)
	setStr(&h.AdminSocket, DefaultAdminSocket)
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
	setDur(&sd.Slowstart, DefaultSlowstart)

	k := &f.Keepalived
	setDur(&k.AdvertInt, DefaultAdvertInt)
	setInt(&k.OwnerPriority, DefaultOwnerPriority)
	setBool(&k.Preempt, true)
	setStr(&k.ScriptUser, DefaultScriptUser)
	setStr(&k.TrackProcess, DefaultTrackProcess)

	for _, z := range f.Zones {
		setStr(&z.Network.Name, z.Name)
		for _, hst := range z.Hosts {
			setStr(&hst.Interface, DefaultInterface)
			setInt(&hst.Priority, DefaultHostPriority)
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
			setInt(&z.Stats.Bind.Port, DefaultStatsPort)
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
				setInt(&c.ExpectStatus, 200)
			}
			setDur(&c.Interval, DefaultCheckInterval)
			setInt(&c.Rise, DefaultCheckRise)
			setInt(&c.Fall, DefaultCheckFall)
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
		setDur(&b.ServerDefaults.Slowstart, h.ServerDefaults.Slowstart.D())
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
		setStr(&n.State, "ready")
	}
}

func setStr(p *string, v string) {
	if *p == "" {
		*p = v
	}
}

func setInt(p *int, v int) {
	if *p == 0 {
		*p = v
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
