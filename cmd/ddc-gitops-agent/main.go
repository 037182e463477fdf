// Command ddc-gitops-agent is the per-host agent alone: `ddc-gitops-agent
// FLAGS` is `ddc-gitops agent FLAGS`, built without the API, the bot, the
// lab and their dependencies (go-ethereum, go-github, ...), so a HAProxy
// host runs less code and maps a binary half the size (docs/agent.md).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/ddc-gitops/ddc-gitops/internal/agentcmd"
	"github.com/ddc-gitops/ddc-gitops/internal/cmdkit"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	root := agentcmd.New()
	root.Use = "ddc-gitops-agent"
	cmdkit.SetUpRoot(root, os.Stdout, os.Stderr)
	code := cmdkit.Run(ctx, root, os.Args[1:], os.Stderr)
	stop()
	os.Exit(code)
}
