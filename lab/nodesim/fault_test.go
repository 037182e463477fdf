package nodesim

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startSim serves a simulator with a control socket and returns its base
// URL, its control socket and the simulator.
func startSim(t *testing.T, o Options) (string, string, *Sim) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "node.sock")
	ctl, err := listenControl(context.Background(), sock)
	if err != nil {
		t.Fatal(err)
	}
	sim := New(o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sim.Serve(ctx, ctl, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String(), sock, sim
}

type answer struct {
	code int
	body string
}

func get(t *testing.T, c *http.Client, method, url string) answer {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, string(b)}
}

// TestRoutesAndFaults: the paths a node serves, 404 elsewhere, and what
// each fault changes, set through the control socket.
func TestRoutesAndFaults(t *testing.T) {
	at := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	base, sock, _ := startSim(t, Options{Zone: "eu", Node: "eu-node-1", Now: func() time.Time { return at }})
	healthy := `{"status":"healthy","zone":"eu","node":"eu-node-1","timestamp":"2025-03-04T05:06:07Z"}` + "\n"
	unhealthy := strings.Replace(healthy, `"healthy"`, `"unhealthy"`, 1)
	root := "DDC node eu-node-1 (zone eu)\n"
	notFound := "DDC node eu-node-1 (zone eu): 404 page not found\n"
	err503 := "DDC node eu-node-1 (zone eu): simulated error 503\n"
	tests := []struct {
		fault string
		want  map[string]answer // "METHOD path" -> answer
	}{
		{"healthy", map[string]answer{
			"GET /health": {200, healthy}, "GET /": {200, root}, "HEAD /": {200, ""},
			"GET /nope": {404, notFound}, "GET /health/x": {404, notFound}, "POST /anything/else": {404, notFound},
		}},
		{"unhealthy", map[string]answer{
			"GET /health": {503, unhealthy}, "GET /": {200, root}, "GET /nope": {404, notFound},
		}},
		{"error=503", map[string]answer{
			"GET /health": {200, healthy}, "GET /": {503, err503}, "GET /nope": {503, err503},
		}},
		{"unhealthy,error=503", map[string]answer{
			"GET /health": {503, unhealthy}, "GET /": {503, err503},
		}},
		{"healthy", map[string]answer{
			"GET /health": {200, healthy}, "GET /": {200, root}, "GET /nope": {404, notFound},
		}},
	}
	c := &http.Client{Timeout: 5 * time.Second}
	ctx := context.Background()
	for _, tc := range tests {
		f, err := ParseFault(tc.fault)
		if err != nil {
			t.Fatal(err)
		}
		got, err := SetFault(ctx, sock, f)
		if err != nil || got != f {
			t.Fatalf("SetFault(%s) = %v, %v", tc.fault, got, err)
		}
		if cur, err := GetFault(ctx, sock); err != nil || cur != f {
			t.Fatalf("GetFault after %s = %v, %v", tc.fault, cur, err)
		}
		for req, want := range tc.want {
			method, path, _ := strings.Cut(req, " ")
			if a := get(t, c, method, base+path); a != want {
				t.Errorf("fault %s: %s = %d %q, want %d %q", tc.fault, req, a.code, a.body, want.code, want.body)
			}
		}
	}
}

