package haproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"
)

// Defaults for Runtime's zero fields.
const (
	DefaultExecTimeout  = 30 * time.Second
	DefaultBatchSize    = 100
	DefaultPollInterval = 50 * time.Millisecond
	// maxLineBytes caps one `;`-separated line. HAProxy 2.6 accepted 27 KB
	// lines in our tests; staying far below tune.bufsize (16 KB) keeps a
	// margin for builds with a smaller buffer.
	maxLineBytes = 8 << 10
)

// Runtime is a client for the HAProxy runtime API on the worker's admin
// socket (`stats socket PATH level admin`).
//
// It is our own small client rather than client-native v5's runtime package
// because that client opens one connection per command (1,000 `add server`
// take four times as long as one pipelined session), its AddServer and
// DeleteServer refuse to run unless a HAProxy version cached in a package
// variable was filled by an earlier successful GetVersion (not the case after
// the socket was down during a reload), and its Reload refuses HAProxy < 2.7.
// Its parsers did not fit either: `show servers state` is split by fixed
// column positions and keeps neither weights nor check status, and its
// `show stat` parser is tied to its per-command connection. So this file
// speaks the protocol directly (one session in prompt mode, commands batched
// on `;`-separated lines) and stat.go parses replies by their header line.
//
// A Runtime holds no connection between calls; it is safe for concurrent use.
type Runtime struct {
	// Socket is the path of the admin socket.
	Socket string
	// Timeout bounds one Exec whose context has no deadline (default 30s).
	Timeout time.Duration
	// BatchSize is the most commands sent on one line (default 100).
	BatchSize int
	// PollInterval is how often DelServers and AdmitServers look at the
	// servers while they wait (default 50ms).
	PollInterval time.Duration
	// ReleaseTimeout bounds how long DelServers retries `del server` while
	// HAProxy still reports connections attached to a server in maintenance
	// (idle pooled connections are purged asynchronously; default 10s).
	ReleaseTimeout time.Duration
	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger
}

// Sentinel errors matched (with errors.Is) by a CommandError whose reply
// carries the corresponding HAProxy 2.6 message.
var (
	ErrUnknownCommand   = errors.New("unknown runtime command")
	ErrNoSuchBackend    = errors.New("no such backend")
	ErrNoSuchServer     = errors.New("no such server")
	ErrServerExists     = errors.New("server already exists")
	ErrStaticBalance    = errors.New("backend balance algorithm does not allow dynamic servers")
	ErrServerNotInMaint = errors.New("server is not in maintenance")
	ErrServerBusy       = errors.New("server still has connections attached")
	// ErrNoReply means the connection ended before HAProxy answered a command
	// (the worker stopped, e.g. during a reload). The command may or may not
	// have run.
	ErrNoReply = errors.New("no reply from haproxy")
)

// errorTexts maps the start of a reply message (after any "[N]: " severity
// prefix) to the sentinel it means. Every entry is an error whatever the
// severity HAProxy printed with it ("Unknown command" comes with [6] in 2.6).
var errorTexts = []struct {
	prefix string
	err    error
}{
	{"Unknown command", ErrUnknownCommand},
	{"No such backend", ErrNoSuchBackend},
	{"Can't find backend", ErrNoSuchBackend},
	{"No such proxy", ErrNoSuchBackend},
	{"No such server", ErrNoSuchServer},
	{"Already exists a server with the same name", ErrServerExists},
	{"Backend must use a dynamic load balancing", ErrStaticBalance},
	{"Only servers in maintenance mode can be deleted", ErrServerNotInMaint},
	{"Server still has connections attached", ErrServerBusy},
}

// otherErrorTexts are reply starts that mean failure without a sentinel;
// `set server addr` reports "Invalid addr" with severity [4] (warning).
var otherErrorTexts = []string{"Invalid", "Cannot", "Can't", "Require", "unknown keyword", "Permission denied", "Error", "Failed"}

// CommandError is one runtime API command that HAProxy refused.
type CommandError struct {
	// Index is the command's position in the Exec call.
	Index int
	// Command is the command as sent.
	Command string
	// Severity is the number of the "[N]: " prefix, or -1 when there was none.
	Severity int
	// Reply is HAProxy's reply without the severity prefix.
	Reply string

	sentinel error
}

// Error names the command and HAProxy's reply.
func (e *CommandError) Error() string {
	return fmt.Sprintf("haproxy runtime command %q: %s", e.Command, e.Reply)
}

// Is matches the sentinel errors of this package that the reply means.
func (e *CommandError) Is(target error) bool {
	return e.sentinel != nil && target == e.sentinel
}

// BatchError collects every refused command of one Exec call. errors.As
// finds the first CommandError through it; Errors holds all of them.
type BatchError struct {
	// Total is how many commands the call sent.
	Total  int
	Errors []*CommandError
}

