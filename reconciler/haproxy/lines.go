package haproxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
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

// StatColumns runs a `show stat` command (e.g. "show stat -1 7 -1") and
// hands fn each row's fields of the columns cols, in the order of cols (the
// slices are valid during the call only), as the reply streams in: the
// reply of 10,000 servers is never held, and only the fields up to the
// last column asked for are looked at. The columns must come before the
// first one HAProxy may quote (last_chk and later). A reply without the
// CSV header (an error text) or without one of cols is an error.
func (r *Runtime) StatColumns(ctx context.Context, cmd string, cols []string, fn func(row [][]byte) error) error {
	p := NewStatColumnParser(cols, fn)
	if err := r.RunLines(ctx, cmd, p.Line); err != nil {
		return err
	}
	return p.Done()
}

// StatColumnParser reads `show stat` CSV one line at a time (see
// StatColumns); it also parses a reply held whole, line by line.
type StatColumnParser struct {
	cols   []string
	fn     func(row [][]byte) error
	idx    []int // the column index of each of cols
	last   int
	header bool
	fields [][]byte // a row's fields up to last
	row    [][]byte // the fields of cols, handed to fn
}

// NewStatColumnParser returns a parser handing fn the columns cols of each row.
func NewStatColumnParser(cols []string, fn func(row [][]byte) error) *StatColumnParser {
	return &StatColumnParser{cols: cols, fn: fn}
}

// Line parses one line (without its newline).
func (p *StatColumnParser) Line(line []byte) error {
	if len(line) == 0 {
		return nil // HAProxy starts and ends the CSV with empty lines
	}
	if !p.header {
		return p.readHeader(line)
	}
	n := 0
	for n <= p.last {
		f, tail, ok := bytes.Cut(line, []byte{','})
		if len(f) > 0 && f[0] == '"' {
			return fmt.Errorf("show stat: quoted field before column %d in %.60q", p.last, line)
		}
		p.fields[n] = f
		n++
		line = tail
		if !ok {
			break
		}
	}
	if n <= p.last {
		return fmt.Errorf("show stat: short row (%d fields, want at least %d)", n, p.last+1)
	}
	for j, i := range p.idx {
		p.row[j] = p.fields[i]
	}
	return p.fn(p.row)
}

func (p *StatColumnParser) readHeader(header []byte) error {
	if !bytes.HasPrefix(header, []byte("# ")) {
		return fmt.Errorf("show stat: no CSV header line in %.60q", header)
	}
	p.idx = make([]int, len(p.cols))
	for j := range p.idx {
		p.idx[j] = -1
	}
	for i, h := range bytes.Split(header[2:], []byte{','}) {
		for j, c := range p.cols {
			if string(h) == c {
				p.idx[j] = i
				p.last = max(p.last, i)
			}
		}
	}
	for j, i := range p.idx {
		if i < 0 {
			return fmt.Errorf("show stat has no %s column", p.cols[j])
		}
	}
	p.fields = make([][]byte, p.last+1)
	p.row = make([][]byte, len(p.cols))
	p.header = true
	return nil
}

// Done reports a reply that had no header at all.
func (p *StatColumnParser) Done() error {
	if !p.header {
		return errors.New("show stat: empty reply")
	}
	return nil
}

// ParseStatColumns is StatColumns over a reply held whole.
func ParseStatColumns(out string, cols []string, fn func(row [][]byte) error) error {
	p := NewStatColumnParser(cols, fn)
	for line := range strings.SplitSeq(out, "\n") {
		if err := p.Line([]byte(line)); err != nil {
			return err
		}
	}
	return p.Done()
}

// EachServerState streams `show servers state [backend]`: fn gets each
// row's backend and server names (valid during the call only) and its
// numeric columns in a ServerStateRow whose strings (Backend, Name,
// Address) and Field are left empty. A poll of 10,000 rows costs no
// per-row allocation (ShowServersState builds them all).
func (r *Runtime) EachServerState(ctx context.Context, backend string, fn func(be, name []byte, row ServerStateRow) error) error {
	cmd := "show servers state"
	if backend != "" {
		cmd += " " + backend
	}
	var sc serverStateScanner
	var fields [][]byte
	err := r.RunLines(ctx, cmd, func(line []byte) error {
		kind, err := serverStateNext(&sc, line, &fields)
		if err != nil {
			return fmt.Errorf("%s: %w", cmd, err)
		}
		if kind != stateLineRow {
			return nil
		}
		h := sc.hdr
		if h.be < 0 || h.name < 0 {
			return fmt.Errorf("%s: line %d: no be_name or srv_name column", cmd, sc.line)
		}
		return fn(fields[h.be], fields[h.name], serverStateRow(h, fields))
	})
	if err == nil {
		if derr := sc.done(); derr != nil {
			err = fmt.Errorf("%s: %w", cmd, derr)
		}
	}
	return err
}
