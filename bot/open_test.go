package bot

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ddc-gitops/ddc-gitops/bot/chain"
	"github.com/ddc-gitops/ddc-gitops/forge"
	"github.com/ddc-gitops/ddc-gitops/internal/gitserver"
	"github.com/ddc-gitops/ddc-gitops/internal/gitserver/gitservertest"
)

// Open wires a bot from configuration alone: the watcher (dialled lazily),
// a clone in the state directory and the configured forge.
func TestOpen(t *testing.T) {
	srv := gitservertest.New(t, gitserver.Options{})
	gitservertest.MustSeed(t, srv, "../examples/fleet", "seed")
	base := Config{RPCURL: "http://127.0.0.1:1", Contract: "0x00000000000000000000000000000000000000aa", RepoURL: srv.URL(),
		ClusterZones: map[string]string{euCluster: "eu"}}
	cases := []struct {
		name  string
		edit  func(*Config)
		check func(*testing.T, *Bot)
		err   string
	}{
		{"no forge", func(*Config) {}, func(t *testing.T, b *Bot) {
			if _, ok := b.forge.(*forge.Plain); !ok {
				t.Fatalf("forge = %T, want *forge.Plain", b.forge)
			}
		}, ""},
		{"github", func(c *Config) { c.Forge = ForgeConfig{Kind: ForgeGitHub, Owner: "acme", Repo: "fleet", Token: "x"} }, func(t *testing.T, b *Bot) {
			if _, ok := b.forge.(*forge.GitHub); !ok {
				t.Fatalf("forge = %T, want *forge.GitHub", b.forge)
			}
		}, ""},
		{"bad contract", func(c *Config) { c.Contract = "0x12" }, nil, "contract"},
		{"bad RPC scheme", func(c *Config) { c.RPCURL = "ftp://x" }, nil, "scheme"},
		{"no repository", func(c *Config) { c.RepoURL = "" }, nil, "repository URL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			cfg.StateDir = t.TempDir()
			tc.edit(&cfg)
			b, err := Open(context.Background(), cfg, prometheus.NewRegistry(), testLogger(t))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Open = %v, want an error about %s", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := b.src.(*chain.EVMWatcher); !ok || b.registry == nil {
				t.Fatalf("source %T, registry %v", b.src, b.registry)
			}
			tc.check(t, b)
		})
	}
}
