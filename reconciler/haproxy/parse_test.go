package haproxy

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The testdata files are real HAProxy 2.6.12 output (see testdata/README).

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseServersState(t *testing.T) {
	rows, err := ParseServersState(readTestdata(t, "show_servers_state.txt"))
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		be, name, addr          string
		port, uw, iw            int
		admin, check            string
		up, configured, enabled bool
	}
	wants := []want{
		{"be", "s1", "127.0.0.1", 18081, 10, 10, StateReady, "INI", true, false, false},
		{"st", "s1", "127.0.0.1", 18081, 1, 1, StateReady, "INI", true, false, false},
		{"ck", "up1", "127.0.0.1", 18091, 20, 20, StateReady, "L7STS", false, true, true},
		{"ck", "down1", "127.0.0.1", 18099, 1, 1, StateReady, "L4CON", false, true, true},
		{"ck", "off1", "127.0.0.1", 18098, 1, 1, StateMaint, "INI", false, false, false},
	}
	if len(rows) != len(wants) {
		t.Fatalf("got %d rows, want %d", len(rows), len(wants))
	}
	for i, w := range wants {
		r := rows[i]
		got := want{r.Backend, r.Name, r.Address, r.Port, r.UWeight, r.IWeight, r.Admin(), r.CheckStatusName(), r.Up(), r.CheckConfigured(), r.CheckEnabled()}
		if got != w {
			t.Errorf("row %d: got %+v, want %+v", i, got, w)
		}
	}
	if rows[0].Field("srv_use_ssl") != "0" {
		t.Errorf("Field lost a column: %q", rows[0].line)
	}
}

func TestParseServersStateErrors(t *testing.T) {
	for name, tc := range map[string]struct{ in, err string }{
		"empty":          {"", "empty output"},
		"blank":          {"\n \n", "empty output"},
		"version":        {"2\n# be_id be_name\n", `line 1: unsupported format version "2", want 1`},
		"an error text":  {"No such backend.\n", `line 1: unsupported format version "No such backend.", want 1`},
		"no header":      {"1\n3 be 1 s1\n", "line 2: data before the header line"},
		"short data row": {"1\n# be_id be_name srv_id srv_name\n3 be 1 s1\n3 be 1\n", "line 4: 3 fields, header has 4"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseServersState(tc.in)
			if err == nil || err.Error() != tc.err {
				t.Fatalf("err = %v, want %q", err, tc.err)
			}
		})
	}
}

// TestParseServersStateGrammar: the forms of a row the parser accepts, and
// what it reads from each.
func TestParseServersStateGrammar(t *testing.T) {
	const header = "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_port\n"
	for _, tc := range []struct {
		name, in string
		want     ServerStateRow // hdr and line are not compared
	}{
		{"plain", header + "3 be 7 s1 10.0.0.1 2 0 10 8080\n",
			ServerStateRow{BackendID: 3, Backend: "be", ID: 7, Name: "s1", Address: "10.0.0.1", OpState: 2, UWeight: 10, Port: 8080}},
		{"spaces, tabs and CRLF", header + "  3\tbe  7 s1 10.0.0.1 2 0 10 8080 \r\n",
			ServerStateRow{BackendID: 3, Backend: "be", ID: 7, Name: "s1", Address: "10.0.0.1", OpState: 2, UWeight: 10, Port: 8080}},
		{"extra fields are ignored", header + "3 be 7 s1 10.0.0.1 2 0 10 8080 x y\n",
			ServerStateRow{BackendID: 3, Backend: "be", ID: 7, Name: "s1", Address: "10.0.0.1", OpState: 2, UWeight: 10, Port: 8080}},
		{"not a number reads 0", header + "3 be - s1 10.0.0.1 2x 0 99999999999999999999 -\n",
			ServerStateRow{BackendID: 3, Backend: "be", Name: "s1", Address: "10.0.0.1"}},
		{"a negative number", header + "3 be 7 s1 10.0.0.1 2 0 -1 8080\n",
			ServerStateRow{BackendID: 3, Backend: "be", ID: 7, Name: "s1", Address: "10.0.0.1", OpState: 2, UWeight: -1, Port: 8080}},
		{"IPv6 address", header + "3 be 7 s1 2001:db8::1 2 0 10 8080\n",
			ServerStateRow{BackendID: 3, Backend: "be", ID: 7, Name: "s1", Address: "2001:db8::1", OpState: 2, UWeight: 10, Port: 8080}},
		{"columns in another order", "1\n# srv_name be_name srv_port\ns1 be 80\n",
			ServerStateRow{Backend: "be", Name: "s1", Port: 80}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := ParseServersState(tc.in)
			if err != nil || len(rows) != 1 {
				t.Fatalf("got %d rows, %v", len(rows), err)
			}
			got := rows[0]
			got.hdr, got.line = nil, ""
			if got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			// The streamed reader (EachServerState) reads the same.
			want := tc.want
			want.Address = "" // not handed to EachServerState's callback
			if streamed := streamServersState(t, tc.in); len(streamed) != 1 || streamed[0] != want {
				t.Fatalf("streamed %+v, want %+v", streamed, want)
			}
		})
	}
	rows, err := ParseServersState(header + "3 be 7 s1 10.0.0.1 2 0 10 8080\n\n# be_id srv_name extra\n4 s2 z\n")
	if err != nil || len(rows) != 2 {
		t.Fatalf("a second header: got %d rows, %v", len(rows), err)
	}
	if rows[1].BackendID != 4 || rows[1].Name != "s2" || rows[1].Backend != "" || rows[1].Field("extra") != "z" || rows[0].Field("extra") != "" || rows[0].Field("srv_port") != "8080" {
		t.Fatalf("a second header: rows %+v, %+v", rows[0], rows[1])
	}
}

