// Package nodesim simulates one DDC node for the local lab: an HTTP server
// answering /health with the original lab's JSON, / with a plain line naming
// the node, and the gRPC health service (grpc.health.v1.Health/Check) over
// cleartext HTTP/2 (h2c), without the grpc-go dependency.
//
// The lab runs one simulator per node namespace, re-executed as
// `ddc-gitops lab nodesim --zone eu --node eu-node-1 --listen ADDR --grpc-listen ADDR`.
package nodesim

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"golang.org/x/sync/errgroup"
)

// HealthCheckPath is the gRPC health service's Check method.
const HealthCheckPath = "/grpc.health.v1.Health/Check"

// gRPC status codes used here.
const (
	grpcOK            = 0
	grpcInvalidArg    = 3
	grpcNotFound      = 5
	grpcUnimplemented = 12
)

// HealthCheckResponse statuses.
const (
	grpcServing    = 1
	grpcNotServing = 2
)

// Options configure a simulated node.
type Options struct {
	// Zone and Node name the node in its answers; both required.
	Zone, Node string
	// HTTPAddr is the HTTP listen address (HTTP/1.1 and h2c), e.g. ":8080".
	HTTPAddr string
	// GRPCAddr is the gRPC listen address (h2c); empty: none.
	GRPCAddr string
	// Now is the clock of /health's timestamp (default time.Now).
	Now func() time.Time
	// ControlSocket is the path of a Unix socket serving ControlHandler
	// (mode 0600: only its owner, the lab, sets faults); empty: none.
	ControlSocket string
	// Logger receives start and stop messages and fault changes (default:
	// discarded).
	Logger *slog.Logger
}

// Health is the JSON body of GET /health.
type Health struct {
	Status    string `json:"status"`
	Zone      string `json:"zone"`
	Node      string `json:"node"`
	Timestamp string `json:"timestamp"`
}

// Handler serves a simulated node with no fault (see Sim.Handler).
func Handler(o Options) http.Handler { return New(o).Handler() }

// Sim is one simulated node: its HTTP handler and its current fault,
// which the control handler sets.
type Sim struct {
	o     Options
	now   func() time.Time
	log   *slog.Logger
	fault faultState
}

// New returns a healthy simulated node.
func New(o Options) *Sim {
	s := &Sim{o: o, now: o.Now, log: o.Logger}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

// Fault is the node's current fault.
func (s *Sim) Fault() Fault { return s.fault.get() }

// SetFault sets the node's fault (the zero Fault: healthy again) and
// returns the one it replaces.
func (s *Sim) SetFault(f Fault) (Fault, error) {
	if err := f.Validate(); err != nil {
		return Fault{}, err
	}
	old := s.fault.set(f)
	s.log.Info("node simulator fault set", "zone", s.o.Zone, "node", s.o.Node, "fault", f.String(), "previous", old.String())
	return old, nil
}

// Handler serves what a DDC node serves, and 404 on every other path:
//   - GET /health: the JSON Health, 200 ("healthy"), or 503 ("unhealthy")
//     while the fault says Unhealthy;
//   - /: a plain line naming the node;
//   - the gRPC health service (grpc.health.v1.Health/Check): SERVING, or
//     NOT_SERVING while Unhealthy.
//
// A fault's Delay comes before every answer; its ErrorStatus replaces every
// answer but the health checks'.
func (s *Sim) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		f := s.fault.get()
		h := Health{Status: "healthy", Zone: s.o.Zone, Node: s.o.Node, Timestamp: s.now().UTC().Format(time.RFC3339)}
		code := http.StatusOK
		if f.Unhealthy {
			h.Status, code = "unhealthy", http.StatusServiceUnavailable
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(h)
	})
	mux.HandleFunc("/grpc.health.v1.Health/", func(w http.ResponseWriter, r *http.Request) {
		grpcHealth(w, r, s.o.Node, !s.fault.get().Unhealthy)
	})
	mux.HandleFunc("/{$}", s.failing(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "DDC node %s (zone %s)\n", s.o.Node, s.o.Zone)
	}))
	mux.HandleFunc("/", s.failing(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, "DDC node %s (zone %s): 404 page not found\n", s.o.Node, s.o.Zone)
	}))
	return s.delayed(mux)
}

// delayed waits for the fault's Delay (or the client to go away) before
// every request.
func (s *Sim) delayed(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d := s.fault.get().Delay; d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// failing answers the fault's ErrorStatus instead of calling next.
func (s *Sim) failing(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if code := s.fault.get().ErrorStatus; code != 0 {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(code)
			fmt.Fprintf(w, "DDC node %s (zone %s): simulated error %d\n", s.o.Node, s.o.Zone, code)
			return
		}
		next(w, r)
	}
}

// grpcHealth answers grpc.health.v1.Health/Check: SERVING (NOT_SERVING
// when not serving) for the empty service name and for the node's name,
// NOT_FOUND otherwise; Watch and other methods are UNIMPLEMENTED.
func grpcHealth(w http.ResponseWriter, r *http.Request, node string, serving bool) {
	w.Header().Set("Content-Type", "application/grpc")
	w.Header().Set("Trailer", "Grpc-Status, Grpc-Message")
	finish := func(code int, msg string) {
		w.Header().Set("Grpc-Status", fmt.Sprint(code))
		w.Header().Set("Grpc-Message", msg)
	}
	if r.URL.Path != HealthCheckPath {
		w.WriteHeader(http.StatusOK)
		finish(grpcUnimplemented, "method not implemented")
		return
	}
	service, err := readHealthRequest(r.Body)
	w.WriteHeader(http.StatusOK)
	switch {
	case err != nil:
		finish(grpcInvalidArg, err.Error())
	case service != "" && service != node:
		finish(grpcNotFound, "unknown service")
	default:
		// HealthCheckResponse{status: SERVING (1) or NOT_SERVING (2)}, in
		// one uncompressed frame.
		status := byte(grpcServing)
		if !serving {
			status = grpcNotServing
		}
		_, _ = w.Write([]byte{0, 0, 0, 0, 2, 0x08, status})
		finish(grpcOK, "")
	}
}

