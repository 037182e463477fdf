// Package desired is the fleet's desired state: the model, its YAML loader and
// its validation. A fleet is a directory tree of YAML files read through an
// fs.FS, so the same loader reads a working directory or a git tree:
//
//	fleet.yaml                 kind: Fleet    global defaults
//	zones/<zone>/zone.yaml     kind: Zone     VIPs, HAProxy hosts, frontends, stats
//	backends/<backend>.yaml    kind: Backend  balance, health check, timeouts, servers
//	nodes/<node>.yaml          kind: Node     one DDC node per file (or
//	nodes/<shard>/<node>.yaml                 with nodeLayout: sharded)
//
// Every string that reaches haproxy.cfg or keepalived.conf is checked against a
// strict grammar (see grammar.go) so no input can inject a directive.
package desired

// File kinds, the value of the `kind` field of each file.
const (
	KindFleet   = "Fleet"
	KindZone    = "Zone"
	KindBackend = "Backend"
	KindNode    = "Node"
)

// Fleet is the whole desired state: fleet.yaml plus every zone, backend and node.
type Fleet struct {
	Kind       string         `yaml:"kind"`
	Name       string         `yaml:"name"`
	HAProxy    HAProxyGlobal  `yaml:"haproxy"`
	Keepalived KeepalivedConf `yaml:"keepalived"`
	// DNS is the geo DNS zone served by the fleet's DNS hosts (dns.go); nil
	// when the fleet serves no DNS.
	DNS *DNS `yaml:"dns"`
	// AddressPolicy says which special addresses servers and nodes may have.
	AddressPolicy AddressPolicy `yaml:"addressPolicy"`
	HealthGate    HealthGate    `yaml:"healthGate"` // the agents' health gate (healthgate.go)
	// Rollout configures rollout waves (rollout.go).
	Rollout Rollout `yaml:"rollout"`
	// Freeze lists the freeze windows (model_override.go).
	Freeze []FreezeWindow `yaml:"freeze"`
	// NodeLayout is where node files live: NodeLayoutFlat (the default)
	// or NodeLayoutSharded (nodelayout.go).
	NodeLayout string `yaml:"nodeLayout"`

	// Zones, Backends and Nodes are loaded from their own files, sorted by name.
	Zones    []*Zone    `yaml:"-"`
	Backends []*Backend `yaml:"-"`
	Nodes    []*Node    `yaml:"-"`
	// Containers are loaded from containers/<name>.yaml, sorted by name.
	Containers []*Container `yaml:"-"`
	// Overrides are loaded from overrides/<name>.yaml, sorted by name.
	Overrides []*Override `yaml:"-"`

	// Source is where each loaded object came from, for error positions.
	Source Source `yaml:"-"`
}

// HAProxyGlobal holds the fleet-wide HAProxy settings (global and defaults sections).
type HAProxyGlobal struct {
	Maxconn       int      `yaml:"maxconn"`
	Nbthread      int      `yaml:"nbthread"`
	HardStopAfter Duration `yaml:"hardStopAfter"`
	// CrtBase is the directory certificates are read from on the host. A
	// relative path is relative to the fleet directory (used by the examples,
	// which ship a self-signed test certificate); render --crt-base overrides it.
	CrtBase string `yaml:"crtBase"`
	// AdminSocket is the runtime API socket rendered into the global section.
	AdminSocket string `yaml:"adminSocket"`
	// LogTarget is where haproxy sends its log (the global `log` line): a
	// syslog unix socket path (default /dev/log), stdout or stderr (the
	// process's own output, which `agent --supervise` relays), or none (no
	// log at all, for hosts without syslog).
	LogTarget string   `yaml:"logTarget"`
	Timeouts  Timeouts `yaml:"timeouts"`
	// ServerDefaults apply to every server unless a backend or node overrides them.
	ServerDefaults ServerDefaults `yaml:"serverDefaults"`
}

// Timeouts are HAProxy timeouts. Zero means "inherit" (from the fleet, or HAProxy's default).
type Timeouts struct {
	Connect       Duration `yaml:"connect"`
	Client        Duration `yaml:"client"`
	Server        Duration `yaml:"server"`
	HTTPRequest   Duration `yaml:"httpRequest"`
	HTTPKeepAlive Duration `yaml:"httpKeepAlive"`
	Queue         Duration `yaml:"queue"`
	Tunnel        Duration `yaml:"tunnel"`
	Check         Duration `yaml:"check"`
}

// ServerDefaults are the per-server settings a backend applies to each of its
// servers. Rendered in full on every server line (runtime `add server` ignores
// default-server).
type ServerDefaults struct {
	Weight    *int     `yaml:"weight"`
	Maxconn   *int     `yaml:"maxconn"`
	Slowstart Duration `yaml:"slowstart"`
}

