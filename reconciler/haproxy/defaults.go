package haproxy

import "time"

// The paths of Debian's haproxy package, which the agent's flags default to
// (reconciler.DefaultConfig) and a Process's zero fields mean. The runtime
// API socket's default is desired.DefaultAdminSocket: the fleet's
// haproxy.adminSocket renders it into haproxy.cfg.
const (
	DefaultBin          = "/usr/sbin/haproxy"
	DefaultConfigPath   = "/etc/haproxy/haproxy.cfg"
	DefaultMasterSocket = "/run/haproxy-master.sock"
	DefaultPIDFile      = "/run/haproxy.pid"
)

// How long a Process's soft stop (SIGUSR1: running sessions finish) and
// SIGTERM may take before the next signal, when StopGrace and KillGrace
// are zero.
const (
	DefaultStopGrace = 10 * time.Second
	DefaultKillGrace = 5 * time.Second
)
