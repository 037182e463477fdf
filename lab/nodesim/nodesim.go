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
	// Logger receives start and stop messages (default: discarded).
	Logger *slog.Logger
}

// Health is the JSON body of GET /health.
type Health struct {
	Status    string `json:"status"`
	Zone      string `json:"zone"`
	Node      string `json:"node"`
	Timestamp string `json:"timestamp"`
}

// Handler serves /health, the gRPC health check and everything else with a
// plain line naming the node.
func Handler(o Options) http.Handler {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(Health{Status: "healthy", Zone: o.Zone, Node: o.Node,
			Timestamp: now().UTC().Format(time.RFC3339)})
	})
	mux.HandleFunc("/grpc.health.v1.Health/", func(w http.ResponseWriter, r *http.Request) { grpcHealth(w, r, o.Node) })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "DDC node %s (zone %s)\n", o.Node, o.Zone)
	})
	return mux
}

// grpcHealth answers grpc.health.v1.Health/Check: SERVING for the empty
// service name and for the node's name, NOT_FOUND otherwise; Watch and
// other methods are UNIMPLEMENTED.
func grpcHealth(w http.ResponseWriter, r *http.Request, node string) {
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
		// HealthCheckResponse{status: SERVING (1)}, in one uncompressed frame.
		_, _ = w.Write([]byte{0, 0, 0, 0, 2, 0x08, 0x01})
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

// Run listens on HTTPAddr (and GRPCAddr) and serves Handler until ctx is
// cancelled.
func Run(ctx context.Context, o Options) error {
	if o.Zone == "" || o.Node == "" || o.HTTPAddr == "" {
		return errors.New("node simulator: zone, node and an HTTP listen address are required")
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var lc net.ListenConfig
	addrs := []string{o.HTTPAddr}
	if o.GRPCAddr != "" {
		addrs = append(addrs, o.GRPCAddr)
	}
	lns := make([]net.Listener, 0, len(addrs))
	for _, a := range addrs {
		ln, err := lc.Listen(ctx, "tcp", a)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return fmt.Errorf("node simulator %s: %w", o.Node, err)
		}
		lns = append(lns, ln)
	}
	return Serve(ctx, o, lns...)
}

// Serve serves Handler on every listener (HTTP/1.1 and h2c) until ctx is
// cancelled, then shuts down.
func Serve(ctx context.Context, o Options, lns ...net.Listener) error {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var protos http.Protocols
	protos.SetHTTP1(true)
	protos.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: Handler(o), Protocols: &protos, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
	g, gctx := errgroup.WithContext(ctx)
	for _, ln := range lns {
		log.Info("node simulator listening", "zone", o.Zone, "node", o.Node, "addr", ln.Addr().String())
		g.Go(func() error {
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("node simulator %s on %s: %w", o.Node, ln.Addr(), err)
			}
			return nil
		})
	}
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	})
	return g.Wait()
}