func TestAdminState(t *testing.T) {
	for _, tc := range []struct {
		bits int
		want string
	}{
		{0, StateReady},
		{admConfigMaint, StateReady}, // `disabled` marker left after `state ready`
		{admForcedMaint, StateMaint},
		{admForcedMaint | admConfigMaint, StateMaint},
		{admForcedDrain, StateDrain},
		{admForcedDrain | admConfigMaint, StateDrain},
		{admForcedDrain | admForcedMaint, StateMaint},
		{admInheritedMaint, StateMaint},
		{admResolverMaint, StateMaint},
	} {
		if got := (ServerStateRow{AdminState: tc.bits}).Admin(); got != tc.want {
			t.Errorf("admin %#x: got %s, want %s", tc.bits, got, tc.want)
		}
	}
}

func TestParseStat(t *testing.T) {
	rows, err := ParseStat(readTestdata(t, "show_stat.csv"))
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]StatRow{}
	for _, r := range rows {
		byName[r.Proxy+"/"+r.Name] = r
	}
	if len(rows) != 9 {
		t.Fatalf("got %d rows, want 9", len(rows))
	}
	for _, tc := range []struct {
		key, status, check, last string
		typ, slim, code          int
		backup                   bool
	}{
		{"fe/FRONTEND", "OPEN", "", "", StatFrontend, 9979, 0, false},
		{"be/s1", "no check", "", "", StatServer, 0, 0, false},
		{"ck/up1", "DOWN", "L7STS", "File not found", StatServer, 50, 404, false},
		{"ck/down1", "DOWN", "L4CON", "Connection refused", StatServer, 0, 0, true},
		{"ck/off1", "MAINT", "", "", StatServer, 0, 0, false},
		{"ck/BACKEND", "DOWN", "", "", StatBackend, 1, 0, false},
	} {
		r, ok := byName[tc.key]
		if !ok {
			t.Errorf("%s missing", tc.key)
			continue
		}
		if r.Status != tc.status || r.CheckStatus != tc.check || r.LastCheck != tc.last || r.Type != tc.typ ||
			r.Slim != tc.slim || r.CheckCode != tc.code || r.Backup != tc.backup {
			t.Errorf("%s: got %+v", tc.key, r)
		}
	}
	if byName["ck/up1"].Fields["addr"] != "127.0.0.1:18091" {
		t.Errorf("Fields[addr] = %q", byName["ck/up1"].Fields["addr"])
	}
	if _, err := ParseStat("pxname,svname\n"); err == nil {
		t.Error("want an error without the '# ' header")
	}
}

