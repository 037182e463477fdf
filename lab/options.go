package lab

import (
	"io"
	"io/fs"
	"log/slog"
	"time"
)

// Defaults of Options.
const (
	DefaultPrefix   = "ddclab"
	DefaultStateDir = "/var/lib/ddc-gitops-lab"
	// LabMaxconn is the haproxy.maxconn the lab seeds when the file
	// descriptor limit cannot be raised to what the fleet's maxconn needs.
	LabMaxconn = 4096
	// DefaultPrometheusPort is the original lab's Prometheus port.
	DefaultPrometheusPort = 9090
	// DefaultAlertmanagerPort is Alertmanager's usual port.
	DefaultAlertmanagerPort = 9093
	// DefaultChainHTTPPort and DefaultChainWSPort are geth's usual
	// JSON-RPC ports.
	DefaultChainHTTPPort, DefaultChainWSPort = 8545, 8546
	// AgentPort is the port of every agent's HTTP API (/v1/sync), on the
	// agent's own address on the root namespace's uplink (198.19.255.10+i).
	AgentPort = 9100
)

// ZonePorts are the ports, on Options.ListenHost, that the lab forwards to
// one zone (0: a free port, reported in Info).
type ZonePorts struct {
	// LB forwards to the zone's first VIP on its first plain HTTP frontend port.
	LB int
	// Stats forwards to the zone's first VIP on its stats port.
	Stats int
	// API is where the zone's API (DefaultZone set to it) listens.
	API int
}

// DefaultPorts are the original docker-compose lab's ports: the EU load
// balancer on 80, the US one on 8086, stats on 8404 and 8406, the
// ConfigWatcher APIs on 9080 and 9081.
func DefaultPorts() map[string]ZonePorts {
	return map[string]ZonePorts{
		"eu": {LB: 80, Stats: 8404, API: 9080},
		"us": {LB: 8086, Stats: 8406, API: 9081},
	}
}

// Options configure Up. The zero value of every field but Fleet takes the
// documented default.
type Options struct {
	// Prefix starts the name of every namespace and root-namespace link of
	// the lab (default DefaultPrefix; 3 to 10 characters).
	Prefix string
	// StateDir holds the lab's repository, clone, host state and logs
	// (default DefaultStateDir). It is emptied at start: Up refuses a
	// non-empty directory it did not create.
	StateDir string
	// Fleet is the desired state seeded into the lab's repository
	// (e.g. os.DirFS("examples/fleet")); required.
	Fleet fs.FS
	// Exe is the ddc-gitops binary the children run as `Exe agent ...` and
	// `Exe lab nodesim ...` (default os.Executable()).
	Exe string
	// ChildEnv is appended to the children's environment.
	ChildEnv []string
	// ListenHost is the address the forwards, the APIs and the git server
	// listen on (default 127.0.0.1).
	ListenHost string
	// Ports per zone; a zone not in the map gets free ports. DefaultPorts
	// gives the original lab's.
	Ports map[string]ZonePorts
	// GitPort is the git server's port (0: a free one).
	GitPort int
	// NoChain leaves out the dev chain (geth --dev with the NodeRegistry),
	// the spare nodes and the bot.
	NoChain bool
	// ChainHTTPPort and ChainWSPort are the dev chain's JSON-RPC ports
	// (0: free ones; DefaultChainHTTPPort and DefaultChainWSPort are
	// geth's usual ones).
	ChainHTTPPort, ChainWSPort int
	// GethCacheDir is where the geth binary is built and kept between runs
	// (default devchain.DefaultCacheDir()).
	GethCacheDir string
	// BotConfirmations is the depth the lab's bot acts at (default 2; the
	// dev chain makes a block every second).
	BotConfirmations uint64
	// NoPrometheus leaves Prometheus and Alertmanager out (without it
	// both must be installed); PrometheusPort and AlertmanagerPort are
	// their ports (0: a free one; DefaultPrometheusPort and
	// DefaultAlertmanagerPort are the usual ones).
	NoPrometheus     bool
	PrometheusPort   int
	AlertmanagerPort int
	// AdminPassword is the API's admin password (default
	// $DDC_GITOPS_ADMIN_PASSWORD, else a random one printed once).
	AdminPassword string
	// Version is what the APIs' /health reports (default "lab").
	Version string
	// AgentPoll is the agents' poll interval (default 10s).
	AgentPoll time.Duration
	// StartTimeout bounds the wait for every zone's VIP to answer
	// (default 90s); StopTimeout how long a child may take to stop after
	// SIGTERM before it is killed (default 15s).
	StartTimeout, StopTimeout time.Duration
	// Out receives progress, the URLs and the admin password (default
	// discarded).
	Out io.Writer
	// Logger receives the lab's and the in-process APIs' logs (default
	// discarded). Children log to files under StateDir/logs.
	Logger *slog.Logger
	// Ready, when set, is called once every zone answers, with what the
	// lab runs.
	Ready func(Info)
}

