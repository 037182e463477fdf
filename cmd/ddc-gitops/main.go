// Command ddc-gitops is the GitOps control plane for HAProxy + keepalived
// fleets: validate, render and plan desired state, and run the per-host
// agent, the API, the node-admission bot and the local lab.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/ddc-gitops/ddc-gitops/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
