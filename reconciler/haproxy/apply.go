package haproxy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ddc-gitops/ddc-gitops/render"
)

// ErrNeedsReload means a change cannot be made through the runtime API.
var ErrNeedsReload = errors.New("change needs a reload")

// Runtime command builders. They assume names validated by package desired
// (no spaces, no `;`); Exec rejects line breaks and unescaped `;`.

// AddServerCommand is `add server BE/NAME ADDR:PORT KEYWORDS` for s, always
// in maintenance (`disabled`) and with s's configured weight even when s is
// to be drained: the state is applied afterwards with SetStateCommand.
func AddServerCommand(backend string, s render.Server) string {
	m := s
	m.State = StateMaint
	return "add server " + backend + "/" + s.Name + " " + s.Addr() + " " + m.Keywords()
}

// EnableHealthCommand is `enable health BE/NAME`.
func EnableHealthCommand(backend, name string) string {
	return "enable health " + backend + "/" + name
}

// SetWeightCommand is `set server BE/NAME weight N`.
func SetWeightCommand(backend, name string, weight int) string {
	return "set server " + backend + "/" + name + " weight " + strconv.Itoa(weight)
}

// SetAddrCommand is `set server BE/NAME addr IP port P`.
func SetAddrCommand(backend, name, addr string, port int) string {
	return "set server " + backend + "/" + name + " addr " + addr + " port " + strconv.Itoa(port)
}

// SetStateCommand is `set server BE/NAME state ready|drain|maint`.
func SetStateCommand(backend, name, state string) string {
	return "set server " + backend + "/" + name + " state " + state
}

// SetMaxconnCommand is `set maxconn server BE/NAME N` (0: no limit).
func SetMaxconnCommand(backend, name string, maxconn int) string {
	return "set maxconn server " + backend + "/" + name + " " + strconv.Itoa(maxconn)
}

// ShutdownSessionsCommand is `shutdown sessions server BE/NAME`.
func ShutdownSessionsCommand(backend, name string) string {
	return "shutdown sessions server " + backend + "/" + name
}

// DelServerCommand is `del server BE/NAME`.
func DelServerCommand(backend, name string) string {
	return "del server " + backend + "/" + name
}

// AddOptions tune AddServers.
type AddOptions struct {
	// ApplyState puts each server in its State (ready, drain or maint) right
	// after adding it. Without it every new server stays in maintenance until
	// SetState or AdmitServers puts it in service.
	ApplyState bool
}

// AddServers adds servers to backend in one session: `add server` (in
// maintenance, with render.Server.Keywords so a runtime server equals the one
// a reload would create) and `enable health` for servers with checks, then
// the state when opts.ApplyState is set. It reads the backend back in the
// same session and checks that every server exists with its address, port
// and weight.
//
// Servers with a DNS name fail with ErrNeedsReload (the runtime API does not
// resolve names) before anything is sent. HAProxy refuses every server of a
// backend whose balance algorithm is not dynamic: errors.Is(err,
// ErrStaticBalance).
func (r *Runtime) AddServers(ctx context.Context, backend string, servers []render.Server, opts AddOptions) error {
	if len(servers) == 0 {
		return nil
	}
	for _, s := range servers {
		if s.Hostname {
			return fmt.Errorf("adding %s/%s at %s: the runtime API does not resolve DNS names: %w", backend, s.Name, s.Address, ErrNeedsReload)
		}
	}
	cmds := make([]string, 0, 3*len(servers)+1)
	for _, s := range servers {
		cmds = append(cmds, AddServerCommand(backend, s))
		if s.Check {
			cmds = append(cmds, EnableHealthCommand(backend, s.Name))
		}
		if opts.ApplyState && stateOrReady(s.State) != StateMaint {
			cmds = append(cmds, SetStateCommand(backend, s.Name, stateOrReady(s.State)))
		}
	}
	cmds = append(cmds, "show servers state "+backend)
	replies, err := r.Exec(ctx, cmds)
	if err != nil {
		return fmt.Errorf("adding %d servers to backend %s: %w", len(servers), backend, err)
	}
	for i, c := range cmds {
		if strings.HasPrefix(c, "add server ") {
			if _, msg := splitSeverity(replies[i]); msg != "New server registered." {
				return fmt.Errorf("adding servers to backend %s: %q answered %q", backend, c, replies[i])
			}
		}
	}
	rows, err := ParseServersState(replies[len(replies)-1])
	if err != nil {
		return fmt.Errorf("reading back backend %s after adding servers: %w", backend, err)
	}
	byName := make(map[string]ServerStateRow, len(rows))
	for _, row := range rows {
		byName[row.Name] = row
	}
	for _, s := range servers {
		row, ok := byName[s.Name]
		switch {
		case !ok:
			return fmt.Errorf("reading back backend %s: server %s missing after add", backend, s.Name)
		case row.Address != s.Address || row.Port != s.Port || row.UWeight != s.Weight:
			return fmt.Errorf("reading back backend %s: server %s is %s:%d weight %d, want %s weight %d",
				backend, s.Name, row.Address, row.Port, row.UWeight, s.Addr(), s.Weight)
		}
	}
	return nil
}

