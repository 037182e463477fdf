package nodesim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"time"
)

// FaultPath is the control endpoint: GET answers the current Fault as
// JSON, PUT sets it from a JSON Fault body.
const FaultPath = "/fault"

// maxControlBody bounds a PUT /fault body.
const maxControlBody = 4096

// ControlHandler serves FaultPath. It is meant for a listener only the lab
// reaches (Options.ControlSocket), never the node's own listeners.
func (s *Sim) ControlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+FaultPath, func(w http.ResponseWriter, r *http.Request) {
		writeFault(w, http.StatusOK, s.fault.get())
	})
	mux.HandleFunc("PUT "+FaultPath, func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxControlBody))
		if err != nil {
			http.Error(w, "reading the fault: "+err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		var f Fault
		if err := json.Unmarshal(body, &f); err != nil {
			http.Error(w, "invalid fault: "+err.Error(), http.StatusBadRequest)
			return
		}
		if _, err := s.SetFault(f); err != nil {
			http.Error(w, "invalid fault: "+err.Error(), http.StatusBadRequest)
			return
		}
		writeFault(w, http.StatusOK, f)
	})
	return mux
}

func writeFault(w http.ResponseWriter, code int, f Fault) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(f)
}

// listenControl listens on the Unix socket path, mode 0600. A socket left
// there by a simulator that died is replaced; any other file is an error.
func listenControl(ctx context.Context, path string) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("control socket %s: exists and is not a socket", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("control socket %s: another simulator serves it", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("control socket %s: removing a stale one: %w", path, err)
		}
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	return ln, nil
}

// controlClient talks HTTP to the control socket at path.
func controlClient(path string) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
		DisableKeepAlives: true,
	}}
}

// GetFault asks the simulator whose control socket is path for its fault.
func GetFault(ctx context.Context, path string) (Fault, error) {
	return doFault(ctx, path, http.MethodGet, nil)
}

// SetFault sets the fault of the simulator whose control socket is path
// (the zero Fault makes it healthy again) and returns what it now does.
func SetFault(ctx context.Context, path string, f Fault) (Fault, error) {
	if err := f.Validate(); err != nil {
		return Fault{}, fmt.Errorf("setting fault %s: %w", f, err)
	}
	body, err := json.Marshal(f)
	if err != nil {
		return Fault{}, err
	}
	return doFault(ctx, path, http.MethodPut, body)
}

func doFault(ctx context.Context, path, method string, body []byte) (Fault, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://nodesim"+FaultPath, bytes.NewReader(body))
	if err != nil {
		return Fault{}, err
	}
	resp, err := controlClient(path).Do(req)
	if err != nil {
		return Fault{}, fmt.Errorf("node simulator control %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxControlBody))
	if err != nil {
		return Fault{}, fmt.Errorf("node simulator control %s: reading the answer: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return Fault{}, fmt.Errorf("node simulator control %s: %s: %s", path, resp.Status, bytes.TrimSpace(b))
	}
	var f Fault
	if err := json.Unmarshal(b, &f); err != nil {
		return Fault{}, fmt.Errorf("node simulator control %s: decoding %q: %w", path, b, err)
	}
	return f, nil
}
