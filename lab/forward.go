package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"
)

// listen opens a TCP listener for one of the lab's host-side endpoints and
// explains a taken port.
func listen(host string, port int, what, flag string) (net.Listener, error) {
	addr := net.JoinHostPort(host, fmt.Sprint(port))
	ln, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("%s: port %d on %s is taken: free it or pick another with %s (0 picks a free port)", what, port, host, flag)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: listening on %s: %w", what, addr, err)
	}
	return ln, nil
}

// forward is a TCP port forward from a host-side listener to a lab address.
type forward struct {
	ln     net.Listener
	target string
	log    *slog.Logger

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// run accepts and proxies connections until ctx is cancelled, then closes
// the listener and every open connection.
func (f *forward) run(ctx context.Context) error {
	f.conns = map[net.Conn]struct{}{}
	stop := context.AfterFunc(ctx, func() {
		f.ln.Close()
		f.mu.Lock()
		for c := range f.conns {
			c.Close()
		}
		f.mu.Unlock()
	})
	defer stop()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			f.wg.Wait()
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("forward %s -> %s: %w", f.ln.Addr(), f.target, err)
		}
		if !f.track(c, ctx) {
			c.Close()
			continue
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			f.proxy(ctx, c)
		}()
	}
}

// track registers c, unless the forward is stopping.
func (f *forward) track(c net.Conn, ctx context.Context) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ctx.Err() != nil {
		return false
	}
	f.conns[c] = struct{}{}
	return true
}

func (f *forward) untrack(c net.Conn) {
	f.mu.Lock()
	delete(f.conns, c)
	f.mu.Unlock()
	c.Close()
}

func (f *forward) proxy(ctx context.Context, in net.Conn) {
	defer f.untrack(in)
	d := net.Dialer{Timeout: 5 * time.Second}
	out, err := d.DialContext(ctx, "tcp", f.target)
	if err != nil {
		f.log.Debug("forward: dialing the target", "target", f.target, "err", err)
		return
	}
	if !f.track(out, ctx) {
		out.Close()
		return
	}
	defer f.untrack(out)
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go pipe(out, in)
	go pipe(in, out)
	<-done
	<-done
}