func stateOrReady(s string) string {
	if s == "" {
		return StateReady
	}
	return s
}

// SetWeight runs `set server BE/NAME weight N`.
func (r *Runtime) SetWeight(ctx context.Context, backend, name string, weight int) error {
	if _, err := r.Run(ctx, SetWeightCommand(backend, name, weight)); err != nil {
		return fmt.Errorf("setting weight of %s/%s: %w", backend, name, err)
	}
	return nil
}

// SetAddr runs `set server BE/NAME addr IP port P`. addr must be an IP
// address (the runtime API resolves no names).
func (r *Runtime) SetAddr(ctx context.Context, backend, name, addr string, port int) error {
	cmd := SetAddrCommand(backend, name, addr, port)
	rep, err := r.Run(ctx, cmd)
	if err != nil {
		return fmt.Errorf("setting address of %s/%s: %w", backend, name, err)
	}
	// 2.6 answers with severity [4] both on success ("IP changed from ...",
	// "no need to change the addr") and on some failures.
	if _, msg := splitSeverity(rep); !strings.Contains(msg, "changed from") && !strings.Contains(msg, "no need to change") {
		return fmt.Errorf("setting address of %s/%s: %w", backend, name,
			&BatchError{Total: 1, Errors: []*CommandError{classifyForce(cmd, rep)}})
	}
	return nil
}

// classifyForce is classify for a reply known to be a failure.
func classifyForce(cmd, reply string) *CommandError {
	if ce := classify(0, cmd, reply); ce != nil {
		return ce
	}
	sev, msg := splitSeverity(reply)
	return &CommandError{Command: cmd, Severity: sev, Reply: msg}
}

// SetState runs `set server BE/NAME state ready|drain|maint`.
func (r *Runtime) SetState(ctx context.Context, backend, name, state string) error {
	switch state {
	case StateReady, StateDrain, StateMaint:
	default:
		return fmt.Errorf("setting state of %s/%s: unknown state %q (want ready, drain or maint)", backend, name, state)
	}
	if _, err := r.Run(ctx, SetStateCommand(backend, name, state)); err != nil {
		return fmt.Errorf("setting state of %s/%s to %s: %w", backend, name, state, err)
	}
	return nil
}

// SetMaxconn runs `set maxconn server BE/NAME N`.
func (r *Runtime) SetMaxconn(ctx context.Context, backend, name string, maxconn int) error {
	if _, err := r.Run(ctx, SetMaxconnCommand(backend, name, maxconn)); err != nil {
		return fmt.Errorf("setting maxconn of %s/%s: %w", backend, name, err)
	}
	return nil
}

// DelResult tells how DelServers removed servers.
type DelResult struct {
	// Deleted lists the removed servers.
	Deleted []string
	// Forced lists the servers whose sessions were still running when the
	// drain timeout passed and were shut down.
	Forced []string
}

// DelServer removes one server; see DelServers.
func (r *Runtime) DelServer(ctx context.Context, backend, name string, drainTimeout time.Duration) (forced bool, err error) {
	res, err := r.DelServers(ctx, backend, []string{name}, drainTimeout)
	return len(res.Forced) > 0, err
}

