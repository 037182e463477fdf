package haproxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// maxReplyLine bounds one line of a streamed reply (a `show stat` row is
// a few hundred bytes; a server's last_chk text is the longest field).
const maxReplyLine = 1 << 20

// RunLines runs one read-only command on its own connection and hands each
// line of the reply to fn as it arrives, without its newline; the slice is
// only valid during the call. The reply is never held whole, so reading
// `show stat` of 10,000 servers costs a 64 KiB buffer, not megabytes of
// garbage. fn returning an error stops the read and RunLines returns it.
// The session is not in prompt mode: HAProxy closes the connection after
// the reply. An error reply comes as text like any other, so the caller's
// parser checks the first line (a CSV header, a format version).
func (r *Runtime) RunLines(ctx context.Context, cmd string, fn func(line []byte) error) error {
	if err := checkCommand(cmd); err != nil {
		return fmt.Errorf("haproxy runtime command %q: %w", cmd, err)
	}
	ctx, cancel := r.withTimeout(ctx)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", r.Socket)
	if err != nil {
		return fmt.Errorf("connecting to haproxy admin socket %s: %w", r.Socket, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	if _, err := io.WriteString(conn, cmd+"\n"); err != nil {
		return fmt.Errorf("sending %q to haproxy: %w", cmd, err)
	}
	br := bufio.NewReaderSize(conn, 64<<10)
	var long []byte // a line longer than the buffer, assembled
	for {
		chunk, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if len(long)+len(chunk) > maxReplyLine {
				return fmt.Errorf("reading %q from haproxy: a line over %d bytes", cmd, maxReplyLine)
			}
			long = append(long, chunk...)
			continue
		}
		line := chunk
		if long != nil {
			line = append(long, chunk...)
			long = nil
		}
		if n := len(line); n > 0 && line[n-1] == '\n' {
			line = line[:n-1]
		}
		if len(line) > 0 || err == nil {
			if ferr := fn(line); ferr != nil {
				return ferr
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			if cerr := ctxDone(ctx); cerr != nil {
				return fmt.Errorf("reading %q from haproxy: %w", cmd, cerr)
			}
			return fmt.Errorf("reading %q from haproxy: %w", cmd, err)
		}
	}
}
