package bot

import (
	"errors"
	"fmt"
	"net/mail"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"
	"golang.org/x/crypto/ssh"

	"github.com/ddc-gitops/ddc-gitops/desired"
)

// Defaults for Config fields left zero.
const (
	DefaultBranch      = "main"
	DefaultAuthorName  = "ddc-gitops-bot"
	DefaultAuthorEmail = "ddc-gitops-bot@users.noreply.ddc-gitops.dev"
	DefaultLabel       = "node-admission"
	DefaultRetryMin    = 2 * time.Second
	DefaultRetryMax    = 5 * time.Minute
)

// Forge kinds, the values of ForgeConfig.Kind.
const (
	ForgeNone   = "none"
	ForgeGitHub = "github"
)

// Config is everything `ddc-gitops bot` is configured with. Open builds the
// chain watcher, the repository clone and the forge from it; New takes
// those ready-made (tests) and uses the rest.
type Config struct {
	// RPCURL is the chain's JSON-RPC endpoint (http, https, ws or wss).
	RPCURL string
	// Contract is the NodeRegistry address (0x + 40 hex).
	Contract string
	// Confirmations is how deep below the head a block must be before its
	// events are acted on. Finalized follows the `finalized` tag instead.
	Confirmations uint64
	Finalized     bool
	// StartBlock is the contract's deployment block (where history starts
	// without a checkpoint); SnapshotStart reads the registry at the
	// confirmed block instead of replaying history on the first start.
	StartBlock    uint64
	SnapshotStart bool
	// PollInterval is the chain watcher's polling backstop (default 15s).
	PollInterval time.Duration

	// StateDir holds the chain checkpoint (chain/), the repository clone
	// (repo/), the clone used to inspect proposal branches (branches/), the
	// bot's own state (bot-state.json) and, without a forge, the proposals
	// record (proposals/pull-requests.json).
	StateDir string

	// ClusterZones maps a DDC cluster id (0x + 40 lowercase hex) to the zone
	// whose HAProxy hosts serve its nodes; DefaultZone takes the clusters
	// not in the map (empty: such nodes are reported invalid, no proposal).
	ClusterZones map[string]string
	DefaultZone  string
	// PruneClusters lists the clusters whose node files the bot owns: a full
	// sync proposes removing a node of these clusters that the registry does
	// not hold at all (default: the clusters of ClusterZones). Nodes the
	// registry holds but does not admit are always proposed for removal.
	PruneClusters []string
	// Weight, when > 0, is written as the weight of new node files; 0 leaves
	// weight out so the backends' serverDefaults apply.
	Weight int

	// RepoURL is the fleet repository (https://, ssh://, file:// or a path)
	// and Branch its main branch (default main).
	RepoURL string
	Branch  string
	// GitAuth authenticates git fetches and pushes; when nil and GitToken is
	// set, the token is sent as the password of HTTP basic auth.
	GitAuth  transport.AuthMethod
	GitToken string

	// Forge says where proposals go: a GitHub pull request, or (Kind none)
	// just the branch, recorded in the state directory.
	Forge ForgeConfig
	// Labels are added to every proposal, after node-admission and the
	// action label (add, update or remove).
	Labels []string
	// Author is the identity of the bot's commits. A proposal branch with a
	// commit by anyone else is never force-pushed.
	Author Identity
	// Signer, when set, signs the bot's commits (git's gpg.format=ssh
	// format), so that agents with a trust policy accept them once merged.
	Signer ssh.Signer

	// SyncOnStart runs a full sync (registry vs. main) when Run starts;
	// SyncInterval repeats it (0: never).
	SyncOnStart  bool
	SyncInterval time.Duration
	// RetryMin and RetryMax bound the backoff of a node whose proposal
	// failed for a transient reason (git or forge unreachable).
	RetryMin, RetryMax time.Duration
}

// ForgeConfig selects and configures the forge.
type ForgeConfig struct {
	// Kind is "github" or "none" (default none).
	Kind string
	// Owner and Repo name the GitHub repository; Token authenticates;
	// BaseURL is the REST API root for GitHub Enterprise.
	Owner, Repo, Token, BaseURL string
}

// Identity is a git author.
type Identity struct {
	Name, Email string
}