// TestSlow: a slow node delays every answer, health checks included, by
// its delay; healthy again, it answers at once.
func TestSlow(t *testing.T) {
	base, sock, _ := startSim(t, Options{Zone: "eu", Node: "n"})
	ctx := context.Background()
	c := &http.Client{Timeout: 5 * time.Second}
	if _, err := SetFault(ctx, sock, Fault{Delay: 300 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/health", "/", "/nope"} {
		start := time.Now()
		get(t, c, "GET", base+path)
		if d := time.Since(start); d < 300*time.Millisecond {
			t.Errorf("slow=300ms: GET %s answered after %v", path, d)
		}
	}
	// A client that gives up does not keep the handler waiting.
	short := &http.Client{Timeout: 50 * time.Millisecond}
	if _, err := short.Get(base + "/health"); err == nil {
		t.Error("a 50ms client got an answer from a node slowed by 300ms")
	}
	if _, err := SetFault(ctx, sock, Fault{}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if a := get(t, c, "GET", base+"/health"); a.code != 200 {
		t.Fatalf("healthy again: %d", a.code)
	}
	if d := time.Since(start); d > 250*time.Millisecond {
		t.Errorf("healthy again: /health took %v", d)
	}
}

// TestGRPCHealthUnhealthy: an unhealthy node's gRPC health service says
// NOT_SERVING; healthy again, SERVING.
func TestGRPCHealthUnhealthy(t *testing.T) {
	base, _, sim := startSim(t, Options{Zone: "us", Node: "us-node-2"})
	check := func() []byte {
		req, _ := http.NewRequest("POST", base+HealthCheckPath, bytes.NewReader(EncodeHealthRequest("")))
		req.Header.Set("Content-Type", "application/grpc")
		resp, err := h2cClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		msg, _ := io.ReadAll(resp.Body)
		if s := resp.Trailer.Get("Grpc-Status"); s != "0" {
			t.Fatalf("grpc-status %q", s)
		}
		return msg
	}
	if _, err := sim.SetFault(Fault{Unhealthy: true}); err != nil {
		t.Fatal(err)
	}
	if msg := check(); !bytes.Equal(msg, []byte{0, 0, 0, 0, 2, 8, 2}) {
		t.Fatalf("unhealthy: message %x, want NOT_SERVING", msg)
	}
	if _, err := sim.SetFault(Fault{}); err != nil {
		t.Fatal(err)
	}
	if msg := check(); !bytes.Equal(msg, []byte{0, 0, 0, 0, 2, 8, 1}) {
		t.Fatalf("healthy: message %x, want SERVING", msg)
	}
}

func TestParseFault(t *testing.T) {
	tests := []struct {
		in      string
		want    Fault
		wantErr string
	}{
		{in: "healthy", want: Fault{}},
		{in: "unhealthy", want: Fault{Unhealthy: true}},
		{in: "slow=300ms", want: Fault{Delay: 300 * time.Millisecond}},
		{in: "error=503", want: Fault{ErrorStatus: 503}},
		{in: "unhealthy, slow=1s,error=500", want: Fault{Unhealthy: true, Delay: time.Second, ErrorStatus: 500}},
		{in: "", wantErr: `"": want healthy`},
		{in: "sick", wantErr: `"sick": want healthy`},
		{in: "slow", wantErr: `"slow": want healthy`},
		{in: "unhealthy=yes", wantErr: `"unhealthy=yes"`},
		{in: "slow=-1s", wantErr: "want a positive duration"},
		{in: "slow=2m", wantErr: "delay 2m0s: want 0 to 1m0s"},
		{in: "error=404", wantErr: "error status 404: want 500 to 599"},
		{in: "error=abc", wantErr: "want an HTTP status"},
		{in: "slow=1s,slow=2s", wantErr: `"slow" given twice`},
		{in: "healthy,unhealthy", wantErr: `"healthy": want`},
		// every error at once
		{in: "sick,error=404", wantErr: "\"sick\": want healthy, or unhealthy, slow=DURATION and error=STATUS joined by commas\nerror status 404"},
	}
	for _, tc := range tests {
		got, err := ParseFault(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseFault(%q) = %v, %v; want an error with %q", tc.in, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseFault(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			continue
		}
		if back, err := ParseFault(got.String()); err != nil || back != got {
			t.Errorf("ParseFault(%q.String() = %q) = %v, %v", tc.in, got.String(), back, err)
		}
	}
}

// TestControlRejects: the control endpoint decodes strictly and refuses
// out-of-bounds faults, leaving the fault as it was.
func TestControlRejects(t *testing.T) {
	_, sock, sim := startSim(t, Options{Zone: "eu", Node: "n"})
	if _, err := sim.SetFault(Fault{Unhealthy: true}); err != nil {
		t.Fatal(err)
	}
	c := controlClient(sock)
	for _, body := range []string{
		`{"unhealthy":false,"unhealthy":false}`,
		`{"Unhealthy":false}`,
		`{"unhealthy":false,"extra":1}`,
		`{"delay":"2h"}`,
		`{"delay":"soon"}`,
		`{"errorStatus":200}`,
		`{"unhealthy":false} {}`,
		`[]`,
		`{"unhealthy":false,` + strings.Repeat(" ", maxControlBody) + `}`,
	} {
		req, _ := http.NewRequest("PUT", "http://nodesim"+FaultPath, strings.NewReader(body))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 4 {
			t.Errorf("PUT %.60q = %s %s, want a 4xx", body, resp.Status, b)
		}
	}
	if f := sim.Fault(); f != (Fault{Unhealthy: true}) {
		t.Errorf("after rejected bodies the fault is %v", f)
	}
	resp, err := c.Post("http://nodesim"+FaultPath, "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST %s = %s, want 405", FaultPath, resp.Status)
	}
	var f Fault
	if err := json.Unmarshal([]byte(`{"unhealthy":true,"delay":"300ms","errorStatus":502}`), &f); err != nil ||
		f != (Fault{Unhealthy: true, Delay: 300 * time.Millisecond, ErrorStatus: 502}) {
		t.Errorf("decoding a full fault = %v, %v", f, err)
	}
}

// TestControlSocket: the socket is private to its owner, replaces a stale
// one, and refuses a live one or a file that is not a socket.
func TestControlSocket(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "n.sock")
	ln, err := listenControl(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v, %v; want 0600", fi.Mode(), err)
	}
	if _, err := listenControl(context.Background(), path); err == nil || !strings.Contains(err.Error(), "another simulator") {
		t.Errorf("second listener on a live socket: %v", err)
	}
	// A stale socket (its listener gone without removing it) is replaced.
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	ln2, err := listenControl(context.Background(), path)
	if err != nil {
		t.Fatalf("replacing a stale socket: %v", err)
	}
	ln2.Close()
	plain := filepath.Join(dir, "file")
	if err := os.WriteFile(plain, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := listenControl(context.Background(), plain); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("listening over a plain file: %v", err)
	}
}

// TestRunControlSocket: Run serves the control socket given in Options.
func TestRunControlSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "n.sock")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Zone: "eu", Node: "n", HTTPAddr: "127.0.0.1:0", ControlSocket: sock})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		if _, err := os.Stat(sock); !os.IsNotExist(err) {
			t.Errorf("the control socket is left after Run: %v", err)
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		f, err := SetFault(ctx, sock, Fault{ErrorStatus: 500})
		if err == nil {
			if f.ErrorStatus != 500 {
				t.Fatalf("SetFault = %v", f)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("control socket not served within 10s: %v", err)
		}
		<-tick.C
	}
}