// Error summarises the failures, naming the first.
func (e *BatchError) Error() string {
	if len(e.Errors) == 1 {
		return e.Errors[0].Error()
	}
	return fmt.Sprintf("%d of %d haproxy runtime commands failed, first: %v", len(e.Errors), e.Total, e.Errors[0])
}

// Unwrap returns each CommandError.
func (e *BatchError) Unwrap() []error {
	out := make([]error, len(e.Errors))
	for i, ce := range e.Errors {
		out[i] = ce
	}
	return out
}

// Exec runs cmds over one connection to the admin socket and returns one
// reply per command, in order (the reply text without its trailing newline,
// including any "[N]: " severity prefix). It switches the session to prompt
// mode and `set severity-output number`, sends the commands in lines of up to
// BatchSize separated by `;`, ends with `quit` and reads every reply up to
// the end of the stream; the socket is never half-closed.
//
// A command HAProxy refused (a reply starting with [0]..[3], or one of the
// known error texts) yields a *BatchError holding one *CommandError per
// refused command; the other commands still ran and the returned slice holds
// every reply. When the connection ends early the replies received so far are
// returned with an error matching ErrNoReply that names the first command
// left without a reply.
func (r *Runtime) Exec(ctx context.Context, cmds []string) ([]string, error) {
	if len(cmds) == 0 {
		return nil, nil
	}
	for i, c := range cmds {
		if err := checkCommand(c); err != nil {
			return nil, fmt.Errorf("haproxy runtime command %d %q: %w", i, c, err)
		}
	}
	start := time.Now()
	payload := buildPayload(cmds, r.batchSize())
	raw, ioErr := r.roundTrip(ctx, payload)
	if raw == "" && ioErr != nil {
		return nil, ioErr // no reply at all, not even to the session setup
	}
	replies, setupErr, complete := splitReplies(raw, len(cmds))
	r.logger().Debug("haproxy runtime exec", "socket", r.Socket, "commands", len(cmds),
		"replies", len(replies), "bytes_out", len(payload), "bytes_in", len(raw), "elapsed", time.Since(start))
	if setupErr != "" {
		return nil, fmt.Errorf("haproxy runtime session setup on %s: unexpected reply %q", r.Socket, setupErr)
	}
	if len(replies) > len(cmds) {
		return nil, fmt.Errorf("haproxy runtime on %s: %d replies for %d commands: a reply contained the prompt", r.Socket, len(replies), len(cmds))
	}
	var batch BatchError
	for i, rep := range replies {
		if ce := classify(i, cmds[i], rep); ce != nil {
			batch.Errors = append(batch.Errors, ce)
		}
	}
	batch.Total = len(cmds)
	if !complete || len(replies) < len(cmds) {
		missing := len(replies)
		cause := ioErr
		if cause == nil {
			cause = io.ErrUnexpectedEOF
		}
		err := fmt.Errorf("haproxy runtime on %s: %w to command %d of %d %q (%d commands without a reply): %w",
			r.Socket, ErrNoReply, missing+1, len(cmds), cmds[missing], len(cmds)-missing, cause)
		if len(batch.Errors) > 0 {
			err = errors.Join(err, &batch)
		}
		return replies, err
	}
	if len(batch.Errors) > 0 {
		return replies, &batch
	}
	return replies, nil
}

// Run executes one command and returns its reply.
func (r *Runtime) Run(ctx context.Context, cmd string) (string, error) {
	replies, err := r.Exec(ctx, []string{cmd})
	if len(replies) == 1 {
		return replies[0], err
	}
	return "", err
}

func checkCommand(c string) error {
	switch {
	case strings.TrimSpace(c) == "":
		return errors.New("empty command")
	case strings.ContainsAny(c, "\r\n"):
		return errors.New("command contains a line break")
	}
	for i := 0; i < len(c); i++ {
		if c[i] == ';' && (i == 0 || c[i-1] != '\\') {
			return errors.New("command contains an unescaped ';' (the command separator)")
		}
	}
	return nil
}

// buildPayload is the whole session: prompt mode, numeric severities, the
// commands in lines of at most batch commands and maxLineBytes bytes, quit.
func buildPayload(cmds []string, batch int) []byte {
	n := len("prompt\nset severity-output number\nquit\n")
	for _, c := range cmds {
		n += len(c) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, "prompt\nset severity-output number\n"...)
	inLine, lineBytes := 0, 0
	for _, c := range cmds {
		if inLine > 0 && (inLine >= batch || lineBytes+1+len(c) > maxLineBytes) {
			b = append(b, '\n')
			inLine, lineBytes = 0, 0
		}
		if inLine > 0 {
			b = append(b, ';')
			lineBytes++
		}
		b = append(b, c...)
		inLine++
		lineBytes += len(c)
	}
	b = append(b, "\nquit\n"...)
	return b
}

// cliPrompt ends every command's reply in prompt mode, `;`-separated
// commands included.
const cliPrompt = "\n> "