// KeepalivedConf holds the fleet-wide keepalived settings.
type KeepalivedConf struct {
	AdvertInt Duration `yaml:"advertInt"`
	// OwnerPriority is the VRRP priority a host gets for the VIPs it owns;
	// other hosts use their own (lower) priority.
	OwnerPriority int `yaml:"ownerPriority"`
	// Preempt lets an owner take its VIP back when it returns; PreemptDelay delays that.
	Preempt      *bool    `yaml:"preempt"`
	PreemptDelay Duration `yaml:"preemptDelay"`
	// ScriptUser runs tracking scripts (enable_script_security is always on).
	ScriptUser string `yaml:"scriptUser"`
	// TrackProcess is the process name keepalived tracks (vrrp_track_process).
	TrackProcess string `yaml:"trackProcess"`
	// TrackWeight is subtracted from a host's priority when haproxy is not running.
	TrackWeight int `yaml:"trackWeight"`
}

// Preempts reports whether an owner takes its VIP back when it returns:
// unless preempt is false (defaults set it true).
func (k *KeepalivedConf) Preempts() bool { return k.Preempt == nil || *k.Preempt }

// Zone is zones/<zone>/zone.yaml: one failure domain with its HAProxy hosts and VIPs.
type Zone struct {
	Kind    string  `yaml:"kind"`
	Name    string  `yaml:"name"`
	Network Network `yaml:"network"`
	// Failover lists the zones whose VIPs serve as backup servers when every
	// node of this zone is down, in order of preference.
	Failover  []string    `yaml:"failover"`
	VIPs      []*VIP      `yaml:"vips"`
	Hosts     []*Host     `yaml:"hosts"`
	Frontends []*Frontend `yaml:"frontends"`
	Stats     *Stats      `yaml:"stats"`
	// ClientNetworks are the client networks this zone is nearest to: DNS
	// answers clients there (by source address or EDNS Client Subnet) with
	// this zone's VIPs first (dns.go).
	ClientNetworks []string `yaml:"clientNetworks"`
	// ReloadGeneration is bumped to force one verified reload on the zone's hosts.
	ReloadGeneration int `yaml:"reloadGeneration"`
	// Wave is the rollout wave of the zone's first host; the others follow (rollout.go).
	Wave *int `yaml:"wave"`
	// Containers declares the zone's container hosts and address range.
	Containers *ZoneContainers `yaml:"containers"`

	File string `yaml:"-"`
}

// Network is the L2 segment a zone's hosts and VIPs live on. VRRP router IDs
// are unique per network name.
type Network struct {
	Name string `yaml:"name"`
	CIDR string `yaml:"cidr"`
}

// VIP is a virtual IP managed by keepalived: one VRRP instance.
type VIP struct {
	Name     string `yaml:"name"`
	Address  string `yaml:"address"`
	RouterID int    `yaml:"routerId"`
	// Interface overrides the host's interface for this VIP.
	Interface string `yaml:"interface"`
}

// Host is an HAProxy host of a zone.
type Host struct {
	Name      string `yaml:"name"`
	Address   string `yaml:"address"`
	Interface string `yaml:"interface"`
	// Priority is the host's VRRP priority for VIPs it does not own.
	Priority int `yaml:"priority"`
	// Owns names the VIPs this host is MASTER for (Active-Active: one each).
	Owns []string `yaml:"owns"`
	// Wave is the host's rollout wave and AgentURL where its peers read its
	// agent's status (rollout.go).
	Wave     *int   `yaml:"wave"`
	AgentURL string `yaml:"agentURL"`
}

// Frontend is an HAProxy frontend rendered on every host of the zone.
type Frontend struct {
	Name string `yaml:"name"`
	// Mode is http, grpc or tcp. grpc is HTTP mode with h2 on the binds.
	Mode           string    `yaml:"mode"`
	Binds          []Bind    `yaml:"binds"`
	DefaultBackend string    `yaml:"defaultBackend"`
	Routes         []Route   `yaml:"routes"`
	SetHeaders     []Header  `yaml:"setHeaders"`
	TLS            *TLS      `yaml:"tls"`
	Maxconn        int       `yaml:"maxconn"`
	Timeouts       Timeouts  `yaml:"timeouts"`
	Options        FEOptions `yaml:"options"`
}

// Bind is one listening address.
type Bind struct {
	Address string `yaml:"address"`
	Port    int    `yaml:"port"`
}

// Route sends matching requests to a backend; routes are evaluated in order.
type Route struct {
	PathPrefix string `yaml:"pathPrefix"`
	Host       string `yaml:"host"`
	Backend    string `yaml:"backend"`
}

// Header is an HTTP header set on requests.
type Header struct {
	Name  string `yaml:"name"`
	Value string `yaml:"value"`
}

// TLS terminates TLS on the frontend's binds.
type TLS struct {
	// Certificate is a PEM file (certificate and key) relative to crtBase, or absolute.
	Certificate string   `yaml:"certificate"`
	ALPN        []string `yaml:"alpn"`
	// MinVersion is the lowest TLS version offered (ssl-min-ver).
	MinVersion string `yaml:"minVersion"`
}

// FEOptions are frontend options.
type FEOptions struct {
	ForwardFor *bool `yaml:"forwardFor"`
	HTTPLog    *bool `yaml:"httpLog"`
}

