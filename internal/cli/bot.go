package cli

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/sync/errgroup"

	"github.com/ddc-gitops/ddc-gitops/bot"
	"github.com/ddc-gitops/ddc-gitops/bot/botapi"
	"github.com/ddc-gitops/ddc-gitops/internal/cmdkit"
)

// botFlags configure the node-admission bot, standalone (`ddc-gitops bot`)
// or inside the API process (`ddc-gitops api --bot-rpc-url ...`).
type botFlags struct {
	rpcURL, contract, stateDir string
	confirmations              uint64
	finalized, snapshotStart   bool
	startBlock                 uint64
	poll, syncInterval         time.Duration
	clusterZones, defaultZone  string
	pruneClusters, labels      []string
	weight                     int
	repo, branch, gitTokenFile string
	forgeKind, ghOwner, ghRepo string
	ghTokenFile, ghAPIURL      string
	authorName, authorEmail    string
	syncOnStart                bool
	gitAuth                    gitAuthFlags
	signingKey                 string
	prefix                     string // of the flags' names, for messages
}

// register adds the flags, each name prefixed with prefix ("" or "bot-").
func (f *botFlags) register(fl *pflag.FlagSet, prefix string) {
	f.prefix = prefix
	fl.StringVar(&f.rpcURL, prefix+"rpc-url", "", "JSON-RPC endpoint of the chain (http(s):// or ws(s)://)")
	fl.StringVar(&f.contract, prefix+"contract", "", "NodeRegistry contract address (0x + 40 hex)")
	fl.StringVar(&f.stateDir, prefix+"state-dir", "/var/lib/ddc-gitops/bot", "chain checkpoint, clones and proposal records")
	fl.Uint64Var(&f.confirmations, prefix+"confirmations", 12, "blocks below the head before an event is acted on")
	fl.BoolVar(&f.finalized, prefix+"finalized", false, "act on the chain's finalized tag instead of --confirmations")
	fl.Uint64Var(&f.startBlock, prefix+"start-block", 0, "the contract's deployment block (first start without a checkpoint)")
	fl.BoolVar(&f.snapshotStart, prefix+"snapshot-start", false, "on the first start, read the registry instead of replaying its history")
	fl.DurationVar(&f.poll, prefix+"poll", 15*time.Second, "chain polling interval (the backstop to subscriptions)")
	fl.DurationVar(&f.syncInterval, prefix+"sync-interval", time.Hour, "full registry-vs-git sync interval (0: only at start)")
	fl.StringVar(&f.clusterZones, prefix+"cluster-zone", "", "cluster-to-zone map: 0xCLUSTER=zone,0xCLUSTER=zone")
	fl.StringVar(&f.defaultZone, prefix+"default-zone", "", "zone of clusters not in --cluster-zone (empty: their nodes are refused)")
	fl.StringSliceVar(&f.pruneClusters, prefix+"prune-cluster", nil, "clusters whose node files the bot owns (default: the mapped clusters)")
	fl.StringSliceVar(&f.labels, prefix+"label", nil, "extra labels on proposals")
	fl.IntVar(&f.weight, prefix+"weight", 0, "weight written into new node files (0: the backend's default)")
	fl.StringVar(&f.repo, prefix+"repo", "", "fleet repository URL")
	fl.StringVar(&f.branch, prefix+"branch", "main", "the fleet's main branch")
	fl.StringVar(&f.gitTokenFile, prefix+"git-token-file", "", "file holding an HTTPS token for the repository")
	f.gitAuth.registerSSH(fl, prefix)
	fl.StringVar(&f.forgeKind, prefix+"forge", "none", "github (pull requests) or none (proposal branches only)")
	fl.StringVar(&f.ghOwner, prefix+"github-owner", "", "GitHub owner of the fleet repository")
	fl.StringVar(&f.ghRepo, prefix+"github-repo", "", "GitHub repository name")
	fl.StringVar(&f.ghTokenFile, prefix+"github-token-file", "", "file holding a GitHub token (or $GITHUB_TOKEN)")
	fl.StringVar(&f.ghAPIURL, prefix+"github-api-url", "", "GitHub REST API root (GitHub Enterprise)")
	fl.StringVar(&f.authorName, prefix+"author-name", "", "name of the bot's commits")
	fl.StringVar(&f.authorEmail, prefix+"author-email", "", "email of the bot's commits")
	fl.BoolVar(&f.syncOnStart, prefix+"sync-on-start", true, "run a full registry-vs-git sync at start")
	fl.StringVar(&f.signingKey, prefix+"signing-key", "", "the bot's "+signingKeyUsage)
}

