package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"

	"github.com/ddc-gitops/ddc-gitops/api"
	"github.com/ddc-gitops/ddc-gitops/bot"
	"github.com/ddc-gitops/ddc-gitops/bot/botapi"
	"github.com/ddc-gitops/ddc-gitops/forge"
	"github.com/ddc-gitops/ddc-gitops/internal/cmdkit"
	"github.com/ddc-gitops/ddc-gitops/repo"
)

type apiFlags struct {
	listen, tlsCert, tlsKey                   string
	repoURL, branch, repoDir, gitTokenFile    string
	usersFile, jwtSecretFile                  string
	tokenTTL                                  time.Duration
	authRate                                  float64
	authBurst                                 int
	agentsFile, agentTokenFile                string
	agentTimeout                              time.Duration
	noSyncOnCommit                            bool
	defaultZone                               string
	strict                                    bool
	prRoutes, prRoles, prLabels, webhookPaths []string
	forgeKind, ghOwner, ghRepo, ghTokenFile   string
	ghAPIURL, forgeStateDir                   string
	ghSecretFile, genericSecretFile           string
	gitAuth                                   gitAuthFlags
	commitStatuses                            bool
	publicURL                                 string
	reverts                                   api.RevertOptions
	logFormat, logLevel                       string
	signingKey                                string
	bot                                       botFlags
}

// maxTokenTTL is the longest API token lifetime accepted without a warning.
const maxTokenTTL = 24 * time.Hour

