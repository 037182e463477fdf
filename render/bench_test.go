package render

import "testing"

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
		if _, err := ReadBackends(h.HAProxy); err != nil {
			b.Fatal(err)
		}
	}
}
