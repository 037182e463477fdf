package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/deb"
	"github.com/goreleaser/nfpm/v2/files"
)

// options are the command's flags.
type options struct {
	Binary, AgentBinary, Debian, Doc, Arch, Version, Out string
}

// Units are the systemd units the package ships, all disabled until a host
// role enables its own.
var Units = []string{"ddc-gitops-agent.service", "ddc-gitops-api.service", "ddc-gitops-bot.service"}

// build writes the .deb into o.Out and returns its path.
func build(ctx context.Context, o options) (string, error) {
	bin, err := filepath.Abs(o.Binary)
	if err != nil {
		return "", err
	}
	if o.AgentBinary == "" {
		return "", fmt.Errorf("--agent-binary: the ddc-gitops-agent binary is needed (the agent unit runs it)")
	}
	if o.AgentBinary, err = filepath.Abs(o.AgentBinary); err != nil {
		return "", err
	}
	if v, err := binaryVersion(ctx, o.AgentBinary); err != nil {
		return "", err
	} else if bv, err := binaryVersion(ctx, bin); err != nil {
		return "", err
	} else if v != bv {
		return "", fmt.Errorf("%s is version %s but %s is %s: build both from one tree", o.AgentBinary, v, bin, bv)
	}
	if o.Version == "" {
		if o.Version, err = binaryVersion(ctx, bin); err != nil {
			return "", err
		}
	}
	gen, err := os.MkdirTemp("", "ddc-gitops-package-")
	if err != nil {
		return "", fmt.Errorf("creating a work directory: %w", err)
	}
	defer os.RemoveAll(gen)
	contents, err := generated(ctx, bin, gen)
	if err != nil {
		return "", err
	}
	contents = append(contents, static(bin, o)...)

	info := nfpm.WithDefaults(&nfpm.Info{
		Name:       "ddc-gitops",
		Arch:       o.Arch,
		Platform:   "linux",
		Version:    o.Version,
		Section:    "net",
		Priority:   "optional",
		Maintainer: "ddc-gitops maintainers <ops@ddc-gitops.invalid>",
		Description: "GitOps control plane for HAProxy + keepalived fleets\n" +
			"ddc-gitops: every command, among them the API (ddc-gitops-api.service)\n" +
			"and the node-admission bot (ddc-gitops-bot.service); ddc-gitops-agent:\n" +
			"the per-host agent alone (ddc-gitops-agent.service, next to Debian's\n" +
			"haproxy.service and keepalived.service). Hardened systemd units.",
		Homepage: "https://github.com/ddc-gitops/ddc-gitops",
		License:  "Apache-2.0",
		// A fixed time keeps the package reproducible.
		MTime: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		Overridables: nfpm.Overridables{
			Depends:    []string{"haproxy (>= 2.6)", "keepalived", "passwd", "procps"},
			Recommends: []string{"nftables", "systemd-timesyncd | chrony | ntp"},
			Contents:   contents,
			Scripts: nfpm.Scripts{
				PostInstall: filepath.Join(o.Debian, "postinst"),
				PreRemove:   filepath.Join(o.Debian, "prerm"),
				PostRemove:  filepath.Join(o.Debian, "postrm"),
			},
		},
	})
	if err := nfpm.PrepareForPackager(info, "deb"); err != nil {
		return "", fmt.Errorf("preparing the package contents: %w", err)
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return "", fmt.Errorf("creating %s: %w", o.Out, err)
	}
	path := filepath.Join(o.Out, deb.Default.ConventionalFileName(info))
	var buf bytes.Buffer
	if err := deb.Default.Package(info, &buf); err != nil {
		return "", fmt.Errorf("building %s: %w", path, err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	return path, nil
}

// binaryVersion is the version `ddc-gitops --version` prints.
func binaryVersion(ctx context.Context, bin string) (string, error) {
	out, err := exec.CommandContext(ctx, bin, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("asking %s for its version: %w", bin, err)
	}
	f := strings.Fields(string(out))
	if len(f) == 0 {
		return "", fmt.Errorf("%s --version printed nothing", bin)
	}
	return f[len(f)-1], nil
}

// generated runs the binary to write its man pages and bash completion
// into dir and returns them as package contents.
func generated(ctx context.Context, bin, dir string) (files.Contents, error) {
	man := filepath.Join(dir, "man")
	if out, err := exec.CommandContext(ctx, bin, "man", man).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("writing the man pages: %w: %s", err, out)
	}
	comp, err := exec.CommandContext(ctx, bin, "completion", "bash").Output()
	if err != nil {
		return nil, fmt.Errorf("writing the bash completion: %w", err)
	}
	compFile := filepath.Join(dir, "ddc-gitops.bash")
	if err := os.WriteFile(compFile, comp, 0o644); err != nil {
		return nil, err
	}
	pages, err := filepath.Glob(filepath.Join(man, "*.1"))
	if err != nil || len(pages) == 0 {
		return nil, fmt.Errorf("no man pages in %s (%v)", man, err)
	}
	var c files.Contents
	for _, p := range pages {
		if strings.Contains(filepath.Base(p), "-lab") {
			continue // the lab is a development tool; its pages are not shipped
		}
		c = append(c, file(p, "/usr/share/man/man1/"+filepath.Base(p), 0o644))
	}
	c = append(c, file(compFile, "/usr/share/bash-completion/completions/ddc-gitops", 0o644))
	return c, nil
}

// static is what the package ships from the repository.
func static(bin string, o options) files.Contents {
	d := o.Debian
	c := files.Contents{
		file(bin, "/usr/bin/ddc-gitops", 0o755),
		file(o.AgentBinary, "/usr/bin/ddc-gitops-agent", 0o755),
		file(filepath.Join(d, "sysusers.conf"), "/usr/lib/sysusers.d/ddc-gitops.conf", 0o644),
		file(o.Doc, "/usr/share/doc/ddc-gitops/deploy.md", 0o644),
		{Destination: "/var/lib/ddc-gitops", Type: files.TypeDir, FileInfo: &files.ContentFileInfo{Mode: 0o755}},
		{Destination: "/etc/ddc-gitops", Type: files.TypeDir, FileInfo: &files.ContentFileInfo{Mode: 0o750}},
	}
	for _, u := range Units {
		c = append(c, file(filepath.Join(d, u), "/lib/systemd/system/"+u, 0o644))
		name := strings.TrimSuffix(u, ".service")
		c = append(c, config(filepath.Join(d, "default", name), "/etc/default/"+name, 0o644))
	}
	for _, y := range []string{"api-users.yaml", "api-agents.yaml"} {
		c = append(c, config(filepath.Join(d, "etc", y), "/etc/ddc-gitops/"+y, 0o640))
	}
	return c
}

func file(src, dst string, mode os.FileMode) *files.Content {
	return &files.Content{Source: src, Destination: dst, FileInfo: &files.ContentFileInfo{Mode: mode}}
}

// config is a conffile: an upgrade keeps the administrator's edits.
func config(src, dst string, mode os.FileMode) *files.Content {
	c := file(src, dst, mode)
	c.Type = files.TypeConfigNoReplace
	return c
}
