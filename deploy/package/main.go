// Command package builds the ddc-gitops Debian package with nfpm (as a
// library): the binaries (ddc-gitops and the lean ddc-gitops-agent), the
// man pages and bash completion (made by ddc-gitops itself, from the same
// text as --help), the three systemd units,
// /etc/default and /etc/ddc-gitops configuration, the system user and the
// state directory. It lives in its own Go module so nfpm never reaches the
// shipped binary's dependencies. `make package` runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
)

func main() {
	var o options
	flag.StringVar(&o.Binary, "binary", "bin/ddc-gitops", "the ddc-gitops binary to package (built for --arch)")
	flag.StringVar(&o.AgentBinary, "agent-binary", "bin/ddc-gitops-agent", "the ddc-gitops-agent binary to package (built for --arch from the same tree)")
	flag.StringVar(&o.Debian, "debian", "deploy/debian", "directory of the units, defaults, config and maintainer scripts")
	flag.StringVar(&o.Doc, "doc", "docs/deploy.md", "deployment guide shipped in /usr/share/doc/ddc-gitops")
	flag.StringVar(&o.Arch, "arch", "amd64", "Debian architecture")
	flag.StringVar(&o.Version, "version", "", "package version (default: what `BINARY --version` prints)")
	flag.StringVar(&o.Out, "out", "out", "directory the .deb is written to")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	path, err := build(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
	fmt.Println(path)
}
