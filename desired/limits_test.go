package desired

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// TestLoadLimits loads hostile files in place of the examples' and checks
// each is refused with a clear error, in bounded time and memory, with the
// fast paths and yaml.v3 alone alike.
func TestLoadLimits(t *testing.T) {
	base := readExamples(t)
	fleet := string(base["fleet.yaml"].Data)
	var bomb strings.Builder
	bomb.WriteString("bomb:\n  l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(&bomb, "  l%d: &l%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d, ", i-1), 10), ", "))
	}
	var keys strings.Builder
	keys.WriteString("kind: Node\nname: eu-node-1\n")
	for i := range 20000 {
		fmt.Fprintf(&keys, "k%d: v\n", i)
	}
	var nodes strings.Builder
	nodes.WriteString(fleet + "list:\n")
	for i := 0; i <= MaxYAMLNodes; i++ {
		nodes.WriteString("- a\n")
	}
	tests := []struct {
		name, file, data, want string
		errs                   int // exact number of errors, 0 for any
	}{
		{"alias bomb and an error", "fleet.yaml", strings.Replace(fleet, "maxconn: 20000", "maxconn: -5", 1) + bomb.String(),
			fmt.Sprintf("fleet.yaml:%d:47: bomb.l4[7]: alias *l3 expands the file beyond 100000 YAML nodes", strings.Count(fleet, "\n")+6), 1},
		{"alias bomb under a known field", "backends/ddc_nodes_http.yaml",
			string(base["backends/ddc_nodes_http.yaml"].Data) + strings.ReplaceAll(bomb.String(), "bomb:", "servers:"), "alias *l3 expands the file beyond", 1},
		{"deep flow nesting", "fleet.yaml", fleet + "deep: " + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + "\n",
			"nested deeper than 32 levels", 1},
		{"too many nodes", "fleet.yaml", nodes.String(), "the file has more than 100000 YAML nodes", 1},
		{"too large", "fleet.yaml", fleet + "x: " + strings.Repeat("a", MaxFileBytes) + "\n",
			fmt.Sprintf("fleet.yaml: file is %d bytes, more than the limit of 1048576 bytes (1 MiB)", len(fleet)+len("x: \n")+MaxFileBytes), 1},
		{"many unknown keys", "nodes/eu-node-1.yaml", keys.String(), "nodes/eu-node-1.yaml: more than 100 problems; stopped reporting", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for k, v := range base {
				fsys[k] = v
			}
			fsys[tt.file] = &fstest.MapFile{Data: []byte(tt.data)}
			for _, l := range []loader{{}, {yamlOnly: true}} {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				start := time.Now()
				_, err := l.load(fsys)
				took := time.Since(start)
				runtime.ReadMemStats(&after)
				var errs Errors
				if !errors.As(err, &errs) {
					t.Fatalf("yamlOnly=%v: got %v, want validation errors", l.yamlOnly, err)
				}
				if !strings.Contains(errs.Error(), tt.want) {
					t.Errorf("yamlOnly=%v: errors do not contain %q:\n%s", l.yamlOnly, tt.want, errs)
				}
				if tt.errs > 0 && len(errs) != tt.errs {
					t.Errorf("yamlOnly=%v: %d errors, want %d:\n%s", l.yamlOnly, len(errs), tt.errs, errs)
				}
				// Generous bounds (the machine is shared); an unbounded
				// walk takes minutes and gigabytes.
				if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 400<<20 {
					t.Errorf("yamlOnly=%v: allocated %d MiB", l.yamlOnly, alloc>>20)
				}
				if took > 5*time.Second {
					t.Errorf("yamlOnly=%v: took %v", l.yamlOnly, took)
				}
				t.Logf("yamlOnly=%v: %v, %d MiB allocated", l.yamlOnly, took.Round(time.Millisecond), (after.TotalAlloc-before.TotalAlloc)>>20)
			}
		})
	}
}

// TestLoadErrorCap checks that a fleet with more problems than MaxErrors
// reports MaxErrors of them and says it stopped.
func TestLoadErrorCap(t *testing.T) {
	fsys := brokenFleet(t, 20000)
	_, err := Load(fsys)
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("got %v, want validation errors", err)
	}
	if len(errs) != MaxErrors+1 || !strings.Contains(errs.Error(), "more than 1000 problems; stopped reporting") {
		t.Fatalf("%d errors, want %d with a note that reporting stopped", len(errs), MaxErrors+1)
	}
}

// TestDecodeBytesAliasBomb: DecodeBytes (the bot reads node files with it)
// refuses a bomb with its position, cheaply.
func TestDecodeBytesAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("kind: Node\nname: n\nx:\n  l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(&b, "  l%d: &l%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d, ", i-1), 10), ", "))
	}
	var n Node
	var errs Errors
	start := time.Now()
	if DecodeBytes("nodes/n.yaml", []byte(b.String()), KindNode, &n, &Source{}, &errs) {
		t.Fatal("the bomb decoded")
	}
	if len(errs) != 1 || errs[0].Line != 8 || !strings.Contains(errs[0].Msg, "alias *l3 expands the file beyond") {
		t.Fatalf("errors: %v", errs)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("took %v", d)
	}
}
