package desired

import (
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
)

func TestNodeFile(t *testing.T) {
	for _, tc := range []struct{ layout, name, want string }{
		{NodeLayoutFlat, "eu-node-1", "nodes/eu-node-1.yaml"},
		{"", "eu-node-1", "nodes/eu-node-1.yaml"},
		{NodeLayoutSharded, "eu-node-1", "nodes/1e/eu-node-1.yaml"}, // sha256("eu-node-1") = 1ec1c3…
		{NodeLayoutSharded, "us-node-1", "nodes/e2/us-node-1.yaml"},
	} {
		if got := NodeFile(tc.layout, tc.name); got != tc.want {
			t.Errorf("NodeFile(%q, %q) = %q, want %q", tc.layout, tc.name, got, tc.want)
		}
		if !IsNodeFilePath(tc.want) {
			t.Errorf("IsNodeFilePath(%q) = false", tc.want)
		}
	}
	if got := NodeFiles("us-node-1"); got != [2]string{"nodes/us-node-1.yaml", "nodes/e2/us-node-1.yaml"} {
		t.Errorf("NodeFiles = %q", got)
	}
	for _, p := range []string{"nodes/x.yml", "nodes/eu/x.yaml", "nodes/1E/x.yaml", "nodes/1e/2f/x.yaml", "nodes/1e", "backends/x.yaml", "x.yaml"} {
		if IsNodeFilePath(p) {
			t.Errorf("IsNodeFilePath(%q) = true", p)
		}
	}
}

// TestNodeShardsSpread: the shards of 10,000 generated names are all used
// and none holds more than twice its share.
func TestNodeShardsSpread(t *testing.T) {
	count := map[string]int{}
	for i := range 10000 {
		count[NodeShard(fmt.Sprintf("node-%05d", i))]++
	}
	if len(count) != 256 {
		t.Errorf("%d shards used, want 256", len(count))
	}
	for s, n := range count {
		if !isShardDir(s) || n > 2*10000/256 {
			t.Errorf("shard %q holds %d nodes", s, n)
		}
	}
}

func TestNodeLayoutOf(t *testing.T) {
	for _, tc := range []struct{ name, fleet, want, wantErr string }{
		{"no fleet.yaml", "", NodeLayoutFlat, ""},
		{"default", "kind: Fleet\nname: f\n", NodeLayoutFlat, ""},
		{"sharded", "kind: Fleet\nname: f\nnodeLayout: sharded\n", NodeLayoutSharded, ""},
		{"unknown", "kind: Fleet\nname: f\nnodeLayout: shards\n", "", `fleet.yaml:3:13: nodeLayout: nodeLayout "shards" is not one of flat, sharded`},
		{"unknown field", "kind: Fleet\nname: f\nnodeLayuot: sharded\n", "", "fleet.yaml:3:1: nodeLayuot: unknown field"},
		{"another kind", "kind: Node\nname: f\n", "", "fleet.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			if tc.fleet != "" {
				fsys[FleetFile] = &fstest.MapFile{Data: []byte(tc.fleet)}
			}
			got, err := NodeLayoutOf(fsys)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("NodeLayoutOf = %q, %v; want an error with %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("NodeLayoutOf = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestShardingAdvice(t *testing.T) {
	for _, tc := range []struct {
		layout string
		nodes  int
		want   []string // parts of the advice; nil: none
	}{
		{NodeLayoutFlat, 0, nil},
		{NodeLayoutFlat, ShardingAdvisedNodes - 1, nil},
		{NodeLayoutFlat, ShardingAdvisedNodes, []string{"1000 node files in one flat nodes/ directory", "about 43 kB", "nodeLayout: sharded in fleet.yaml"}},
		{NodeLayoutFlat, 10000, []string{"10000 node files", "about 430 kB"}},
		{NodeLayoutSharded, 10000, nil},
	} {
		f := &Fleet{NodeLayout: tc.layout, Nodes: make([]*Node, tc.nodes)}
		got := ShardingAdvice(f)
		if tc.want == nil {
			if got != "" {
				t.Errorf("%s, %d nodes: advice %q, want none", tc.layout, tc.nodes, got)
			}
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s, %d nodes: advice %q lacks %q", tc.layout, tc.nodes, got, w)
			}
		}
	}
}
