package haproxy

import (
	"context"
	"encoding/csv"
	"fmt"
	"strings"

	"github.com/ddc-gitops/ddc-gitops/render"
)

// Administrative state names, as in render.Server.State.
const (
	StateReady = "ready"
	StateDrain = "drain"
	StateMaint = "maint"
)

// srv_admin_state bits (HAProxy's SRV_ADMF_*).
const (
	admForcedMaint    = 0x01 // FMAINT: set server state maint / disabled
	admInheritedMaint = 0x02 // IMAINT: tracked server in maintenance
	admConfigMaint    = 0x04 // CMAINT: `disabled` was configured (marker only)
	admForcedDrain    = 0x08 // FDRAIN: set server state drain
	admInheritedDrain = 0x10 // IDRAIN
	admResolverMaint  = 0x20 // RMAINT: DNS resolution failed
	admHostnameMaint  = 0x40 // HMAINT: hostname not resolved yet
	admMaintMask      = admForcedMaint | admInheritedMaint | admResolverMaint | admHostnameMaint
	admDrainMask      = admForcedDrain | admInheritedDrain
)

// srv_check_state bits (HAProxy's CHK_ST_*).
const (
	chkConfigured = 0x02
	chkEnabled    = 0x04
)

// Operational states (srv_op_state, HAProxy's SRV_ST_*).
const (
	OpStopped  = 0
	OpStarting = 1
	OpRunning  = 2
	OpStopping = 3
)

// checkStatusNames are HAProxy 2.6's health check statuses
// (enum healthcheck_status in include/haproxy/check-t.h) under the names
// `show stat` prints for them; "" for internal placeholders.
var checkStatusNames = [...]string{
	"UNK", "INI", "", "", "HANA", "SOCKERR",
	"L4OK", "L4TOUT", "L4CON",
	"L6OK", "L6TOUT", "L6RSP",
	"L7TOUT", "L7RSP",
	"", "L7OK", "L7OKC", "L7STS",
	"PROCERR", "PROCTOUT", "PROCOK",
}

// CheckStatusName is the `show stat` name of a numeric srv_check_status.
func CheckStatusName(code int) string {
	if code >= 0 && code < len(checkStatusNames) {
		return checkStatusNames[code]
	}
	return fmt.Sprintf("status%d", code)
}

// CheckPassed reports whether a check status name is a passed check.
func CheckPassed(status string) bool {
	switch strings.TrimPrefix(status, "* ") { // "* " marks a check in progress
	case "L4OK", "L6OK", "L7OK", "L7OKC", "PROCOK":
		return true
	}
	return false
}

// ServerStateRow is one line of `show servers state`, parsed by the header
// line (format version 1).
type ServerStateRow struct {
	BackendID   int
	Backend     string // be_name
	ID          int    // srv_id
	Name        string // srv_name
	Address     string // srv_addr
	Port        int    // srv_port
	OpState     int    // srv_op_state: OpStopped..OpStopping
	AdminState  int    // srv_admin_state bits
	UWeight     int    // srv_uweight: the weight set by config or `set server weight`
	IWeight     int    // srv_iweight: the weight from the config file
	CheckStatus int    // srv_check_status, see CheckStatusName
	CheckResult int    // srv_check_result
	CheckHealth int    // srv_check_health
	CheckState  int    // srv_check_state bits
	CheckPort   int    // srv_check_port

	hdr  *serverStateHeader // shared by the rows of one reply
	line string             // the row, for Field
}

// Field returns the column named by the header (e.g. "srv_use_ssl"), or ""
// when the reply has no such column.
func (s ServerStateRow) Field(name string) string {
	if s.hdr == nil {
		return ""
	}
	for i, c := range s.hdr.names {
		if c == name {
			fields := make([]string, i+1)
			if n, _ := nextFields(s.line, fields); n == i+1 {
				return fields[i]
			}
			return ""
		}
	}
	return ""
}

// Admin is the administrative state: StateMaint, StateDrain or StateReady.
func (s ServerStateRow) Admin() string {
	switch {
	case s.AdminState&admMaintMask != 0:
		return StateMaint
	case s.AdminState&admDrainMask != 0:
		return StateDrain
	}
	return StateReady
}

// Up reports whether the server is operationally up (running or in slowstart).
func (s ServerStateRow) Up() bool { return s.OpState == OpRunning || s.OpState == OpStarting }

// CheckConfigured reports whether the server has a health check.
func (s ServerStateRow) CheckConfigured() bool { return s.CheckState&chkConfigured != 0 }