func (c *Config) setDefaults() {
	if c.Branch == "" {
		c.Branch = DefaultBranch
	}
	if c.Forge.Kind == "" {
		c.Forge.Kind = ForgeNone
	}
	if c.Author.Name == "" {
		c.Author.Name = DefaultAuthorName
	}
	if c.Author.Email == "" {
		c.Author.Email = DefaultAuthorEmail
	}
	if c.RetryMin <= 0 {
		c.RetryMin = DefaultRetryMin
	}
	if c.RetryMax <= 0 {
		c.RetryMax = DefaultRetryMax
	}
	if c.PruneClusters == nil {
		for id := range c.ClusterZones {
			c.PruneClusters = append(c.PruneClusters, id)
		}
		sort.Strings(c.PruneClusters)
	}
}

// validate checks the parts of the configuration New uses. Chain and
// repository settings are checked by Open, which uses them.
func (c *Config) validate() error {
	var errs []error
	if c.StateDir == "" {
		errs = append(errs, errors.New("a state directory is required"))
	}
	for id, zone := range c.ClusterZones {
		if !desired.ValidClusterID(id) {
			errs = append(errs, fmt.Errorf("cluster-zone mapping: cluster id %q: want 0x and 40 lowercase hex digits", id))
		}
		if !desired.ValidName(zone) {
			errs = append(errs, fmt.Errorf("cluster-zone mapping: zone %q of cluster %s is not a valid zone name", zone, id))
		}
	}
	for _, id := range c.PruneClusters {
		if !desired.ValidClusterID(id) {
			errs = append(errs, fmt.Errorf("prune clusters: cluster id %q: want 0x and 40 lowercase hex digits", id))
		}
	}
	if c.DefaultZone != "" && !desired.ValidName(c.DefaultZone) {
		errs = append(errs, fmt.Errorf("default zone %q is not a valid zone name", c.DefaultZone))
	}
	if c.Weight < 0 || c.Weight > 256 {
		errs = append(errs, fmt.Errorf("weight %d is out of range 0..256", c.Weight))
	}
	if strings.ContainsAny(c.Author.Name, "<>\n") {
		errs = append(errs, fmt.Errorf("author name %q must not contain '<', '>' or a newline", c.Author.Name))
	}
	if a, err := mail.ParseAddress(c.Author.Email); err != nil || a.Address != c.Author.Email {
		errs = append(errs, fmt.Errorf("author email %q is not a plain e-mail address", c.Author.Email))
	}
	for _, l := range c.Labels {
		if strings.TrimSpace(l) == "" || len(l) > 50 || strings.ContainsAny(l, ",\n") {
			errs = append(errs, fmt.Errorf("label %q: want 1 to 50 characters without ',' or a newline", l))
		}
	}
	switch c.Forge.Kind {
	case ForgeNone:
	case ForgeGitHub:
		if c.Forge.Owner == "" || c.Forge.Repo == "" {
			errs = append(errs, errors.New("forge github: owner and repository are required"))
		}
	default:
		errs = append(errs, fmt.Errorf("forge %q: want github or none", c.Forge.Kind))
	}
	if c.RetryMax < c.RetryMin {
		errs = append(errs, fmt.Errorf("retry max %s is below retry min %s", c.RetryMax, c.RetryMin))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("bot configuration: %w", err)
	}
	return nil
}

// Paths inside StateDir.
func (c *Config) chainDir() string     { return filepath.Join(c.StateDir, "chain") }
func (c *Config) repoDir() string      { return filepath.Join(c.StateDir, "repo") }
func (c *Config) branchesDir() string  { return filepath.Join(c.StateDir, "branches") }
func (c *Config) proposalsDir() string { return filepath.Join(c.StateDir, "proposals") }
func (c *Config) statePath() string    { return filepath.Join(c.StateDir, "bot-state.json") }

// ParseClusterZones parses a cluster-to-zone mapping written as
// "0xCLUSTER=zone,0xCLUSTER=zone" (the form of the --cluster-zone flag;
// spaces around items are ignored). Cluster ids are lowercased.
func ParseClusterZones(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		id, zone, ok := strings.Cut(item, "=")
		id, zone = strings.ToLower(strings.TrimSpace(id)), strings.TrimSpace(zone)
		if !ok || id == "" || zone == "" {
			return nil, fmt.Errorf("cluster-zone mapping %q: want 0xCLUSTER=zone", item)
		}
		if !desired.ValidClusterID(id) {
			return nil, fmt.Errorf("cluster-zone mapping %q: cluster id: want 0x and 40 hex digits", item)
		}
		if !desired.ValidName(zone) {
			return nil, fmt.Errorf("cluster-zone mapping %q: %q is not a valid zone name", item, zone)
		}
		if prev, dup := out[id]; dup && prev != zone {
			return nil, fmt.Errorf("cluster-zone mapping: cluster %s is mapped to both %s and %s", id, prev, zone)
		}
		out[id] = zone
	}
	return out, nil
}
