package haproxy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ddc-gitops/ddc-gitops/plan"
	"github.com/ddc-gitops/ddc-gitops/render"
)

// ErrNeedsReload means a change cannot be made through the runtime API.
var ErrNeedsReload = errors.New("change needs a reload")

// Runtime command builders. They assume names validated by package desired
// (no spaces, no `;`); Exec rejects line breaks and unescaped `;`.

// AddServerCommand is `add server BE/NAME ADDR:PORT KEYWORDS [id ID]` for s,
// always in maintenance (`disabled`) and with s's configured weight even when
// s is to be drained: the state is applied afterwards with SetStateCommand.
// id > 0 sets the server's numeric id (`id` keyword; it must be unused in the
// backend); 0 lets HAProxy pick the lowest free one.
func AddServerCommand(backend string, s render.Server, id int) string {
	m := s
	m.State = StateMaint
	c := "add server " + backend + "/" + s.Name + " " + s.Addr() + " " + m.Keywords()
	if id > 0 {
		c += " id " + strconv.Itoa(id)
	}
	return c
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

// ApplyOptions tune Apply.
type ApplyOptions struct {
	// DrainTimeout bounds how long a removed or replaced server drains
	// before its remaining sessions are shut down (default 30s).
	DrainTimeout time.Duration
}

// ApplyResult is what Apply did.
type ApplyResult struct {
	// Admitting lists the servers ("backend/server") Apply left waiting for
	// their first passing health check: in drain with the check running, no
	// traffic. Apply does not wait for them; the caller tracks them (see
	// ServerStateRow.Admitted) and sets their state once the check passed.
	Admitting []string
	// Forced lists the removed servers ("backend/server") whose sessions
	// were shut down when the drain timeout passed.
	Forced []string
	// Applied counts the ops applied.
	Applied int
}

// Apply makes server changes through the runtime API: the ops of
// plan.ServerChanges for changes it classified as runtime (a change that
// needs a reload is not Apply's: its ops are applied by the reload). Ops run
// backend by backend in the order their backends first appear: settings
// first (set-addr, set-weight, set-maxconn, set-state, admit), so a server
// whose admission completes is in service before the next rolling batch
// leaves; then removals (del, and the del half of replace: drain, wait for
// sessions, maint, `del server`); then additions (add and the add half of replace:
// `add server` in maintenance with every keyword of the server line, `enable
// health`, then its state; a server with a check goes to drain and is listed
// in ApplyResult.Admitting). It never waits for a health check.
func (r *Runtime) Apply(ctx context.Context, ops []plan.Op, opts ApplyOptions) (ApplyResult, error) {
	var res ApplyResult
	drain := opts.DrainTimeout
	if drain <= 0 {
		drain = 30 * time.Second
	}
	byBackend := map[string][]plan.Op{}
	var order []string
	for _, op := range ops {
		if _, ok := byBackend[op.Backend]; !ok {
			order = append(order, op.Backend)
		}
		byBackend[op.Backend] = append(byBackend[op.Backend], op)
	}
	for _, be := range order {
		var dels []string
		var adds []render.Server
		var sets []string
		var addrs []int // indexes in sets of set-addr commands
		for _, op := range byBackend[be] {
			if op.Op != plan.OpDel && op.New == nil {
				return res, fmt.Errorf("applying %s %s/%s: the op carries no server", op.Op, be, op.Server)
			}
			switch op.Op {
			case plan.OpAdd:
				adds = append(adds, *op.New)
			case plan.OpDel:
				dels = append(dels, op.Server)
			case plan.OpReplace:
				dels = append(dels, op.Server)
				adds = append(adds, *op.New)
			case plan.OpSetAddr:
				if op.New.Hostname {
					return res, fmt.Errorf("setting address of %s/%s to %s: the runtime API does not resolve DNS names: %w", be, op.Server, op.New.Address, ErrNeedsReload)
				}
				addrs = append(addrs, len(sets))
				sets = append(sets, SetAddrCommand(be, op.Server, op.New.Address, op.New.Port))
			case plan.OpSetWeight:
				sets = append(sets, SetWeightCommand(be, op.Server, op.New.Weight))
			case plan.OpSetMaxconn:
				sets = append(sets, SetMaxconnCommand(be, op.Server, op.New.Maxconn))
			case plan.OpSetState:
				sets = append(sets, SetStateCommand(be, op.Server, stateOrReady(op.New.State)))
			case plan.OpAdmit:
				// Drain, not maint, so the check runs; the caller sets the
				// state once it passed.
				sets = append(sets, EnableHealthCommand(be, op.Server), SetStateCommand(be, op.Server, StateDrain))
				res.Admitting = append(res.Admitting, be+"/"+op.Server)
			default:
				return res, fmt.Errorf("applying %s/%s: unknown op %q", be, op.Server, op.Op)
			}
		}
		if len(sets) > 0 {
			replies, err := r.Exec(ctx, sets)
			if err != nil {
				return res, fmt.Errorf("changing servers of %s: %w", be, err)
			}
			for _, i := range addrs {
				// 2.6 answers with severity [4] both on success ("IP changed
				// from ...", "no need to change the addr") and on some failures.
				if _, msg := splitSeverity(replies[i]); !strings.Contains(msg, "changed from") && !strings.Contains(msg, "no need to change") {
					return res, fmt.Errorf("changing servers of %s: %w", be, &BatchError{Total: len(sets), Errors: []*CommandError{classifyForce(sets[i], replies[i])}})
				}
			}
		}
		if len(dels) > 0 {
			d, err := r.delServers(ctx, be, dels, drain)
			for _, n := range d.Forced {
				res.Forced = append(res.Forced, be+"/"+n)
			}
			if err != nil {
				return res, fmt.Errorf("removing servers from %s: %w", be, err)
			}
		}
		if len(adds) > 0 {
			admitting, err := r.addServers(ctx, be, adds)
			if err != nil {
				return res, fmt.Errorf("adding servers to %s: %w", be, err)
			}
			for _, n := range admitting {
				res.Admitting = append(res.Admitting, be+"/"+n)
			}
		}
		res.Applied += len(byBackend[be])
	}
	return res, nil
}

// addServers adds servers to backend in one session: `add server` (in
// maintenance, with render.Server.Keywords so a runtime server equals the one
// a reload would create), `enable health` for servers with checks, then the
// state: a server with a check that is not to stay in maintenance goes to
// drain (HAProxy runs no check in maintenance) and is returned in admitting;
// one without a check gets its state at once. It reads the backend back in
// the same session and checks that every server exists with its address,
// port and weight.
//
// Each server gets an explicit id above the highest in use in the backend
// (read first with `show servers state BE`): HAProxy 2.6 finds a free id for
// a server added without one by a tree lookup per id in use from 1 up
// (get_next_id), which at 10,000 servers costs more than the rest of the
// `add server` together. The ids are not persisted: a reload numbers the
// servers of haproxy.cfg again.
//
// Servers with a DNS name fail with ErrNeedsReload (the runtime API does not
// resolve names) before anything is sent. HAProxy refuses every server of a
// backend whose balance algorithm is not dynamic: errors.Is(err,
// ErrStaticBalance).
func (r *Runtime) addServers(ctx context.Context, backend string, servers []render.Server) (admitting []string, err error) {
	for _, s := range servers {
		if s.Hostname {
			return nil, fmt.Errorf("adding %s/%s at %s: the runtime API does not resolve DNS names: %w", backend, s.Name, s.Address, ErrNeedsReload)
		}
	}
	id, err := r.maxServerID(ctx, backend)
	if err != nil {
		return nil, fmt.Errorf("adding %d servers to backend %s: %w", len(servers), backend, err)
	}
	cmds := make([]string, 0, 3*len(servers)+1)
	for _, s := range servers {
		id++
		cmds = append(cmds, AddServerCommand(backend, s, id))
		if s.Check {
			cmds = append(cmds, EnableHealthCommand(backend, s.Name))
		}
		switch st := stateOrReady(s.State); {
		case st == StateMaint:
		case s.Check:
			cmds = append(cmds, SetStateCommand(backend, s.Name, StateDrain))
			admitting = append(admitting, s.Name)
		default:
			cmds = append(cmds, SetStateCommand(backend, s.Name, st))
		}
	}
	cmds = append(cmds, "show servers state "+backend)
	replies, err := r.Exec(ctx, cmds)
	if err != nil {
		return nil, fmt.Errorf("adding %d servers to backend %s: %w", len(servers), backend, err)
	}
	for i, c := range cmds {
		if strings.HasPrefix(c, "add server ") {
			if _, msg := splitSeverity(replies[i]); msg != "New server registered." {
				return nil, fmt.Errorf("adding servers to backend %s: %q answered %q", backend, c, replies[i])
			}
		}
	}
	rows, err := ParseServersState(replies[len(replies)-1])
	if err != nil {
		return nil, fmt.Errorf("reading back backend %s after adding servers: %w", backend, err)
	}
	// Only the added servers' rows are looked up: the backend may have
	// thousands.
	byName := make(map[string]*ServerStateRow, len(servers))
	for _, s := range servers {
		byName[s.Name] = nil
	}
	for i := range rows {
		if row, added := byName[rows[i].Name]; added && row == nil {
			byName[rows[i].Name] = &rows[i]
		}
	}
	for _, s := range servers {
		row := byName[s.Name]
		switch {
		case row == nil:
			return nil, fmt.Errorf("reading back backend %s: server %s missing after add", backend, s.Name)
		case row.Address != s.Address || row.Port != s.Port || row.UWeight != s.Weight:
			return nil, fmt.Errorf("reading back backend %s: server %s is %s:%d weight %d, want %s weight %d",
				backend, s.Name, row.Address, row.Port, row.UWeight, s.Addr(), s.Weight)
		}
	}
	return admitting, nil
}

// maxServerID is the highest server id (srv_id) in backend, 0 when it has
// no server.
func (r *Runtime) maxServerID(ctx context.Context, backend string) (int, error) {
	m := 0
	err := r.EachServerState(ctx, backend, func(_, _ []byte, row ServerStateRow) error {
		m = max(m, row.ID)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("reading the server ids of backend %s: %w", backend, err)
	}
	return m, nil
}

func stateOrReady(s string) string {
	if s == "" {
		return StateReady
	}
	return s
}

// classifyForce is classify for a reply known to be a failure.
func classifyForce(cmd, reply string) *CommandError {
	if ce := classify(0, cmd, reply); ce != nil {
		return ce
	}
	sev, msg := splitSeverity(reply)
	return &CommandError{Command: cmd, Severity: sev, Reply: msg}
}

// DelResult tells how DelServers removed servers.
type DelResult struct {
	// Deleted lists the removed servers.
	Deleted []string
	// Forced lists the servers whose sessions were still running when the
	// drain timeout passed and were shut down.
	Forced []string
}

// delServers removes servers from backend gracefully, all of them together:
// `set server state drain` (skipped for servers already in maintenance),
// then polls `show stat` until none of them has a session or queued request,
// for at most drainTimeout; then `set server state maint`, `shutdown sessions
// server` for the servers still busy, and `del server`, retried while HAProxy
// still reports connections attached (idle pooled connections close
// asynchronously) for at most ReleaseTimeout. Each step is one session.
func (r *Runtime) delServers(ctx context.Context, backend string, names []string, drainTimeout time.Duration) (DelResult, error) {
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