// readHealthRequest decodes one gRPC frame holding a HealthCheckRequest and
// returns its service field (protobuf field 1, a string).
func readHealthRequest(body io.Reader) (string, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(body, hdr[:]); err != nil {
		return "", fmt.Errorf("reading the gRPC frame header: %w", err)
	}
	if hdr[0] != 0 {
		return "", errors.New("compressed gRPC messages are not supported")
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > 4096 {
		return "", fmt.Errorf("gRPC message of %d bytes is too large for a health check", n)
	}
	msg := make([]byte, n)
	if _, err := io.ReadFull(body, msg); err != nil {
		return "", fmt.Errorf("reading the gRPC message: %w", err)
	}
	service := ""
	for len(msg) > 0 {
		tag, k := binary.Uvarint(msg)
		if k <= 0 {
			return "", errors.New("malformed protobuf tag")
		}
		msg = msg[k:]
		if tag&7 != 2 { // only length-delimited fields are expected
			return "", fmt.Errorf("unexpected protobuf wire type %d", tag&7)
		}
		l, k := binary.Uvarint(msg)
		if k <= 0 || uint64(len(msg)-k) < l {
			return "", errors.New("malformed protobuf length")
		}
		if tag>>3 == 1 {
			service = string(msg[k : k+int(l)])
		}
		msg = msg[k+int(l):]
	}
	return service, nil
}

// EncodeHealthRequest returns a gRPC frame holding a HealthCheckRequest for
// service, for clients and tests.
func EncodeHealthRequest(service string) []byte {
	msg := []byte{}
	if service != "" {
		msg = append(msg, 0x0a)
		msg = binary.AppendUvarint(msg, uint64(len(service)))
		msg = append(msg, service...)
	}
	frame := make([]byte, 5, 5+len(msg))
	binary.BigEndian.PutUint32(frame[1:], uint32(len(msg)))
	return append(frame, msg...)
}

// Run listens on HTTPAddr (and GRPCAddr, and ControlSocket) and serves
// the node until ctx is cancelled.
func Run(ctx context.Context, o Options) error {
	if o.Zone == "" || o.Node == "" || o.HTTPAddr == "" {
		return errors.New("node simulator: zone, node and an HTTP listen address are required")
	}
	var lc net.ListenConfig
	addrs := []string{o.HTTPAddr}
	if o.GRPCAddr != "" {
		addrs = append(addrs, o.GRPCAddr)
	}
	var lns []net.Listener
	closeAll := func() {
		for _, l := range lns {
			l.Close()
		}
	}
	for _, a := range addrs {
		ln, err := lc.Listen(ctx, "tcp", a)
		if err != nil {
			closeAll()
			return fmt.Errorf("node simulator %s: %w", o.Node, err)
		}
		lns = append(lns, ln)
	}
	var ctl net.Listener
	if o.ControlSocket != "" {
		var err error
		if ctl, err = listenControl(ctx, o.ControlSocket); err != nil {
			closeAll()
			return fmt.Errorf("node simulator %s: %w", o.Node, err)
		}
	}
	return New(o).Serve(ctx, ctl, lns...)
}

// Serve serves a healthy node on every listener until ctx is cancelled
// (see Sim.Serve).
func Serve(ctx context.Context, o Options, lns ...net.Listener) error {
	return New(o).Serve(ctx, nil, lns...)
}

// Serve serves Handler on every listener (HTTP/1.1 and h2c), and
// ControlHandler on control unless it is nil, until ctx is cancelled; then
// it shuts down (closing requests still delayed by a fault after 5s).
func (s *Sim) Serve(ctx context.Context, control net.Listener, lns ...net.Listener) error {
	var protos http.Protocols
	protos.SetHTTP1(true)
	protos.SetUnencryptedHTTP2(true)
	errLog := slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)
	srv := &http.Server{Handler: s.Handler(), Protocols: &protos, ReadHeaderTimeout: 10 * time.Second, ErrorLog: errLog}
	servers := []*http.Server{srv}
	type served struct {
		srv *http.Server
		ln  net.Listener
	}
	var all []served
	for _, ln := range lns {
		all = append(all, served{srv, ln})
	}
	if control != nil {
		ctl := &http.Server{Handler: s.ControlHandler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: errLog}
		servers = append(servers, ctl)
		all = append(all, served{ctl, control})
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, x := range all {
		s.log.Info("node simulator listening", "zone", s.o.Zone, "node", s.o.Node, "addr", x.ln.Addr().String())
		g.Go(func() error {
			if err := x.srv.Serve(x.ln); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("node simulator %s on %s: %w", s.o.Node, x.ln.Addr(), err)
			}
			return nil
		})
	}
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var errs []error
		for _, x := range servers {
			if err := x.Shutdown(sctx); errors.Is(err, context.DeadlineExceeded) {
				errs = append(errs, x.Close())
			} else {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	})
	return g.Wait()
}
