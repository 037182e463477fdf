package render

import (
	"errors"
	"testing"
	"time"
)

func TestParseServerLineRoundTrip(t *testing.T) {
	for _, s := range []Server{
		{Name: "a", Address: "198.18.1.21", Port: 8080, Weight: 100, State: "ready"},
		{Name: "b", Address: "::1", Port: 80, Weight: 5, Maxconn: 10, Slowstart: 10 * time.Second, Check: true, CheckPort: 9000,
			Inter: 1500 * time.Millisecond, Rise: 2, Fall: 3, State: "maint"},
		{Name: "c", Address: "node.example", Hostname: true, Port: 443, Weight: 1, Backup: true, Proto: "h2", SSL: true, SNI: "node.example",
			ALPN: "h2", Check: true, CheckProto: "h1", CheckSSL: true, State: "ready"},
		{Name: "d", Address: "198.18.1.22", Port: 80, Weight: 1, SNI: "x.example", Check: true, CheckSSL: true, State: "ready"},
	} {
		got, err := ParseServerLine(s.Line())
		if err != nil {
			t.Fatalf("%s: %v", s.Line(), err)
		}
		if got != s || got.Line() != s.Line() {
			t.Errorf("%s:\n got %+v\nwant %+v", s.Line(), got, s)
		}
	}
	// Drain is written as weight 0: it reads back as ready with weight 0.
	d := Server{Name: "e", Address: "198.18.1.23", Port: 80, Weight: 100, State: "drain"}
	if got, err := ParseServerLine(d.Line()); err != nil || got.State != "ready" || got.Weight != 0 {
		t.Errorf("drain: %+v %v", got, err)
	}
	for _, bad := range []string{
		"server a 198.18.1.21:8080 weight 100 send-proxy",
		"server a 198.18.1.21 weight 100",
		"server a 198.18.1.21:8080 maxconn 5 weight 100",
		"backend x",
		"server a 198.18.1.21:8080 weight x",
	} {
		if _, err := ParseServerLine(bad); !errors.Is(err, ErrForeignServerLine) {
			t.Errorf("%q: %v, want ErrForeignServerLine", bad, err)
		}
	}
}

func TestServerLines(t *testing.T) {
	s := Server{Name: "a", Address: "198.18.1.21", Port: 8080, Weight: 100, Maxconn: 10, Check: true, State: "maint"}
	cfg := []byte("global\n    maxconn 1\n\nbackend be\n    balance roundrobin\n" + ServerIndent + s.Line() + "\n\nbackend empty\n    balance roundrobin\n")
	lines := ServerLines(cfg)
	if lines["be"]["a"] != s.Line() || lines["empty"] == nil || len(lines["empty"]) != 0 {
		t.Fatalf("ServerLines = %v", lines)
	}
	s.State = "ready"
	out := WithServerLines(cfg, map[string]map[string]string{"be": {"a": s.Line()}})
	if got := ServerLines(out)["be"]["a"]; got != s.Line() {
		t.Fatalf("WithServerLines: %q", got)
	}
	if !SkeletonEqual(cfg, out) || string(Skeleton(cfg)) != string(Skeleton(out)) {
		t.Fatal("changing a server line changed the skeleton")
	}
	if SkeletonEqual(cfg, append(append([]byte(nil), cfg...), "    option redispatch\n"...)) {
		t.Fatal("a changed section compared equal")
	}
}
