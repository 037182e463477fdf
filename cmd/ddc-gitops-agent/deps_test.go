package main

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestAgentBinaryIsLean checks that the agent binary links none of what
// only the control plane needs (the API, the bot, the lab, go-ethereum,
// chromedp, the forge client) and nothing test-only: each would add to
// what every HAProxy host maps and runs (docs/agent.md, "Memory").
func TestAgentBinaryIsLean(t *testing.T) {
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	out, err := exec.Command(goBin, "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	pkgs := strings.Fields(string(out))
	if len(pkgs) < 100 {
		t.Fatalf("go list -deps printed %d packages, want the binary's whole dependency graph:\n%s", len(pkgs), out)
	}
	const module = "github.com/ddc-gitops/ddc-gitops/"
	forbidden := []string{
		module + "api", module + "bot", module + "lab", module + "forge", module + "internal/cli",
		module + "contracts", module + "repo", module + "doctor",
		"github.com/ethereum/go-ethereum", "github.com/chromedp/", "github.com/goreleaser/nfpm",
		"github.com/grafana/", "github.com/prometheus/prometheus",
	}
	agent := false
	for _, p := range pkgs {
		agent = agent || p == module+"reconciler"
		for _, f := range forbidden {
			if p == f || strings.HasPrefix(p, strings.TrimSuffix(f, "/")+"/") {
				t.Errorf("the agent binary links %s (forbidden: %s)", p, f)
			}
		}
		if p == "testing" || strings.HasPrefix(p, "testing/") ||
			strings.HasPrefix(p, module) && strings.HasSuffix(p, "test") {
			t.Errorf("the agent binary links test-only package %s", p)
		}
	}
	if !agent {
		t.Errorf("the agent binary does not link %sreconciler: is this still the agent?", module)
	}
}
