package reconciler

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ddc-gitops/ddc-gitops/desired"
)

// TestCheckLogTargetWarnsOnce: a missing syslog socket is reported once
// per target; present sockets, none and stderr are not reported.
func TestCheckLogTargetWarnsOnce(t *testing.T) {
	var buf bytes.Buffer
	a := &Agent{log: slog.New(slog.NewTextHandler(&buf, nil))}
	present := filepath.Join(t.TempDir(), "log")
	if err := os.WriteFile(present, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "no-syslog-here")
	for _, target := range []string{missing, missing, missing, "none", "stderr", present, present, missing} {
		a.checkLogTarget(target)
	}
	if n := strings.Count(buf.String(), "level=WARN"); n != 2 || strings.Count(buf.String(), "logTarget="+missing) != 2 {
		t.Fatalf("want the missing socket reported twice (once, then again after the target changed back), got %d warnings:\n%s", n, buf.String())
	}
}

// TestAdviseShardingOnce: a large flat fleet is advised to shard once, not
// at every revision, and again only after it stopped needing the advice.
func TestAdviseShardingOnce(t *testing.T) {
	var buf bytes.Buffer
	a := &Agent{log: slog.New(slog.NewTextHandler(&buf, nil))}
	fleet := func(layout string, nodes int) *desired.Fleet {
		return &desired.Fleet{NodeLayout: layout, Nodes: make([]*desired.Node, nodes)}
	}
	big := desired.ShardingAdvisedNodes
	for _, f := range []*desired.Fleet{
		fleet(desired.NodeLayoutFlat, 10),  // small: nothing
		fleet(desired.NodeLayoutFlat, big), // advised
		fleet(desired.NodeLayoutFlat, big+1),
		fleet(desired.NodeLayoutFlat, big+2),
		fleet(desired.NodeLayoutSharded, big+2), // sharded: nothing
		fleet(desired.NodeLayoutFlat, big+2),    // flat again: advised again
	} {
		a.adviseSharding(f)
	}
	out := buf.String()
	if n := strings.Count(out, "fleet layout: "); n != 2 {
		t.Fatalf("advice logged %d times, want 2:\n%s", n, out)
	}
	if !strings.Contains(out, "1000 node files") || !strings.Contains(out, "1002 node files") {
		t.Errorf("the advice should give the node count when it is logged:\n%s", out)
	}
}
