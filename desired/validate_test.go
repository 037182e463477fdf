package desired

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
)

// bigFleet is the example fleet plus n generated nodes spread over its zones.
func bigFleet(tb testing.TB, n int) fstest.MapFS {
	tb.Helper()
	fsys := readExamples(tb)
	for i := range n {
		zone, net := "eu", 1
		if i%2 == 1 {
			zone, net = "us", 2
		}
		name := fmt.Sprintf("gen-node-%05d", i)
		fsys["nodes/"+name+".yaml"] = &fstest.MapFile{Data: fmt.Appendf(nil, `kind: Node
name: %s
pubKey: 0x%064x
providerId: 0x70d1be8f9b41cfa0d17daea081dd8ef08fd980b4edd9e9fdedce054d79d1f77e
clusterId: 0x67424cc500a0532b2ca4e63d681a279809170593
host: 10.%d.%d.%d
domain: %s.ddc.example
httpPort: 8080
grpcPort: 9091
p2pPort: 9070
mode: storage
zone: %s
admitted: true
`, name, i+1, net, i/250, i%250+1, name, zone)}
	}
	return fsys
}

// TestValidateBigFleet checks that fleet-wide uniqueness holds across many
// nodes: a clean big fleet passes, and duplicates far apart are found.
func TestValidateBigFleet(t *testing.T) {
	const n = 2000
	fsys := bigFleet(t, n)
	if _, err := Load(fsys); err != nil {
		t.Fatalf("big fleet: %v", err)
	}
	first, last := "nodes/gen-node-00000.yaml", fmt.Sprintf("nodes/gen-node-%05d.yaml", n-2)
	replaceIn(t, fsys, last, fmt.Sprintf("pubKey: 0x%064x", n-1), fmt.Sprintf("pubKey: 0x%064x", 1))
	replaceIn(t, fsys, last, fmt.Sprintf("host: 10.1.%d.%d", (n-2)/250, (n-2)%250+1), "host: 10.1.0.1")
	_, err := Load(fsys)
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 2 {
		t.Fatalf("want 2 errors, got %v", err)
	}
	for _, e := range errs {
		if e.File != last {
			t.Errorf("error in %s, want %s: %v", e.File, last, e)
		}
	}
	for _, want := range []string{
		fmt.Sprintf("is already the key of node %q (%s:3:9)", "gen-node-00000", first),
		fmt.Sprintf("same host and httpPort (10.1.0.1:8080) as node %q (%s:6:7)", "gen-node-00000", first),
	} {
		if !strings.Contains(errs.Error(), want) {
			t.Errorf("errors do not mention %q:\n%v", want, errs)
		}
	}
}

// BenchmarkValidate10kNodes measures validation alone of a fleet with
// 10,000 nodes (decoded and defaulted once).
func BenchmarkValidate10kNodes(b *testing.B) {
	f, errs := Decode(bigFleet(b, 10000))
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	SetDefaults(f)
	b.ReportAllocs()
	for b.Loop() {
		if errs := Validate(f); len(errs) > 0 {
			b.Fatal(errs)
		}
	}
}

// BenchmarkLoad10kNodes measures Load (decode, defaults, validation) of a
// fleet with 10,000 nodes from memory.
func BenchmarkLoad10kNodes(b *testing.B) {
	fsys := bigFleet(b, 10000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load(fsys); err != nil {
			b.Fatal(err)
		}
	}
}