func TestParseServersConn(t *testing.T) {
	rows, err := ParseServersConn(readTestdata(t, "show_servers_conn.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 5 || rows[2].Backend != "ck" || rows[2].Name != "up1" || rows[2].Fields["used_max"] != "1" {
		t.Fatalf("got %+v", rows)
	}
}

func TestParseShowProc(t *testing.T) {
	for _, tc := range []struct {
		file                  string
		reloads, failed       int
		reloadFailed          bool
		masterPID, workerPID  int
		workerReloads, uptime int
	}{
		{"show_proc.txt", 0, 0, false, 11895, 11958, 0, 8},
		{"show_proc_failed.txt", 1, 1, true, 11895, 11958, 1, 12},
	} {
		t.Run(tc.file, func(t *testing.T) {
			p, err := ParseShowProc(readTestdata(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			w, ok := p.Worker()
			if !ok || p.Master.PID != tc.masterPID || p.Master.Reloads != tc.reloads || p.Failed != tc.failed ||
				!p.HasFailedCount || p.ReloadFailed != tc.reloadFailed || w.PID != tc.workerPID ||
				w.Reloads != tc.workerReloads || p.Master.Uptime != time.Duration(tc.uptime)*time.Second ||
				p.Master.Version != "2.6.12-1+deb12u4" || len(p.Workers) != 1 {
				t.Fatalf("got %+v", p)
			}
		})
	}
	if _, err := ParseShowProc("master> \nmaster> "); err == nil {
		t.Error("want an error without a master line")
	}
}

func TestParseUptime(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"0d00h00m08s": 8 * time.Second,
		"2d03h04m05s": 51*time.Hour + 4*time.Minute + 5*time.Second,
		"bogus":       0,
	} {
		if got := parseUptime(in); got != want {
			t.Errorf("%s: got %v, want %v", in, got, want)
		}
	}
}

func TestCheckStatusName(t *testing.T) {
	for code, want := range map[int]string{1: "INI", 6: "L4OK", 8: "L4CON", 9: "L6OK", 15: "L7OK", 17: "L7STS", 99: "status99"} {
		if got := CheckStatusName(code); got != want {
			t.Errorf("%d: got %q, want %q", code, got, want)
		}
	}
	for s, want := range map[string]bool{"L4OK": true, "* L7OK": true, "L7OKC": true, "L6OK": true, "L4CON": false, "INI": false, "": false} {
		if CheckPassed(s) != want {
			t.Errorf("CheckPassed(%q) != %v", s, want)
		}
	}
}

func TestBuildPayload(t *testing.T) {
	cmds := []string{"a", "b", "c", "d", "e"}
	got := string(buildPayload(cmds, 2))
	want := "prompt\nset severity-output number\na;b\nc;d\ne\nquit\n"
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	long := strings.Repeat("x", maxLineBytes/2)
	got = string(buildPayload([]string{long, long, long}, 100))
	if n := strings.Count(got, "\n"); n != 2+3+1 {
		t.Fatalf("lines over %d bytes were not split: %d newlines", maxLineBytes, n)
	}
}

func TestSplitReplies(t *testing.T) {
	for _, tc := range []struct {
		name     string
		raw      string
		n        int
		want     []string
		complete bool
		setup    string
	}{
		{"all", "\n> \n> [6]: New server registered.\n\n> \n> 1\n# h\nrow\n\n> ", 3,
			[]string{"[6]: New server registered.", "", "1\n# h\nrow"}, true, ""},
		{"cut after a prompt", "\n> \n> ok\n> ", 3, []string{"ok"}, false, ""},
		{"cut inside a reply", "\n> \n> ok\n> partial", 2, []string{"ok"}, false, ""},
		{"nothing", "", 1, []string{}, false, ""},
		{"setup refused", "\n> [3]: Unknown command\n> x\n> ", 1, []string{"x"}, true, "[3]: Unknown command"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, setup, complete := splitReplies(tc.raw, tc.n)
			if strings.Join(got, "|") != strings.Join(tc.want, "|") || len(got) != len(tc.want) || complete != tc.complete || setup != tc.setup {
				t.Fatalf("got %q setup=%q complete=%v, want %q setup=%q complete=%v", got, setup, complete, tc.want, tc.setup, tc.complete)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		reply    string
		isErr    bool
		sentinel error
	}{
		{"", false, nil},
		{"[6]: New server registered.", false, nil},
		{"[6]: Server deleted.", false, nil},
		{"[4]: IP changed from '127.0.0.1' to '127.0.0.2' by 'stats socket command'", false, nil},
		{"1\n# be_id be_name\n", false, nil},
		{"# pxname,svname,status\nInvalid,x,UP", false, nil}, // data, not a message
		{"[3]: No such server.", true, ErrNoSuchServer},
		{"[3]: No such backend.", true, ErrNoSuchBackend},
		{"[3]: Can't find backend.", true, ErrNoSuchBackend},
		{"[3]: No such proxy.", true, ErrNoSuchBackend},
		{"[3]: Backend must use a dynamic load balancing to support dynamic servers.", true, ErrStaticBalance},
		{"[3]: Already exists a server with the same name in backend.", true, ErrServerExists},
		{"[3]: Only servers in maintenance mode can be deleted.", true, ErrServerNotInMaint},
		{"[3]: Server still has connections attached to it, cannot remove it.", true, ErrServerBusy},
		{"[6]: Unknown command, but maybe one of the following ones is a better match:", true, ErrUnknownCommand},
		{"Unknown command. Please enter one of the following commands only :", true, ErrUnknownCommand},
		{"[4]: Invalid addr '1.2.3' by 'stats socket command'", true, nil},
		{"[2]: something critical", true, nil},
		{"[3]: unknown keyword 'bogus'.", true, nil},
	} {
		ce := classify(7, "cmd", tc.reply)
		if (ce != nil) != tc.isErr {
			t.Errorf("%q: error=%v, want %v", tc.reply, ce != nil, tc.isErr)
			continue
		}
		if ce == nil {
			continue
		}
		if ce.Index != 7 || ce.Command != "cmd" {
			t.Errorf("%q: %+v", tc.reply, ce)
		}
		if tc.sentinel != nil && !errors.Is(ce, tc.sentinel) {
			t.Errorf("%q: not %v", tc.reply, tc.sentinel)
		}
		if tc.sentinel == nil && errors.Is(ce, ErrNoSuchServer) {
			t.Errorf("%q: matched an unrelated sentinel", tc.reply)
		}
	}
}

func TestCheckCommand(t *testing.T) {
	for c, ok := range map[string]bool{
		"set server be/s weight 1": true,
		`set map x a\;b`:           true,
		"":                         false,
		"  ":                       false,
		"a\nb":                     false,
		"a;b":                      false,
		";a":                       false,
	} {
		if err := checkCommand(c); (err == nil) != ok {
			t.Errorf("%q: err=%v, want ok=%v", c, err, ok)
		}
	}
}

// streamServersState reads a reply line by line as EachServerState does,
// the names set from the fields it hands its callback.
func streamServersState(t *testing.T, in string) []ServerStateRow {
	t.Helper()
	var sc serverStateScanner
	var fields [][]byte
	var rows []ServerStateRow
	for _, line := range strings.Split(in, "\n") {
		kind, err := serverStateNext(&sc, []byte(line), &fields)
		if err != nil {
			t.Fatal(err)
		}
		if kind == stateLineRow {
			r := serverStateRow(sc.hdr, fields)
			r.Backend, r.Name = string(column(fields, sc.hdr.be)), string(column(fields, sc.hdr.name))
			rows = append(rows, r)
		}
	}
	if err := sc.done(); err != nil {
		t.Fatal(err)
	}
	return rows
}

// serversState10k is a `show servers state` reply of 10,000 rows in the
// shape of the testdata's (HAProxy 2.6.12).
func serversState10k() string {
	var b strings.Builder
	b.WriteString("1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n")
	for i := range 10000 {
		fmt.Fprintf(&b, "3 ddc_nodes_http %d node-%05d 127.19.%d.%d 0 0 100 100 %d 8 1 0 6 0 0 0 - 8080 - 0 0 - - 0\n", i+1, i, i/250, i%250+1, 60+i%90)
	}
	return b.String()
}

// BenchmarkParseServersState10k: the drift check's, the add's and the
// verify's read of a 10,000-server backend.
func BenchmarkParseServersState10k(b *testing.B) {
	out := serversState10k()
	b.ReportAllocs()
	for b.Loop() {
		rows, err := ParseServersState(out)
		if err != nil || len(rows) != 10000 {
			b.Fatal(len(rows), err)
		}
	}
}