// CheckEnabled reports whether its health check is enabled (`enable health`).
func (s ServerStateRow) CheckEnabled() bool { return s.CheckState&chkEnabled != 0 }

// CheckStatusName is the last check's status as `show stat` names it.
func (s ServerStateRow) CheckStatusName() string { return CheckStatusName(s.CheckStatus) }

// ShowServersState runs `show servers state [backend]` (every backend when
// backend is empty) and parses it.
func (r *Runtime) ShowServersState(ctx context.Context, backend string) ([]ServerStateRow, error) {
	cmd := "show servers state"
	if backend != "" {
		cmd += " " + backend
	}
	out, err := r.Run(ctx, cmd)
	if err != nil {
		return nil, err
	}
	rows, err := ParseServersState(out)
	if err != nil {
		return nil, fmt.Errorf("parsing %q: %w", cmd, err)
	}
	return rows, nil
}

// ParseServersState parses the output of `show servers state` by its
// header line. The rows' strings are parts of out.
func ParseServersState(out string) ([]ServerStateRow, error) {
	var sc serverStateScanner
	var fields []string
	rows := make([]ServerStateRow, 0, strings.Count(out, "\n"))
	for rest := out; len(rest) > 0; {
		line, tail, _ := strings.Cut(rest, "\n")
		rest = tail
		kind, err := serverStateNext(&sc, line, &fields)
		if err != nil {
			return nil, err
		}
		if kind != stateLineRow {
			continue
		}
		h := sc.hdr
		row := serverStateRow(h, fields)
		row.Backend, row.Name, row.Address = column(fields, h.be), column(fields, h.name), column(fields, h.addr)
		row.hdr, row.line = h, trimSpace(line)
		rows = append(rows, row)
	}
	if err := sc.done(); err != nil {
		return nil, err
	}
	return rows, nil
}

// Stat types (the `type` column of show stat).
const (
	StatFrontend = 0
	StatBackend  = 1
	StatServer   = 2
	StatListener = 3
)

// StatRow is one line of `show stat`, parsed by the CSV header.
type StatRow struct {
	Proxy  string // pxname
	Name   string // svname: FRONTEND, BACKEND, a server or listener name
	Type   int    // StatFrontend..StatListener
	Status string // UP, DOWN, MAINT, DRAIN, NOLB, no check, "UP 1/3"...
	Scur   int    // current sessions
	Qcur   int    // queued requests
	Slim   int    // session limit (a server's maxconn)
	Stot   int    // cumulated sessions
	// Weight is the effective weight HAProxy prints (scaled by the
	// backend's weight divisor), not the configured one: use
	// ServerStateRow.UWeight for that.
	Weight      int
	Active      bool   // act
	Backup      bool   // bck
	CheckStatus string // check_status, e.g. L7OK, L4CON, "* L4OK" while a check runs
	CheckCode   int    // check_code (L7 status code)
	LastCheck   string // last_chk: the last check's description
	// Fields holds every column by its header name.
	Fields map[string]string
}

// ShowStat runs `show stat` and parses every row.
func (r *Runtime) ShowStat(ctx context.Context) ([]StatRow, error) {
	return r.showStat(ctx, "show stat")
}

// ShowServerStats runs `show stat BACKEND 4 -1`: the server rows of one
// backend only.
func (r *Runtime) ShowServerStats(ctx context.Context, backend string) ([]StatRow, error) {
	return r.showStat(ctx, statServersCmd(backend))
}

func statServersCmd(backend string) string {
	if backend == "" {
		return "show stat -1 4 -1"
	}
	return "show stat " + backend + " 4 -1"
}

func (r *Runtime) showStat(ctx context.Context, cmd string) ([]StatRow, error) {
	out, err := r.Run(ctx, cmd)
	if err != nil {
		return nil, err
	}
	rows, err := ParseStat(out)
	if err != nil {
		return nil, fmt.Errorf("parsing %q: %w", cmd, err)
	}
	return rows, nil
}