func (f *botFlags) config(log *slog.Logger) (bot.Config, error) {
	cfg := bot.Config{
		RPCURL: f.rpcURL, Contract: f.contract, Confirmations: f.confirmations, Finalized: f.finalized,
		StartBlock: f.startBlock, SnapshotStart: f.snapshotStart, PollInterval: f.poll, StateDir: f.stateDir,
		DefaultZone: f.defaultZone, PruneClusters: f.pruneClusters, Weight: f.weight,
		RepoURL: f.repo, Branch: f.branch, Labels: f.labels,
		Forge:        bot.ForgeConfig{Kind: f.forgeKind, Owner: f.ghOwner, Repo: f.ghRepo, BaseURL: f.ghAPIURL},
		Author:       bot.Identity{Name: f.authorName, Email: f.authorEmail},
		SyncOnStart:  f.syncOnStart,
		SyncInterval: f.syncInterval,
	}
	var err error
	// First: a daemon that cannot sign must not start doing anything.
	if cfg.Signer, err = loadSigningKey(f.prefix+"signing-key", f.signingKey, log); err != nil {
		return cfg, err
	}
	if f.clusterZones != "" {
		if cfg.ClusterZones, err = bot.ParseClusterZones(f.clusterZones); err != nil {
			return cfg, cmdkit.UsageError{Err: err}
		}
	}
	if cfg.GitToken, err = cmdkit.ReadSecret(f.gitTokenFile, "DDC_GITOPS_GIT_TOKEN"); err != nil {
		return cfg, err
	}
	if cfg.RepoURL != "" {
		// The bot has always sent a token as GitHub's installation-token user.
		if cfg.GitAuth, err = f.gitAuth.method(cfg.RepoURL, cfg.GitToken, "x-access-token"); err != nil {
			return cfg, cmdkit.UsageError{Err: err}
		}
	}
	if cfg.Forge.Token, err = cmdkit.ReadSecret(f.ghTokenFile, "GITHUB_TOKEN"); err != nil {
		return cfg, err
	}
	return cfg, nil
}

func newBotCmd() *cobra.Command {
	var f botFlags
	var listen, logFormat, logLevel string
	cmd := &cobra.Command{
		Use:   "bot",
		Short: "Watch the on-chain node registry and propose every admission, change and removal as a pull request",
		Long: `bot follows the NodeRegistry contract at the confirmation depth and turns each
node admitted to a cluster (added and validated), changed or removed into a
node file on a proposal branch (bot/node/<pubKey>), opened as a GitHub pull
request (--forge github) or only pushed (--forge none: merging the branch is
the admission). Chain data is untrusted: records are validated with the same
rules as the YAML before anything is written. --listen serves /metrics and
the registry routes (/api/v1/blockchain/nodes, /api/v1/blockchain/sync) without
auth: keep it on a private address, or run the bot inside the API
(ddc-gitops api --bot-rpc-url ...) to serve those routes behind its auth.`,
		Args: cmdkit.ArgsRange(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := cmdkit.NewLogger(os.Stderr, logFormat, logLevel)
			if err != nil {
				return err
			}
			cfg, err := f.config(log)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			reg := prometheus.NewRegistry()
			b, err := bot.Open(ctx, cfg, reg, log)
			if err != nil {
				return err
			}
			g, ctx := errgroup.WithContext(ctx)
			g.Go(func() error { return b.Run(ctx) })
			if listen != "" {
				mux := http.NewServeMux()
				mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
				mux.Handle("/api/v1/blockchain/", botapi.Routes(b, log))
				if err := cmdkit.Serve(ctx, g, listen, mux); err != nil {
					return err
				}
			}
			if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) {
				return err
			}
			return nil
		},
	}
	f.register(cmd.Flags(), "")
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:9101", "address for /metrics and the registry routes; empty disables")
	cmd.Flags().StringVar(&logFormat, "log-format", "auto", cmdkit.LogFormatUsage)
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "log level")
	return cmd
}