// DelServers removes servers from backend gracefully, all of them together:
// `set server state drain` (skipped for servers already in maintenance),
// then polls `show stat` until none of them has a session or queued request,
// for at most drainTimeout; then `set server state maint`, `shutdown sessions
// server` for the servers still busy, and `del server`, retried while HAProxy
// still reports connections attached (idle pooled connections close
// asynchronously) for at most ReleaseTimeout. Each step is one session.
func (r *Runtime) DelServers(ctx context.Context, backend string, names []string, drainTimeout time.Duration) (DelResult, error) {
	var res DelResult
	if len(names) == 0 {
		return res, nil
	}
	states, err := r.ShowServersState(ctx, backend)
	if err != nil {
		return res, fmt.Errorf("deleting servers of %s: %w", backend, err)
	}
	admin := make(map[string]string, len(states))
	for _, s := range states {
		admin[s.Name] = s.Admin()
	}
	var drain []string
	for _, n := range names {
		st, ok := admin[n]
		if !ok {
			return res, fmt.Errorf("deleting %s/%s: %w", backend, n, ErrNoSuchServer)
		}
		if st != StateMaint {
			drain = append(drain, SetStateCommand(backend, n, StateDrain))
		}
	}
	if _, err := r.Exec(ctx, drain); err != nil {
		return res, fmt.Errorf("draining %d servers of %s: %w", len(drain), backend, err)
	}

	// Wait for sessions and queues to empty.
	busy := slices.Clone(names)
	drainCtx, cancel := context.WithTimeout(ctx, drainTimeout)
	err = r.poll(drainCtx, func(ctx context.Context) (bool, error) {
		rows, err := r.ShowServerStats(ctx, backend)
		if err != nil {
			return false, err
		}
		busy = busyServers(rows, names)
		return len(busy) == 0, nil
	})
	cancel()
	if err != nil && ctx.Err() != nil {
		return res, fmt.Errorf("draining servers of %s: %w", backend, err)
	}
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return res, fmt.Errorf("draining servers of %s: %w", backend, err)
	}

	cmds := make([]string, 0, len(names)+len(busy))
	for _, n := range names {
		cmds = append(cmds, SetStateCommand(backend, n, StateMaint))
	}
	for _, n := range busy {
		cmds = append(cmds, ShutdownSessionsCommand(backend, n))
	}
	res.Forced = busy
	if len(busy) > 0 {
		r.logger().Warn("drain timeout passed, shutting down sessions", "backend", backend, "servers", busy, "drain_timeout", drainTimeout)
	}
	if _, err := r.Exec(ctx, cmds); err != nil {
		return res, fmt.Errorf("putting %d servers of %s in maintenance: %w", len(names), backend, err)
	}

	// Delete; retry the ones HAProxy still holds connections for.
	left := slices.Clone(names)
	relCtx, cancel := context.WithTimeout(ctx, r.releaseTimeout())
	defer cancel()
	err = r.poll(relCtx, func(ctx context.Context) (bool, error) {
		cmds := make([]string, len(left))
		for i, n := range left {
			cmds[i] = DelServerCommand(backend, n)
		}
		_, err := r.Exec(ctx, cmds)
		var still []string
		var be *BatchError
		if err != nil && (!errors.As(err, &be) || errors.Is(err, ErrNoReply)) {
			return false, err
		}
		failed := map[int]bool{}
		if be != nil {
			for _, ce := range be.Errors {
				if !errors.Is(ce, ErrServerBusy) {
					return false, err
				}
				failed[ce.Index] = true
			}
		}
		for i, n := range left {
			if failed[i] {
				still = append(still, n)
			} else {
				res.Deleted = append(res.Deleted, n)
			}
		}
		left = still
		return len(left) == 0, nil
	})
	if err != nil {
		return res, fmt.Errorf("deleting servers of %s (%d left: %s): %w", backend, len(left), strings.Join(left, ","), err)
	}
	return res, nil
}