func newAPICmd() *cobra.Command {
	var f apiFlags
	cmd := &cobra.Command{
		Use:   "api",
		Short: "Serve the REST API that turns every change into a validated git commit (or a pull request)",
		Long: `api serves the original ConfigWatcher API paths under /api/v1 (token, config,
reload, backends/{backend}/servers, stats, revisions, webhooks) for every zone of
the fleet. It never talks to HAProxy: each mutation is validated with the same
code as 'ddc-gitops validate' and committed to --branch (or proposed as a pull
request in PR mode), then the zone's agents are asked to sync.

There are no built-in users: --users-file lists users with bcrypt password
hashes ('ddc-gitops api hash-password' makes one) and roles viewer, operator
or admin.`,
		Args: cmdkit.ArgsRange(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error { return runAPI(cmd.Context(), f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.listen, "listen", ":9080", "listen address")
	fl.StringVar(&f.tlsCert, "tls-cert", "", "serve HTTPS with this certificate (with --tls-key)")
	fl.StringVar(&f.tlsKey, "tls-key", "", "private key for --tls-cert")
	fl.StringVar(&f.repoURL, "repo", "", "fleet repository URL (required)")
	fl.StringVar(&f.branch, "branch", "main", "branch to commit to")
	fl.StringVar(&f.repoDir, "repo-dir", "/var/lib/ddc-gitops/api-repo", "where the API keeps its bare clone")
	fl.StringVar(&f.gitTokenFile, "git-token-file", "", "file holding an HTTPS token for the repository (or $DDC_GITOPS_GIT_TOKEN)")
	f.gitAuth.registerSSH(fl, "")
	fl.StringVar(&f.usersFile, "users-file", "", "YAML users file: users: [{username, passwordHash, role}] (required)")
	fl.StringVar(&f.jwtSecretFile, "jwt-secret-file", "", "file holding the JWT signing secret, at least 32 bytes (or $DDC_GITOPS_JWT_SECRET)")
	fl.DurationVar(&f.tokenTTL, "token-ttl", time.Hour, "lifetime of issued tokens")
	fl.Float64Var(&f.authRate, "auth-rate", 1, "POST /auth/token requests per second per client address")
	fl.IntVar(&f.authBurst, "auth-burst", 5, "burst of POST /auth/token requests per client address")
	fl.StringVar(&f.agentsFile, "agents-file", "", "YAML agents file: agents: [{host, zone, url}]")
	fl.StringVar(&f.agentTokenFile, "agent-token-file", "", "file holding the agents' sync token (or $DDC_GITOPS_SYNC_TOKEN)")
	fl.DurationVar(&f.agentTimeout, "agent-timeout", 5*time.Second, "timeout of one call to one agent")
	fl.BoolVar(&f.noSyncOnCommit, "no-sync-on-commit", false, "do not ask the zone's agents to sync after each commit")
	fl.StringVar(&f.defaultZone, "default-zone", "", "zone of the single-zone paths (/api/v1/backends/...), as in the original per-zone APIs")
	fl.BoolVar(&f.strict, "strict", false, "require If-Match on every mutation (428 without it)")
	fl.StringSliceVar(&f.prRoutes, "pr-route", nil, `mutations that open a pull request instead of committing, e.g. "POST /api/v1/config" (repeatable)`)
	fl.StringSliceVar(&f.prRoles, "pr-role", nil, "roles whose mutations open pull requests (repeatable)")
	fl.StringSliceVar(&f.prLabels, "pr-label", nil, "labels of the API's pull requests")
	fl.StringVar(&f.forgeKind, "forge", "none", "where pull requests and commit statuses go: github, plain (branches only) or none")
	fl.StringVar(&f.ghOwner, "github-owner", "", "GitHub owner of the fleet repository")
	fl.StringVar(&f.ghRepo, "github-repo", "", "GitHub repository name")
	fl.StringVar(&f.ghTokenFile, "github-token-file", "", "file holding a GitHub token (or $GITHUB_TOKEN)")
	fl.StringVar(&f.ghAPIURL, "github-api-url", "", "GitHub REST API root (GitHub Enterprise: https://HOST/api/v3/)")
	fl.StringVar(&f.forgeStateDir, "forge-state-dir", "/var/lib/ddc-gitops/proposals", "where --forge=plain records proposals")
	fl.StringVar(&f.ghSecretFile, "webhook-github-secret-file", "", "enables POST /api/v1/webhooks/github with this secret")
	fl.StringVar(&f.genericSecretFile, "webhook-generic-secret-file", "", "enables POST /api/v1/webhooks/generic with this secret")
	fl.StringSliceVar(&f.webhookPaths, "webhook-path", nil, "only pushes touching these repository path prefixes trigger a sync (repeatable)")
	fl.BoolVar(&f.commitStatuses, "commit-statuses", false, "report per-host commit statuses (ddc-gitops/<host>) to the forge")
	fl.StringVar(&f.publicURL, "public-url", "", "the API's external base URL, for links in commit statuses")
	fl.BoolVar(&f.reverts.Enabled, "propose-reverts", false, "poll the agents for quarantined revisions and propose each one's revert (branch revert/<sha>, and a pull request with a forge); run it in one API only")
	fl.DurationVar(&f.reverts.Interval, "revert-interval", api.DefaultRevertInterval, "how often --propose-reverts polls the agents")
	fl.StringVar(&f.logFormat, "log-format", "auto", cmdkit.LogFormatUsage)
	fl.StringVar(&f.logLevel, "log-level", "info", "log level")
	fl.StringVar(&f.signingKey, "signing-key", "", "the API's "+signingKeyUsage+"; the bot inside the API (--bot-rpc-url) signs with --bot-signing-key")
	f.bot.register(fl, "bot-")
	cmd.AddCommand(newHashPasswordCmd())
	return cmd
}

func newHashPasswordCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "hash-password",
		Short: "Read a password on stdin and print its bcrypt hash for the users file",
		Args:  cmdkit.ArgsRange(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), 4096))
			if err != nil {
				return fmt.Errorf("reading the password: %w", err)
			}
			h, err := api.HashPassword(strings.TrimRight(string(b), "\r\n"))
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), h)
			return nil
		},
	}
}

