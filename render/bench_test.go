package render

import (
	"bytes"
	"fmt"
	"testing"
)

// BenchmarkRenderAll renders every host of the example fleet.
func BenchmarkRenderAll(b *testing.B) {
	f := loadExample(b)
	opts := Options{FleetDir: goldenFleetDir}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := RenderAll(f, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadBackends parses one example host's haproxy.cfg back.
func BenchmarkReadBackends(b *testing.B) {
	h, err := Render(loadExample(b), "eu-haproxy-1", Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := readBackends(h.HAProxy); err != nil {
			b.Fatal(err)
		}
	}
}

// cfg10k is an example host's haproxy.cfg plus ten backends with 1,000
// servers each, as the agent's no-op reconcile reads it at 10,000 servers.
func cfg10k(b *testing.B) []byte {
	b.Helper()
	h, err := Render(loadExample(b), "eu-haproxy-1", Options{})
	if err != nil {
		b.Fatal(err)
	}
	cfg := bytes.Clone(h.HAProxy)
	for be := range 10 {
		cfg = fmt.Appendf(cfg, "\nbackend gen%d\n    balance roundrobin\n", be)
		for i := range 1000 {
			cfg = fmt.Appendf(cfg, "%sserver s%d 198.18.%d.%d:8080 check inter 2000 rise 2 fall 3 weight 100 maxconn 500\n",
				ServerIndent, i, i/250, i%250+1)
		}
	}
	return cfg
}

// BenchmarkReadBackends10k and BenchmarkSkeleton10k weigh client-native's
// parser against one hand-written pass over the same 10,000-server file:
// the reason the agent does not parse haproxy.cfg with client-native
// (docs/agent.md).
func BenchmarkReadBackends10k(b *testing.B) {
	cfg := cfg10k(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := readBackends(cfg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSkeleton10k(b *testing.B) {
	cfg := cfg10k(b)
	b.ReportAllocs()
	for b.Loop() {
		Skeleton(cfg)
	}
}