// splitReplies cuts a prompt-mode session into the replies of n commands
// after the two setup commands. complete reports that the stream ended right
// after a prompt (nothing half-received). setupErr is a non-empty reply to a
// setup command.
func splitReplies(raw string, n int) (replies []string, setupErr string, complete bool) {
	parts := strings.Split(raw, cliPrompt)
	// parts[len-1] is what followed the last prompt: empty after quit.
	last := parts[len(parts)-1]
	parts = parts[:len(parts)-1]
	complete = last == ""
	for i := 0; i < 2 && len(parts) > 0; i++ {
		if s := strings.TrimSpace(parts[0]); s != "" && setupErr == "" {
			setupErr = s
		}
		parts = parts[1:]
	}
	replies = make([]string, len(parts))
	for i, p := range parts {
		replies[i] = strings.TrimRight(p, "\n")
	}
	if len(replies) < n {
		complete = false
	}
	return replies, setupErr, complete
}

// splitSeverity parses a "[N]: " prefix; sev is -1 without one.
func splitSeverity(reply string) (sev int, msg string) {
	if len(reply) >= 4 && reply[0] == '[' && reply[2] == ']' && reply[3] == ':' && reply[1] >= '0' && reply[1] <= '7' {
		return int(reply[1] - '0'), strings.TrimPrefix(reply[4:], " ")
	}
	return -1, reply
}

// classify returns the CommandError a reply means, or nil for success.
func classify(i int, cmd, reply string) *CommandError {
	sev, msg := splitSeverity(reply)
	ce := &CommandError{Index: i, Command: cmd, Severity: sev, Reply: msg}
	for _, t := range errorTexts {
		if strings.HasPrefix(msg, t.prefix) {
			ce.sentinel = t.err
			return ce
		}
	}
	if sev >= 0 && sev <= 3 {
		return ce
	}
	// Plain-text replies are data (show stat, show servers state...): only
	// severity-tagged messages are checked against the other error texts.
	if sev >= 0 {
		for _, p := range otherErrorTexts {
			if strings.HasPrefix(msg, p) {
				return ce
			}
		}
	}
	return nil
}

// roundTrip writes payload on a new connection and reads until HAProxy
// closes it (after quit). Writing runs concurrently with reading so that a
// long batch never deadlocks on full socket buffers.
func (r *Runtime) roundTrip(ctx context.Context, payload []byte) (string, error) {
	ctx, cancel := r.withTimeout(ctx)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", r.Socket)
	if err != nil {
		return "", fmt.Errorf("connecting to haproxy admin socket %s: %w", r.Socket, err)
	}
	defer conn.Close()
	return converse(ctx, conn, payload)
}

// converse sends payload and reads to EOF, honouring ctx.
func converse(ctx context.Context, conn net.Conn, payload []byte) (string, error) {
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()

	werr := make(chan error, 1)
	go func() {
		_, err := conn.Write(payload)
		werr <- err
	}()
	var sb strings.Builder
	buf := make([]byte, 64<<10)
	var rerr error
	for {
		n, err := conn.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			if !errors.Is(err, io.EOF) {
				rerr = err
			}
			break
		}
	}
	// Unblock the writer if HAProxy stopped reading (it closed the session).
	_ = conn.SetDeadline(time.Now())
	wErr := <-werr
	if cerr := ctxDone(ctx); cerr != nil && (rerr != nil || wErr != nil) {
		return sb.String(), fmt.Errorf("talking to haproxy: %w", cerr)
	}
	if rerr != nil {
		return sb.String(), fmt.Errorf("reading from haproxy: %w", rerr)
	}
	if wErr != nil && sb.Len() == 0 {
		return "", fmt.Errorf("writing to haproxy: %w", wErr)
	}
	return sb.String(), nil
}

// ctxDone is ctx.Err(), or DeadlineExceeded once ctx's deadline passed
// (the connection deadline can fire before the context's own timer).
func ctxDone(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return nil
}

func (r *Runtime) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	t := r.Timeout
	if t <= 0 {
		t = DefaultExecTimeout
	}
	return context.WithTimeout(ctx, t)
}

func (r *Runtime) batchSize() int {
	if r.BatchSize > 0 {
		return r.BatchSize
	}
	return DefaultBatchSize
}

func (r *Runtime) pollInterval() time.Duration {
	if r.PollInterval > 0 {
		return r.PollInterval
	}
	return DefaultPollInterval
}

func (r *Runtime) releaseTimeout() time.Duration {
	if r.ReleaseTimeout > 0 {
		return r.ReleaseTimeout
	}
	return 10 * time.Second
}

func (r *Runtime) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return discardLogger
}

var discardLogger = slog.New(slog.DiscardHandler)

// atoi parses a decimal field of a HAProxy reply; empty or "-" is 0.
func atoi(s string) int {
	if s == "" || s == "-" {
		return 0
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0
	}
	return n
}
