package nodesim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// start serves a simulator on a free loopback port and returns its base URL.
func start(t *testing.T, o Options) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, o, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

func TestHTTP(t *testing.T) {
	at := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	base := start(t, Options{Zone: "eu", Node: "eu-node-1", Now: func() time.Time { return at }})
	tests := []struct {
		path, wantType, wantBody string
	}{
		{"/health", "application/json", `{"status":"healthy","zone":"eu","node":"eu-node-1","timestamp":"2025-03-04T05:06:07Z"}` + "\n"},
		{"/", "text/plain; charset=utf-8", "DDC node eu-node-1 (zone eu)\n"},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			resp, err := http.Get(base + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != tc.wantType || string(body) != tc.wantBody {
				t.Fatalf("GET %s = %d %q %q; want 200 %q %q", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), body, tc.wantType, tc.wantBody)
			}
			if tc.path == "/health" {
				var h Health
				if err := json.Unmarshal(body, &h); err != nil || h.Node != "eu-node-1" {
					t.Fatalf("health body %q does not decode: %v", body, err)
				}
			}
		})
	}
}

// h2cClient speaks HTTP/2 with prior knowledge, as HAProxy's "proto h2" and
// gRPC clients do.
func h2cClient() *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: &p}, Timeout: 10 * time.Second}
}

func TestGRPCHealth(t *testing.T) {
	base := start(t, Options{Zone: "us", Node: "us-node-2"})
	tests := []struct {
		name, path, service string
		body                []byte // nil: EncodeHealthRequest(service)
		wantStatus          string
		wantMsg             []byte
	}{
		{name: "empty service", path: HealthCheckPath, wantStatus: "0", wantMsg: []byte{0, 0, 0, 0, 2, 8, 1}},
		{name: "node as service", path: HealthCheckPath, service: "us-node-2", wantStatus: "0", wantMsg: []byte{0, 0, 0, 0, 2, 8, 1}},
		{name: "unknown service", path: HealthCheckPath, service: "other", wantStatus: "5"},
		{name: "truncated frame", path: HealthCheckPath, body: []byte{0, 0}, wantStatus: "3"},
		{name: "compressed frame", path: HealthCheckPath, body: []byte{1, 0, 0, 0, 0}, wantStatus: "3"},
		{name: "watch", path: "/grpc.health.v1.Health/Watch", wantStatus: "12"},
	}
	c := h2cClient()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := tc.body
			if body == nil {
				body = EncodeHealthRequest(tc.service)
			}
			req, _ := http.NewRequest("POST", base+tc.path, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/grpc")
			req.Header.Set("TE", "trailers")
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			msg, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.ProtoMajor != 2 {
				t.Fatalf("answered over %s, want HTTP/2", resp.Proto)
			}
			if got := resp.Trailer.Get("Grpc-Status"); got != tc.wantStatus {
				t.Fatalf("grpc-status = %q (message %q), want %s", got, resp.Trailer.Get("Grpc-Message"), tc.wantStatus)
			}
			if !bytes.Equal(msg, tc.wantMsg) && !(len(msg) == 0 && tc.wantMsg == nil) {
				t.Fatalf("message = %x, want %x", msg, tc.wantMsg)
			}
		})
	}
}

func TestEncodeDecodeRequest(t *testing.T) {
	for _, s := range []string{"", "x", strings.Repeat("s", 300)} {
		got, err := readHealthRequest(bytes.NewReader(EncodeHealthRequest(s)))
		if err != nil || got != s {
			t.Fatalf("round trip of %q = %q, %v", s, got, err)
		}
	}
}

func TestRunErrors(t *testing.T) {
	ctx := context.Background()
	if err := Run(ctx, Options{Zone: "eu"}); err == nil {
		t.Fatal("Run without node and address succeeded")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	err = Run(ctx, Options{Zone: "eu", Node: "n", HTTPAddr: ln.Addr().String()})
	var opErr *net.OpError
	if !errors.As(err, &opErr) {
		t.Fatalf("Run on a taken port = %v, want a listen error", err)
	}
}
