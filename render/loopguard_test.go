package render

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ddc-gitops/ddc-gitops/desired"
)

// inNetns runs fn on an OS thread inside network namespace ns, so the
// sockets fn creates live there. The thread stays locked and dies with its
// goroutine: its namespace never leaks to other goroutines.
func inNetns(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open(filepath.Join("/run/netns", ns))
		if err != nil {
			errc <- fmt.Errorf("opening network namespace %s: %w", ns, err)
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("entering network namespace %s: %w", ns, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// syncBuffer collects a process's output; it may be read while written.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// freePort picks a free port on addr inside ns (listen on :0, release).
func freePort(t *testing.T, ns, addr string) int {
	t.Helper()
	var port int
	err := inNetns(ns, func() error {
		l, err := net.Listen("tcp", net.JoinHostPort(addr, "0"))
		if err != nil {
			return err
		}
		port = l.Addr().(*net.TCPAddr).Port
		return l.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// probeValue uses every character a header value may hold: the node must
// receive it verbatim.
const probeValue = "a b (c) [d] {e} <f> ?&|^'-!*+,;=:@/~._ Z9"

// guardFleet is a two-zone fleet whose zone a sends to one node and fails
// over to zone b.
func guardFleet(fePort, nodePort int) fstest.MapFS {
	files := map[string]string{
		"fleet.yaml": `kind: Fleet
name: guard
haproxy:
  maxconn: 1000
  crtBase: /etc/haproxy/certs
`,
		"zones/a/zone.yaml": fmt.Sprintf(`kind: Zone
name: a
network:
  cidr: 198.18.40.0/24
failover: [b]
vips:
  - {name: a-vip, address: 198.18.40.100, routerId: 1}
hosts:
  - {name: a-lb, address: 198.18.40.11, owns: [a-vip]}
frontends:
  - name: web
    binds: [{address: 198.18.40.100, port: %d}]
    setHeaders:
      - name: X-Probe
        value: "`+probeValue+`"
      - name: X-Empty
        value: ""
    defaultBackend: web
`, fePort),
		"zones/b/zone.yaml": fmt.Sprintf(`kind: Zone
name: b
network:
  cidr: 198.18.41.0/24
failover: [a]
vips:
  - {name: b-vip, address: 198.18.41.100, routerId: 1}
hosts:
  - {name: b-lb, address: 198.18.41.11, owns: [b-vip]}
frontends:
  - name: web
    binds: [{port: %d}]
    defaultBackend: web
`, fePort),
		"backends/web.yaml": fmt.Sprintf(`kind: Backend
name: web
mode: http
nodes:
  port: http
failover:
  port: %d
`, fePort),
		"nodes/a-node.yaml": fmt.Sprintf(`kind: Node
name: a-node
pubKey: 0xff6a6ef1bb7eca57b6fe7443009d156c3a9537b0ed709c6f4497fa7ca67cdfe8
providerId: 0xa4e036900fe6450500b3bca3470bf6fbc9a1ac23a627b3dbac0a4f34048fb81a
clusterId: 0xdc2a706e94a3c9e45e26f5bce2da76a74309027e
host: 198.18.40.21
domain: a-node.guard.example
httpPort: %d
grpcPort: 9091
p2pPort: 9070
mode: full
zone: a
admitted: true
`, nodePort),
	}
	m := fstest.MapFS{}
	for k, v := range files {
		m[k] = &fstest.MapFile{Data: []byte(v), Mode: 0o644}
	}
	return m
}

// TestFailoverLoopGuard runs zone a's rendered haproxy.cfg with the real
// HAProxy in a network namespace, in front of a node that echoes the hop
// headers it receives, and sends requests from a client address and from
// the fleet's own addresses.
func TestFailoverLoopGuard(t *testing.T) {
	needHAProxy(t)
	ns := netns(t, nil)
	for _, args := range [][]string{
		{"link", "set", "lo", "up"},
		{"addr", "add", "198.18.40.11/32", "dev", "lo"},  // zone a's host
		{"addr", "add", "198.18.40.100/32", "dev", "lo"}, // zone a's VIP
		{"addr", "add", "198.18.40.21/32", "dev", "lo"},  // zone a's node
		{"addr", "add", "198.18.41.11/32", "dev", "lo"},  // zone b's host
		{"addr", "add", "198.18.41.100/32", "dev", "lo"}, // zone b's VIP
		{"addr", "add", "198.18.42.7/32", "dev", "lo"},   // a client
	} {
		if out, err := exec.Command("ip", append([]string{"-n", ns}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}

	// The node: answers with the hop headers it got.
	var nodeLn net.Listener
	if err := inNetns(ns, func() (err error) {
		nodeLn, err = net.Listen("tcp", "198.18.40.21:0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	node := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == desired.DefaultCheckPath {
			return // health check
		}
		if got := r.Header.Get("X-Probe"); got != probeValue {
			http.Error(w, "X-Probe arrived as "+strconv.Quote(got), http.StatusBadRequest)
			return
		}
		if got := r.Header.Values("X-Empty"); len(got) != 1 || got[0] != "" {
			http.Error(w, fmt.Sprintf("X-Empty arrived as %q", got), http.StatusBadRequest)
			return
		}
		io.WriteString(w, strings.Join(r.Header.Values(HopHeader), ","))
	})}
	go node.Serve(nodeLn)
	t.Cleanup(func() { node.Close() })

	fePort := freePort(t, ns, "198.18.40.100")
	fl, err := desired.Load(guardFleet(fePort, nodeLn.Addr().(*net.TCPAddr).Port))
	if err != nil {
		t.Fatalf("the test fleet is invalid: %v", err)
	}
	dir := t.TempDir()
	h, err := Render(fl, "a-lb", Options{AdminSocket: filepath.Join(dir, "admin.sock")})
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfg, h.HAProxy, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", ns, haproxyBin, "-f", cfg)
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var exitErr error
	go func() { exitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				t.Errorf("haproxy (pid %d) did not exit", cmd.Process.Pid)
			}
		}
	})

	// get sends one request from src with the given hop headers.
	get := func(src string, hops ...string) (int, string, error) {
		var conn net.Conn
		err := inNetns(ns, func() (err error) {
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 2 * time.Second}
			conn, err = d.Dial("tcp", net.JoinHostPort("198.18.40.100", fmt.Sprint(fePort)))
			return err
		})
		if err != nil {
			return 0, "", err
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		req := "GET /echo HTTP/1.1\r\nHost: guard.example\r\nConnection: close\r\n"
		for _, h := range hops {
			req += HopHeader + ": " + h + "\r\n"
		}
		if _, err := io.WriteString(conn, req+"\r\n"); err != nil {
			return 0, "", err
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body), err
	}

	// Wait for HAProxy to serve (poll with a deadline).
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for {
		code, body, err := get("198.18.42.7")
		if err == nil && code == 200 && body == "a" {
			break
		}
		select {
		case <-exited:
			t.Fatalf("haproxy exited: %v\n%s", exitErr, logs.String())
		case <-ctx.Done():
			t.Fatalf("haproxy did not serve in time (last: %d %q %v)\n%s", code, body, err, logs.String())
		case <-time.After(20 * time.Millisecond):
		}
	}

	tests := []struct {
		name     string
		src      string
		hops     []string
		wantCode int
		wantBody string
	}{
		{"client forging one hop: stripped", "198.18.42.7", []string{"b"}, 200, "a"},
		{"client forging two hops: stripped, not refused", "198.18.42.7", []string{"a", "b"}, 200, "a"},
		{"first failover hop from zone b's host", "198.18.41.11", []string{"b"}, 200, "b,a"},
		{"first failover hop from zone b's VIP", "198.18.41.100", []string{"b"}, 200, "b,a"},
		{"second hop is refused", "198.18.41.11", []string{"a", "b"}, 503, ""},
		{"no hop from zone b", "198.18.41.11", nil, 200, "a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body, err := get(tt.src, tt.hops...)
			if err != nil {
				t.Fatal(err)
			}
			if code != tt.wantCode || (tt.wantCode == 200 && body != tt.wantBody) {
				t.Errorf("got %d %q, want %d %q", code, body, tt.wantCode, tt.wantBody)
			}
		})
	}
	if err := node.Close(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("closing the node: %v", err)
	}
}