// ParseStat parses `show stat` CSV output by its header line ("# pxname,...").
func ParseStat(out string) ([]StatRow, error) {
	out = strings.TrimLeft(out, "\n")
	if !strings.HasPrefix(out, "# ") {
		return nil, fmt.Errorf("no CSV header line in %.40q", out)
	}
	cr := csv.NewReader(strings.NewReader(out[2:]))
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	recs, err := cr.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("reading CSV: %w", err)
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("empty CSV")
	}
	header := recs[0]
	rows := make([]StatRow, 0, len(recs)-1)
	for _, rec := range recs[1:] {
		f := make(map[string]string, len(header))
		for i, h := range header {
			if h != "" && i < len(rec) {
				f[h] = rec[i]
			}
		}
		rows = append(rows, StatRow{
			Proxy:       f["pxname"],
			Name:        f["svname"],
			Type:        atoi(f["type"]),
			Status:      f["status"],
			Scur:        atoi(f["scur"]),
			Qcur:        atoi(f["qcur"]),
			Slim:        atoi(f["slim"]),
			Stot:        atoi(f["stot"]),
			Weight:      atoi(f["weight"]),
			Active:      f["act"] == "1",
			Backup:      f["bck"] == "1",
			CheckStatus: f["check_status"],
			CheckCode:   atoi(f["check_code"]),
			LastCheck:   f["last_chk"],
			Fields:      f,
		})
	}
	return rows, nil
}

// ServerConnRow is one line of `show servers conn`.
type ServerConnRow struct {
	Backend string
	Name    string
	UsedCur int // connections in use
	IdleCur int // idle connections kept for reuse
	// Fields holds every column by its header name.
	Fields map[string]string
}

// ShowServersConn runs `show servers conn [backend]` and parses it.
func (r *Runtime) ShowServersConn(ctx context.Context, backend string) ([]ServerConnRow, error) {
	cmd := "show servers conn"
	if backend != "" {
		cmd += " " + backend
	}
	out, err := r.Run(ctx, cmd)
	if err != nil {
		return nil, err
	}
	rows, err := ParseServersConn(out)
	if err != nil {
		return nil, fmt.Errorf("parsing %q: %w", cmd, err)
	}
	return rows, nil
}

// ParseServersConn parses `show servers conn` by its header line. The first
// column is "bkname/svname"; per-thread columns at the end are ignored.
func ParseServersConn(out string) ([]ServerConnRow, error) {
	var header []string
	var rows []ServerConnRow
	for ln, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "":
			continue
		case strings.HasPrefix(line, "#"):
			header = strings.Fields(strings.TrimPrefix(line, "#"))
			continue
		case header == nil:
			return nil, fmt.Errorf("line %d: data before the header line", ln+1)
		}
		vals := strings.Fields(line)
		f := make(map[string]string, len(header))
		for i, h := range header {
			if i < len(vals) && !strings.Contains(h, "[") {
				f[h] = vals[i]
			}
		}
		be, srv, ok := strings.Cut(f["bkname/svname"], "/")
		if !ok {
			return nil, fmt.Errorf("line %d: no backend/server in %q", ln+1, line)
		}
		rows = append(rows, ServerConnRow{
			Backend: be, Name: srv,
			UsedCur: atoi(f["used_cur"]), IdleCur: atoi(f["idle_cur"]),
			Fields: f,
		})
	}
	return rows, nil
}

// ServersState is ActualServers from `show servers state` alone: address,
// port, weight, admin and operational state, check state and status. It
// leaves Maxconn, Backup and Sessions unset and costs a fraction of
// ActualServers on large backends (no `show stat`), which is what a no-op
// reconcile needs.
func (r *Runtime) ServersState(ctx context.Context) (map[string][]ActualServer, error) {
	rows, err := r.ShowServersState(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("reading servers: %w", err)
	}
	out := map[string][]ActualServer{}
	for _, st := range rows {
		out[st.Backend] = append(out[st.Backend], st.actual())
	}
	return out, nil
}

// actual is the row as an ActualServer, without the `show stat` fields.
func (st ServerStateRow) actual() ActualServer {
	return ActualServer{
		Server: render.Server{
			Name:    st.Name,
			Address: st.Address,
			Port:    st.Port,
			Weight:  st.UWeight,
			Check:   st.CheckConfigured(),
			State:   st.Admin(),
		},
		InitialWeight: st.IWeight,
		Up:            st.Up(),
		CheckEnabled:  st.CheckEnabled(),
		CheckStatus:   st.CheckStatusName(),
	}
}

// InService reports whether HAProxy sends the server traffic: operationally
// running and in no maintenance or drain mode. The CMAINT bit (4) is not
// maintenance: a server added at runtime with `disabled` keeps it in
// srv_admin_state after `set server state ready` although it takes traffic
// (HAProxy 2.6), so readiness is admin_state & ^4 == 0 and op_state 2.
func (s ServerStateRow) InService() bool {
	return s.AdminState&^admConfigMaint == 0 && s.OpState == OpRunning
}

// Admitted reports whether a server waiting for admission passed: up, with
// a passed last check.
func (s ServerStateRow) Admitted() bool { return s.Up() && CheckPassed(s.CheckStatusName()) }
