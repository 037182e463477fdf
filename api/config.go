package api

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/ddc-gitops/ddc-gitops/desired"
)

// Config configures the API server. Zero fields take the documented defaults.
type Config struct {
	// Listen is the address Run listens on (default :9080, the original
	// ConfigWatcher's port).
	Listen string
	// TLSCertFile and TLSKeyFile, when both set, make Run serve HTTPS.
	TLSCertFile, TLSKeyFile string
	// Version is reported by /health.
	Version string
	// Branch is the fleet's branch (default main): pull requests target it
	// and webhooks filter on it. It must be the branch the Repo writes.
	Branch string

	// Users may log in; there is no built-in user.
	Users []User
	// JWTSecret signs tokens (HS256); at least 32 bytes.
	JWTSecret []byte
	// JWTIssuer and JWTAudience are set in and required of every token
	// (defaults ddc-gitops and ddc-gitops-api).
	JWTIssuer, JWTAudience string
	// TokenTTL is how long a token is valid (default 1h).
	TokenTTL time.Duration
	// AuthRate and AuthBurst limit POST /auth/token per client address
	// (default 1 per second, burst 5).
	AuthRate  rate.Limit
	AuthBurst int

	// Agents are the per-host agents; AgentToken authenticates sync requests.
	Agents     []Agent
	AgentToken string
	// AgentTimeout bounds one call to one agent (default 5s).
	AgentTimeout time.Duration
	// NoSyncOnCommit stops the server from asking the affected zone's
	// agents to sync right after each commit to the branch (they still
	// notice it at their next poll or webhook).
	NoSyncOnCommit bool

	// DefaultZone serves the single-zone paths (/api/v1/backends/...) when
	// a request names no zone.
	DefaultZone string
	// Strict requires If-Match on every mutation (428 without it).
	Strict bool
	// AuthorEmailDomain makes commit authors <user>@<domain> (default ddc-gitops).
	AuthorEmailDomain string
	// MaxBodyBytes limits JSON request bodies (default 1 MiB).
	MaxBodyBytes int64

	// IdempotencyTTL and IdempotencyMax bound the replay store (default 24h, 10000 keys).
	IdempotencyTTL time.Duration
	IdempotencyMax int

	// WaitPoll is how often ?wait=applied polls the agents (default 1s);
	// WaitMax caps ?timeout= (default 5m).
	WaitPoll, WaitMax time.Duration

	// PR sends some mutations to pull requests instead of the branch.
	PR PRMode

	// GitHubWebhookSecret enables POST /api/v1/webhooks/github;
	// GenericWebhookSecret enables POST /api/v1/webhooks/generic.
	GitHubWebhookSecret, GenericWebhookSecret string
	// WebhookPaths are the fleet's path prefixes in the repository; a push
	// touching none of them is ignored (default: every push counts).
	WebhookPaths []string

	// CommitStatuses reports per-host commit statuses to the forge.
	CommitStatuses bool
	// StatusInterval is how often the reporter polls agents (default 10s);
	// StatusWindow is how long it follows a revision (default 30m).
	StatusInterval, StatusWindow time.Duration
	// PublicURL is the API's external base URL, for links in commit
	// statuses (e.g. https://gitops.example); optional.
	PublicURL string

	// Reverts proposes reverts of quarantined revisions (reverts.go).
	Reverts RevertOptions
}

// PRMode chooses the mutations that open a pull request instead of
// committing to the branch: by route ("POST /api/v1/config"; a zone
// variant /api/v1/zones/{zone}/... matches its single-zone form) or by role.
type PRMode struct {
	Routes []string
	Roles  []Role
	// Labels are put on the pull requests (default ddc-gitops, api).
	Labels []string
}

func (p PRMode) enabled() bool { return len(p.Routes) > 0 || len(p.Roles) > 0 }

// withDefaults fills unset fields and checks the rest.
func (c Config) withDefaults() (Config, error) {
	if c.Listen == "" {
		c.Listen = ":9080"
	}
	if c.Branch == "" {
		c.Branch = "main"
	}
	if c.JWTIssuer == "" {
		c.JWTIssuer = "ddc-gitops"
	}
	if c.JWTAudience == "" {
		c.JWTAudience = "ddc-gitops-api"
	}
	if c.TokenTTL <= 0 {
		c.TokenTTL = time.Hour
	}
	if c.AuthRate <= 0 {
		c.AuthRate = 1
	}
	if c.AuthBurst <= 0 {
		c.AuthBurst = 5
	}
	if c.AgentTimeout <= 0 {
		c.AgentTimeout = 5 * time.Second
	}
	if c.AuthorEmailDomain == "" {
		c.AuthorEmailDomain = "ddc-gitops"
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 1 << 20
	}
	if c.IdempotencyTTL <= 0 {
		c.IdempotencyTTL = 24 * time.Hour
	}
	if c.IdempotencyMax <= 0 {
		c.IdempotencyMax = 10000
	}
	if c.WaitPoll <= 0 {
		c.WaitPoll = time.Second
	}
	if c.WaitMax <= 0 {
		c.WaitMax = 5 * time.Minute
	}
	if c.StatusInterval <= 0 {
		c.StatusInterval = 10 * time.Second
	}
	if c.StatusWindow <= 0 {
		c.StatusWindow = 30 * time.Minute
	}
	if len(c.PR.Labels) == 0 {
		c.PR.Labels = []string{"ddc-gitops", "api"}
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	c.Reverts = c.Reverts.withDefaults(c.AuthorEmailDomain)

	var errs []error
	if c.DefaultZone != "" && !desired.ValidName(c.DefaultZone) {
		errs = append(errs, fmt.Errorf("default zone %q is not a valid zone name", c.DefaultZone))
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		errs = append(errs, errors.New("TLS needs both a certificate and a key file"))
	}
	for _, r := range c.PR.Routes {
		m, p, ok := strings.Cut(r, " ")
		if !ok || (m != "POST" && m != "DELETE") || !strings.HasPrefix(p, "/api/v1/") {
			errs = append(errs, fmt.Errorf("PR route %q: want \"POST /api/v1/...\" or \"DELETE /api/v1/...\" as in the OpenAPI document", r))
		}
	}
	for _, r := range c.PR.Roles {
		if r.rank() == 0 {
			errs = append(errs, fmt.Errorf("PR role %q: want viewer, operator or admin", r))
		}
	}
	if len(c.Users) == 0 {
		errs = append(errs, errors.New("no users: there is no built-in account; write a users file (passwords from `ddc-gitops api hash-password`)"))
	}
	return c, errors.Join(errs...)
}