// busyServers lists the names with sessions or queued requests.
func busyServers(rows []StatRow, names []string) []string {
	want := make(map[string]bool, len(names))
	for _, n := range names {
		want[n] = true
	}
	var busy []string
	for _, row := range rows {
		if row.Type == StatServer && want[row.Name] && (row.Scur > 0 || row.Qcur > 0) {
			busy = append(busy, row.Name)
		}
	}
	return busy
}

// poll calls cond now and then every PollInterval until it reports true or
// fails, or ctx ends (then ctx's error is returned, also when cond failed
// because of it).
func (r *Runtime) poll(ctx context.Context, cond func(context.Context) (bool, error)) error {
	t := time.NewTicker(r.pollInterval())
	defer t.Stop()
	for {
		ok, err := cond(ctx)
		if err != nil {
			if cerr := ctxDone(ctx); cerr != nil {
				return cerr
			}
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Rejection is a server that did not pass its health check in time.
type Rejection struct {
	Name string
	// CheckStatus is the last check's status (e.g. L4CON, L7STS), empty if
	// no check completed.
	CheckStatus string
	// LastCheck is HAProxy's description of the last check (e.g.
	// "Connection refused", "HTTP status check returned code <503>").
	LastCheck string
}

// String is "name: STATUS (description)".
func (r Rejection) String() string {
	s := r.Name + ": " + r.CheckStatus
	if r.CheckStatus == "" {
		s += "no check completed"
	}
	if r.LastCheck != "" {
		s += " (" + r.LastCheck + ")"
	}
	return s
}

// AdmitResult is the outcome of AdmitServers.
type AdmitResult struct {
	// Admitted servers are in their requested state.
	Admitted []string
	// Rejected servers stay in maintenance.
	Rejected []Rejection
}

// AdmitServers adds servers and lets traffic reach each only after its
// health check passed. Servers are added in maintenance with checks enabled;
// since HAProxy runs no check on a server in maintenance, checked servers go
// to drain state (checks run, no new traffic), and once a server is
// operationally up with a passed last check it gets its State (ready unless
// drain). Servers whose checks did not pass within timeout go back to
// maintenance and are listed in Rejected with their last check status.
// Servers without checks get their State directly; servers whose State is
// maint are only added.
func (r *Runtime) AdmitServers(ctx context.Context, backend string, servers []render.Server, timeout time.Duration) (AdmitResult, error) {
	var res AdmitResult
	if err := r.AddServers(ctx, backend, servers, AddOptions{}); err != nil {
		return res, fmt.Errorf("admitting servers to %s: %w", backend, err)
	}
	target := map[string]string{}
	var now []string
	for _, s := range servers {
		st := stateOrReady(s.State)
		switch {
		case st == StateMaint:
			res.Admitted = append(res.Admitted, s.Name)
		case !s.Check:
			now = append(now, SetStateCommand(backend, s.Name, st))
			res.Admitted = append(res.Admitted, s.Name)
		default:
			target[s.Name] = st
			now = append(now, SetStateCommand(backend, s.Name, StateDrain))
		}
	}
	if _, err := r.Exec(ctx, now); err != nil {
		return res, fmt.Errorf("admitting servers to %s: %w", backend, err)
	}
	if len(target) == 0 {
		return res, nil
	}

	// The last check status and description seen per pending server: a
	// check in progress shows as "* STATUS" with an empty description.
	reasons := map[string]Rejection{}
	noteReasons := func(stats []StatRow) {
		for _, row := range stats {
			if _, ok := target[row.Name]; !ok || row.Type != StatServer {
				continue
			}
			rj := reasons[row.Name]
			rj.Name = row.Name
			if st := strings.TrimPrefix(row.CheckStatus, "* "); st != "" && st != "INI" {
				rj.CheckStatus = st
			}
			if row.LastCheck != "" {
				rj.LastCheck = row.LastCheck
			}
			reasons[row.Name] = rj
		}
	}

	waitCtx, cancel := context.WithTimeout(ctx, timeout)
	err := r.poll(waitCtx, func(ctx context.Context) (bool, error) {
		replies, err := r.Exec(ctx, []string{"show servers state " + backend, statServersCmd(backend)})
		if err != nil {
			return false, err
		}
		rows, err := ParseServersState(replies[0])
		if err != nil {
			return false, err
		}
		stats, err := ParseStat(replies[1])
		if err != nil {
			return false, err
		}
		noteReasons(stats)
		var cmds, passed []string
		for _, row := range rows {
			st, ok := target[row.Name]
			if !ok || !row.Up() || !CheckPassed(row.CheckStatusName()) {
				continue
			}
			passed = append(passed, row.Name)
			if st != StateDrain {
				cmds = append(cmds, SetStateCommand(backend, row.Name, st))
			}
		}
		if _, err := r.Exec(ctx, cmds); err != nil {
			return false, err
		}
		for _, n := range passed {
			delete(target, n)
			res.Admitted = append(res.Admitted, n)
		}
		return len(target) == 0, nil
	})
	cancel()
	if err != nil && (ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded)) {
		return res, fmt.Errorf("waiting for health checks in %s: %w", backend, err)
	}
	if len(target) == 0 {
		return res, nil
	}

	// Timeout: back to maintenance, with the reason (read first: show stat
	// hides the check status of a server in maintenance).
	cmds := []string{statServersCmd(backend)}
	for _, s := range servers {
		if _, ok := target[s.Name]; ok {
			cmds = append(cmds, SetStateCommand(backend, s.Name, StateMaint))
		}
	}
	replies, err := r.Exec(ctx, cmds)
	if err != nil {
		return res, fmt.Errorf("returning %d unhealthy servers of %s to maintenance: %w", len(target), backend, err)
	}
	stats, err := ParseStat(replies[0])
	if err != nil {
		return res, fmt.Errorf("reading check status in %s: %w", backend, err)
	}
	noteReasons(stats)
	for _, s := range servers {
		if _, ok := target[s.Name]; ok {
			rj := reasons[s.Name]
			rj.Name = s.Name
			res.Rejected = append(res.Rejected, rj)
		}
	}
	r.logger().Warn("servers failed their health check, left in maintenance", "backend", backend, "rejected", len(res.Rejected), "timeout", timeout)
	return res, nil
}

// ActualServer is a server as HAProxy runs it: the render.Server fields the
// runtime API shows (Name, Address, Port, Weight (the user weight), Maxconn,
// Backup, Check (a check is configured) and State (ready, drain or maint))
// plus runtime facts. Fields HAProxy does not report (slowstart, inter,
// rise, fall, ssl, proto, sni) are zero.
type ActualServer struct {
	render.Server
	// InitialWeight is the weight from the config file (srv_iweight).
	InitialWeight int
	// Up reports the operational state (running or in slowstart).
	Up bool
	// CheckEnabled reports whether the health check runs (`enable health`).
	CheckEnabled bool
	// CheckStatus is the last check's status name (L4OK, L7STS...).
	CheckStatus string
	// Sessions is the number of current sessions (scur).
	Sessions int
}

// ActualServers reads every backend's servers (`show servers state` and the
// server rows of `show stat`, in one session), keyed by backend name, in
// server id order.
func (r *Runtime) ActualServers(ctx context.Context) (map[string][]ActualServer, error) {
	replies, err := r.Exec(ctx, []string{"show servers state", statServersCmd("")})
	if err != nil {
		return nil, fmt.Errorf("reading servers: %w", err)
	}
	states, err := ParseServersState(replies[0])
	if err != nil {
		return nil, fmt.Errorf("parsing show servers state: %w", err)
	}
	stats, err := ParseStat(replies[1])
	if err != nil {
		return nil, fmt.Errorf("parsing show stat: %w", err)
	}
	type key struct{ be, srv string }
	byKey := make(map[key]StatRow, len(stats))
	for _, s := range stats {
		if s.Type == StatServer {
			byKey[key{s.Proxy, s.Name}] = s
		}
	}
	out := map[string][]ActualServer{}
	for _, st := range states {
		stat := byKey[key{st.Backend, st.Name}]
		a := st.actual()
		a.Maxconn, a.Backup, a.Sessions = stat.Slim, stat.Backup, stat.Scur
		out[st.Backend] = append(out[st.Backend], a)
	}
	return out, nil
}
