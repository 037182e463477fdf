package render

import (
	"errors"
	"strings"
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

// TestWithServerLinesReplacesByName: only the named servers of the named
// backend change, each matched by its whole name.
func TestWithServerLinesReplacesByName(t *testing.T) {
	cfg := "backend be\n" +
		"    server a 198.18.1.1:80 weight 1\n" +
		"    server ab 198.18.1.2:80 weight 1\n" +
		"    server  c 198.18.1.3:80 weight 1\n" +
		"backend other\n" +
		"    server a 198.18.1.4:80 weight 1\n" +
		"backend be2\n" +
		"    server a 198.18.1.5:80 weight 1"
	for _, tc := range []struct {
		name string
		repl map[string]map[string]string
		want string
	}{
		{"one server", map[string]map[string]string{"be": {"a": "server a 198.18.1.1:80 weight 9"}},
			strings.Replace(cfg, "server a 198.18.1.1:80 weight 1", "server a 198.18.1.1:80 weight 9", 1)},
		{"a name that is another's prefix", map[string]map[string]string{"be": {"ab": "server ab 198.18.1.2:80 weight 9"}},
			strings.Replace(cfg, "server ab 198.18.1.2:80 weight 1", "server ab 198.18.1.2:80 weight 9", 1)},
		{"two spaces before the name", map[string]map[string]string{"be": {"c": "server c 198.18.1.3:80 weight 9"}},
			strings.Replace(cfg, "server  c 198.18.1.3:80 weight 1", "server c 198.18.1.3:80 weight 9", 1)},
		{"the last line, without a newline", map[string]map[string]string{"be2": {"a": "server a 198.18.1.5:80 weight 9"}},
			strings.Replace(cfg, "    server a 198.18.1.5:80 weight 1", "    server a 198.18.1.5:80 weight 9\n", 1)},
		{"an unknown server or backend", map[string]map[string]string{"be": {"zz": "server zz 198.18.1.9:80"}, "nope": {"a": "x"}}, cfg},
		{"nothing", nil, cfg},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(WithServerLines([]byte(cfg), tc.repl)); got != tc.want {
				t.Fatalf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}