// Info describes a running lab.
type Info struct {
	StateDir string
	// GitURL is the fleet repository (on ListenHost); CloneDir a working
	// clone of it for the user.
	GitURL, CloneDir string
	// AdminUser and AdminPassword log in to the APIs.
	AdminUser, AdminPassword string
	// Zones in name order.
	Zones []ZoneInfo
	// Children are the processes the lab started (agents, node simulators),
	// as they were when the lab became ready (Control.Children is current).
	Children []ChildInfo
	// Agents are the HAProxy hosts' agents, in the order of the fleet.
	Agents []AgentInfo
	// ContainerHosts are the zones' container hosts (dockerd and an agent
	// in the container role each).
	ContainerHosts []ContainerHostInfo
	// SyncToken authenticates POST /v1/sync on the agents.
	SyncToken string
	// Trust is the signing keys and the trust policy every agent runs with.
	Trust TrustInfo
	// PrometheusURL is the lab's Prometheus, with the fleet's alert rules
	// loaded; AlertmanagerURL its Alertmanager (both empty with
	// NoPrometheus).
	PrometheusURL, AlertmanagerURL string
	// Chain is the dev chain (nil without one).
	Chain *ChainInfo
	// DNS is the geo DNS part (nil when the fleet has no dns block).
	DNS *DNSInfo
	// WebhookURL is the API's GitHub webhook receiver that the git server
	// delivers every push to (signed with STATE-DIR/webhook-secret); the
	// receiver asks every agent to sync.
	WebhookURL string
	// Control acts on the running lab (stop, start or kill a child, reach
	// the git server) until Up returns.
	Control *Control
}

// ChainInfo is the lab's dev chain and bot.
type ChainInfo struct {
	// HTTPURL and WSURL are geth's JSON-RPC endpoints.
	HTTPURL, WSURL string
	// Contract is the NodeRegistry's address.
	Contract string
	// InfoFile holds what `ddc-gitops lab node` needs (keys, spares).
	InfoFile string
	// BotURL serves the bot's /metrics and /api/v1/blockchain/nodes.
	BotURL string
	// Spares are the node simulators outside the fleet, one per zone,
	// waiting to be registered and admitted.
	Spares []SpareInfo
}

// SpareInfo is a spare node: Name is the name the bot gives its node file
// (node-<12 hex digits of PubKey>), Machine its namespace's machine name.
type SpareInfo struct {
	Zone, Machine, Name, PubKey, Address string
}

// AgentInfo is the agent of one HAProxy host.
type AgentInfo struct {
	Host, Zone string
	// URL is the agent's HTTP API (/v1/status, /v1/sync).
	URL string
	// Dir holds the host's haproxy.cfg, master.sock, admin.sock,
	// keepalived.conf and keepalived.pid.
	Dir string
}

// ZoneInfo is one zone of a running lab.
type ZoneInfo struct {
	Name string
	// LBURL, StatsURL and APIURL are the forwarded endpoints (StatsURL is
	// empty for a zone without stats).
	LBURL, StatsURL, APIURL string
	// VIPs are the zone's virtual addresses, reachable from the root
	// namespace.
	VIPs []string
}

// ChildInfo is one child process.
type ChildInfo struct {
	// Name is "agent HOST", "node NODE" (a spare's NODE is ZONE-spare),
	// "bot bot" or "prometheus"; Machine is HOST, NODE, "bot" or
	// "prometheus". The dev chain's geth is not a child (Info.Chain).
	Name, Machine, Netns string
	PID                  int
	Log                  string
	// Exited is set (by Control.Children) for a child that is not running.
	Exited bool
}