// Stats is the zone's stats page and Prometheus exporter.
type Stats struct {
	Bind       Bind     `yaml:"bind"`
	URI        string   `yaml:"uri"`
	Refresh    Duration `yaml:"refresh"`
	Prometheus *bool    `yaml:"prometheus"`
	// MetricsPath is where the Prometheus exporter answers (default /metrics).
	MetricsPath string `yaml:"metricsPath"`
}

// Backend is backends/<backend>.yaml, rendered on every host.
type Backend struct {
	Kind string `yaml:"kind"`
	Name string `yaml:"name"`
	// Mode is http, grpc or tcp. grpc talks h2 (cleartext) to the servers.
	Mode    string `yaml:"mode"`
	Balance string `yaml:"balance"`
	// Check is the health check; nil means the default HTTP check for http/grpc backends.
	Check          *Check         `yaml:"check"`
	Timeouts       Timeouts       `yaml:"timeouts"`
	ServerDefaults ServerDefaults `yaml:"serverDefaults"`
	Retries        *int           `yaml:"retries"`
	Redispatch     *bool          `yaml:"redispatch"`
	ForwardFor     *bool          `yaml:"forwardFor"`
	// Nodes selects DDC nodes of the host's zone as servers.
	Nodes *NodeSelector `yaml:"nodes"`
	// Failover adds the failover zones' VIPs as backup servers.
	Failover *BackendFailover `yaml:"failover"`
	// Servers are static servers, in addition to the selected nodes.
	Servers []*Server `yaml:"servers"`

	File string `yaml:"-"`
}

// Check is a backend health check.
type Check struct {
	// Type is http (option httpchk) or tcp.
	Type         string   `yaml:"type"`
	Method       string   `yaml:"method"`
	Path         string   `yaml:"path"`
	HostHeader   string   `yaml:"hostHeader"`
	ExpectStatus int      `yaml:"expectStatus"`
	Interval     Duration `yaml:"interval"`
	Rise         int      `yaml:"rise"`
	Fall         int      `yaml:"fall"`
	// Port checks a different port than the one traffic goes to (e.g. a gRPC
	// backend checked over the node's HTTP port); "http", "grpc" or a number.
	Port string `yaml:"port"`
}

// NodeSelector picks admitted nodes of the host's zone and the port to use.
type NodeSelector struct {
	// Port is which node port servers use: http, grpc or p2p.
	Port  string   `yaml:"port"`
	Modes []string `yaml:"modes"`
	// Clusters restricts selection to these cluster IDs (empty: all).
	Clusters []string `yaml:"clusters"`
}

// BackendFailover configures cross-zone backup servers.
type BackendFailover struct {
	Enabled *bool `yaml:"enabled"`
	// Port is the port on the failover zones' VIPs (a frontend port there).
	Port int `yaml:"port"`
}

// Server is a static server of a backend.
type Server struct {
	Name    string `yaml:"name"`
	Address string `yaml:"address"`
	Port    int    `yaml:"port"`
	// Zone restricts the server to one zone's hosts; empty means every zone.
	Zone      string   `yaml:"zone"`
	Weight    *int     `yaml:"weight"`
	Maxconn   *int     `yaml:"maxconn"`
	Slowstart Duration `yaml:"slowstart"`
	Backup    bool     `yaml:"backup"`
	// State is the administrative state: ready (default), drain or maint.
	State string `yaml:"state"`
}

// Node is nodes/<name>.yaml: one DDC node, mirroring the DDC chain's node record.
type Node struct {
	Kind string `yaml:"kind"`
	// Name is the HAProxy server name; it must match the file name.
	Name       string `yaml:"name"`
	PubKey     string `yaml:"pubKey"`
	ProviderID string `yaml:"providerId"`
	ClusterID  string `yaml:"clusterId"`
	Host       string `yaml:"host"`
	Domain     string `yaml:"domain"`
	SSL        bool   `yaml:"ssl"`
	HTTPPort   int    `yaml:"httpPort"`
	GRPCPort   int    `yaml:"grpcPort"`
	P2PPort    int    `yaml:"p2pPort"`
	// Mode is full, storage, cache or dac.
	Mode     string `yaml:"mode"`
	Zone     string `yaml:"zone"`
	Weight   *int   `yaml:"weight"`
	Admitted bool   `yaml:"admitted"`
	// State is the administrative state: ready (default), drain or maint.
	State string `yaml:"state"`

	File string `yaml:"-"`
}

// AddressPolicy lists the special addresses a fleet lets servers and nodes
// use. By default a server or node address may not be loopback (127.0.0.0/8,
// ::1, localhost), link-local (169.254.0.0/16 with the cloud metadata service
// 169.254.169.254, fe80::/10) or unspecified, multicast or broadcast (never
// allowed): such an address in a pull request points the load balancers at
// themselves or at the host's metadata service.
type AddressPolicy struct {
	// AllowLoopback lets servers and nodes use loopback addresses (tests
	// and single-host setups).
	AllowLoopback bool `yaml:"allowLoopback"`
	// AllowLinkLocal lets servers and nodes use link-local addresses.
	AllowLinkLocal bool `yaml:"allowLinkLocal"`
}