func runAPI(ctx context.Context, f apiFlags) error {
	log, err := cmdkit.NewLogger(os.Stderr, f.logFormat, f.logLevel)
	if err != nil {
		return err
	}
	if f.repoURL == "" || f.usersFile == "" {
		return cmdkit.UsageError{Err: errors.New("--repo and --users-file are required (there are no built-in users)")}
	}
	signer, err := loadSigningKey("signing-key", f.signingKey, log)
	if err != nil {
		return err
	}
	var bcfg bot.Config
	switch {
	case f.bot.rpcURL != "":
		if bcfg, err = f.bot.config(log); err != nil {
			return err
		}
	case f.bot.signingKey != "":
		return cmdkit.UsageError{Err: errors.New("--bot-signing-key signs the commits of the bot inside the API: it needs --bot-rpc-url")}
	}
	users, err := api.LoadUsers(f.usersFile)
	if err != nil {
		return err
	}
	secret, err := cmdkit.ReadSharedSecret("jwt-secret-file", f.jwtSecretFile, "DDC_GITOPS_JWT_SECRET")
	if err != nil {
		return err
	}
	cmdkit.WarnExposure(log, "the API", f.listen, f.tlsCert != "")
	if f.tokenTTL > maxTokenTTL {
		log.Warn("--token-ttl is longer than a day: a leaked token stays valid that long (tokens cannot be revoked)", "tokenTTL", f.tokenTTL)
	}
	cfg := api.Config{
		Listen: f.listen, TLSCertFile: f.tlsCert, TLSKeyFile: f.tlsKey, Version: Version,
		Branch: f.branch, Users: users, JWTSecret: []byte(secret), TokenTTL: f.tokenTTL,
		AuthRate: rate.Limit(f.authRate), AuthBurst: f.authBurst,
		AgentTimeout: f.agentTimeout, NoSyncOnCommit: f.noSyncOnCommit,
		DefaultZone: f.defaultZone, Strict: f.strict,
		PR:             api.PRMode{Routes: f.prRoutes, Labels: f.prLabels},
		WebhookPaths:   f.webhookPaths,
		CommitStatuses: f.commitStatuses,
		PublicURL:      f.publicURL,
		Reverts:        f.reverts,
	}
	for _, r := range f.prRoles {
		cfg.PR.Roles = append(cfg.PR.Roles, api.Role(r))
	}
	if f.agentsFile != "" {
		if cfg.Agents, err = api.LoadAgents(f.agentsFile); err != nil {
			return err
		}
	}
	if cfg.AgentToken, err = cmdkit.ReadSharedSecret("agent-token-file", f.agentTokenFile, "DDC_GITOPS_SYNC_TOKEN"); err != nil {
		return err
	}
	if f.ghSecretFile != "" {
		if cfg.GitHubWebhookSecret, err = cmdkit.ReadSharedSecret("webhook-github-secret-file", f.ghSecretFile, ""); err != nil {
			return err
		}
	}
	if f.genericSecretFile != "" {
		if cfg.GenericWebhookSecret, err = cmdkit.ReadSharedSecret("webhook-generic-secret-file", f.genericSecretFile, ""); err != nil {
			return err
		}
	}
	var fg forge.Forge
	switch f.forgeKind {
	case "none":
	case "plain":
		if fg, err = forge.NewPlain(f.forgeStateDir, log); err != nil {
			return err
		}
	case "github":
		token, err := cmdkit.ReadSecret(f.ghTokenFile, "GITHUB_TOKEN")
		if err != nil {
			return err
		}
		if fg, err = forge.NewGitHub(forge.GitHubOptions{Token: token, BaseURL: f.ghAPIURL, Owner: f.ghOwner, Repo: f.ghRepo}); err != nil {
			return err
		}
	default:
		return cmdkit.UsageError{Err: fmt.Errorf("--forge must be github, plain or none, got %q", f.forgeKind)}
	}
	gitToken, err := cmdkit.ReadSecret(f.gitTokenFile, "DDC_GITOPS_GIT_TOKEN")
	if err != nil {
		return err
	}
	auth, err := f.gitAuth.method(f.repoURL, gitToken, "")
	if err != nil {
		return cmdkit.UsageError{Err: err}
	}
	if err := os.MkdirAll(filepath.Dir(f.repoDir), 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(f.repoDir), err)
	}
	r, err := repo.Open(ctx, repo.Options{URL: f.repoURL, Branch: f.branch, Dir: f.repoDir, Auth: auth, Logger: log, Signer: signer})
	if err != nil {
		return err
	}
	deps := api.Deps{Repo: r, Forge: fg, Logger: log, Registry: prometheus.NewRegistry()}
	g, ctx := errgroup.WithContext(ctx)
	if f.bot.rpcURL != "" {
		// The node-admission bot in this process: its registry routes are
		// served behind the API's auth, its metrics on the API's /metrics.
		if bcfg.RepoURL == "" {
			bcfg.RepoURL, bcfg.Branch = f.repoURL, f.branch
			if bcfg.GitAuth == nil {
				bcfg.GitAuth = auth
			}
		}
		b, err := bot.Open(ctx, bcfg, deps.Registry, log.With("component", "bot"))
		if err != nil {
			return err
		}
		deps.Blockchain = &api.Blockchain{Nodes: botapi.NodesHandler(b, log), Sync: botapi.SyncHandler(b, log)}
		g.Go(func() error { return b.Run(ctx) })
	}
	srv, err := api.New(cfg, deps)
	if err != nil {
		return err
	}
	log.Info("api listening", "addr", f.listen, "repo", f.repoURL, "branch", f.branch, "defaultZone", f.defaultZone, "bot", f.bot.rpcURL != "")
	g.Go(func() error { return srv.Run(ctx) })
	if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
