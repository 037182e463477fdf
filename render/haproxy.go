package render

import (
	"bytes"
	"cmp"
	"strconv"
	"strings"
	"time"

	"github.com/ddc-gitops/ddc-gitops/desired"
)

// HopHeader counts the cross-zone failover hops a request has made; see
// the loop guard comment rendered into every haproxy.cfg.
const HopHeader = "X-DDC-Failover-Hop"

// StatsFrontend is the name of the stats/Prometheus frontend. Object names
// in the fleet cannot start with '_', so it never clashes with a zone's
// frontend.
const StatsFrontend = "_stats"

// MaxReloads is how many reloads an old worker survives (mworker-max-reloads).
const MaxReloads = 50

const indent = "    "

// cfgWriter builds a config file line by line.
type cfgWriter struct{ b bytes.Buffer }

// line writes one line made of words separated by spaces.
func (w *cfgWriter) line(words ...string) {
	for i, s := range words {
		if i > 0 {
			w.b.WriteByte(' ')
		}
		w.b.WriteString(s)
	}
	w.b.WriteByte('\n')
}

// in writes one indented line.
func (w *cfgWriter) in(words ...string) {
	w.b.WriteString(indent)
	w.line(words...)
}

func (w *cfgWriter) blank() { w.b.WriteByte('\n') }

// comment writes each line of text as a comment at the given indent.
func (w *cfgWriter) comment(ind, text string) {
	for _, l := range strings.Split(text, "\n") {
		w.b.WriteString(ind)
		if l == "" {
			w.b.WriteString("#\n")
			continue
		}
		w.b.WriteString("# ")
		w.b.WriteString(l)
		w.b.WriteByte('\n')
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func dur(d desired.Duration) string { return FormatDuration(d.D()) }

// haproxy renders haproxy.cfg.
func (c *hostCtx) haproxy(backends []Backend) []byte {
	w := &cfgWriter{}
	// Sized for the server lines (about 100 bytes each): at 10,000
	// servers, growing by doubling allocated twice the file per render.
	size := 4096 + 256*len(backends)
	for _, b := range backends {
		size += 128 * len(b.Servers)
	}
	w.b.Grow(size)
	w.comment("", "haproxy.cfg of host "+c.host.Name+" (zone "+c.zone.Name+", fleet "+c.f.Name+").\n"+
		"Rendered by ddc-gitops from the fleet's desired state: do not edit, changes are overwritten.")
	w.line("# reloadGeneration:", itoa(c.zone.ReloadGeneration))
	w.blank()
	c.global(w)
	c.defaults(w)
	w.comment("", loopGuardDoc)
	w.blank()
	for _, fe := range c.zone.Frontends {
		c.frontend(w, fe)
	}
	if c.zone.Stats != nil {
		c.stats(w, c.zone.Stats)
	}
	for i, b := range c.f.Backends {
		c.backend(w, b, backends[i])
	}
	return w.b.Bytes()
}

const loopGuardDoc = `Cross-zone failover loop guard. A backend with failover has the failover
zones' VIPs as backup servers, used when none of its own zone's servers is up.
Such an HTTP/gRPC backend adds a ` + HopHeader + ` header naming its
zone to every request it forwards. Every HTTP/gRPC frontend first deletes that
header unless the connection comes from one of the fleet's zone networks
(clients cannot forge it), then answers 503 to a request that already
carries two of them (it went through the backends of two zones). So when the
nodes of both zones are down, a request crosses zones at most twice instead
of bouncing between them. TCP backends cannot carry a header: their failover
is not loop-guarded.`

func (c *hostCtx) global(w *cfgWriter) {
	h := &c.f.HAProxy
	w.line("global")
	w.in("master-worker")
	w.in("mworker-max-reloads", itoa(MaxReloads))
	switch t := c.f.HAProxy.LogTarget; t {
	case "none":
	case "stdout", "stderr":
		w.in("log", t, "format", "raw", "local0")
	default:
		w.in("log", cmp.Or(t, desired.DefaultLogTarget), "local0")
	}
	w.in("stats", "socket", c.adminSocket, "mode", "600", "level", "admin", "expose-fd", "listeners")
	w.in("stats", "timeout", "2m")
	if h.Maxconn > 0 {
		w.in("maxconn", itoa(h.Maxconn))
	}
	if h.Nbthread > 0 {
		w.in("nbthread", itoa(h.Nbthread))
	}
	if h.HardStopAfter > 0 {
		w.in("hard-stop-after", dur(h.HardStopAfter))
	}
	if c.crtBase != "" {
		w.in("crt-base", c.crtBase)
	}
	w.in("ssl-default-bind-options", "ssl-min-ver", "TLSv1.2")
	w.blank()
}

func (c *hostCtx) defaults(w *cfgWriter) {
	t := &c.f.HAProxy.Timeouts
	w.line("defaults")
	w.in("mode", "http")
	w.in("log", "global")
	w.in("option", "dontlognull")
	timeouts(w, t, true, true)
	// Hostname servers must not stop HAProxy from starting when their name
	// does not resolve: they start in maintenance instead. IP servers (and
	// runtime-added servers, which ignore default-server) are unaffected.
	w.in("default-server", "init-addr", "libc,none")
	w.blank()
}

// timeouts writes the timeouts that are set; fe and be select the ones
// that apply to a frontend and to a backend.
func timeouts(w *cfgWriter, t *desired.Timeouts, fe, be bool) {
	set := func(name string, d desired.Duration, ok bool) {
		if ok && d > 0 {
			w.in("timeout", name, dur(d))
		}
	}
	set("connect", t.Connect, be)
	set("client", t.Client, fe)
	set("server", t.Server, be)
	set("http-request", t.HTTPRequest, true)
	set("http-keep-alive", t.HTTPKeepAlive, true)
	set("queue", t.Queue, be)
	set("tunnel", t.Tunnel, be)
	set("check", t.Check, be)
}

// bindAddr is a bind's address:port ("*" is every IPv4 address).
func bindAddr(b desired.Bind) string {
	a := b.Address
	switch {
	case a == "" || a == "*":
		a = "*"
	case strings.Contains(a, ":"):
		a = "[" + a + "]"
	}
	return a + ":" + itoa(b.Port)
}

func (c *hostCtx) frontend(w *cfgWriter, fe *desired.Frontend) {
	httpMode := fe.Mode != "tcp"
	w.line("frontend", fe.Name)
	if httpMode {
		w.in("mode", "http")
	} else {
		w.in("mode", "tcp")
	}
	for _, b := range fe.Binds {
		words := []string{"bind", bindAddr(b)}
		if t := fe.TLS; t != nil {
			words = append(words, "ssl", "crt", t.Certificate)
			if len(t.ALPN) > 0 {
				words = append(words, "alpn", strings.Join(t.ALPN, ","))
			}
			if t.MinVersion != "" {
				words = append(words, "ssl-min-ver", t.MinVersion)
			}
		} else if fe.Mode == "grpc" {
			words = append(words, "proto", "h2") // h2 cleartext
		}
		w.in(words...)
	}
	if fe.Maxconn > 0 {
		w.in("maxconn", itoa(fe.Maxconn))
	}
	// With haproxy.logTarget none there is nowhere to log: no log format
	// (haproxy would warn that it is ignored).
	logOn := (fe.Options.HTTPLog == nil || *fe.Options.HTTPLog) && c.f.HAProxy.LogTarget != "none"
	switch {
	case httpMode && logOn:
		w.in("option", "httplog")
	case !httpMode && logOn:
		w.in("option", "tcplog")
	}
	if httpMode && fe.Options.ForwardFor != nil && *fe.Options.ForwardFor {
		w.in("option", "forwardfor")
	}
	timeouts(w, &fe.Timeouts, true, false)
	if httpMode {
		guard := make([]string, 0, len(c.trusted)+7)
		guard = append(guard, "http-request", "del-header", HopHeader, "unless", "{", "src")
		guard = append(append(guard, c.trusted...), "}")
		w.in(guard...)
		w.in("http-request", "deny", "deny_status", "503", "if", "{", "req.hdr_cnt("+HopHeader+")", "ge", "2", "}")
		for _, h := range fe.SetHeaders {
			v := `"` + h.Value + `"`
			if h.Value == "" {
				// HAProxy drops an empty quoted argument: an empty
				// sample expression sets the header to "".
				v = `"%[str()]"`
			}
			w.in("http-request", "set-header", h.Name, v)
		}
	}
	for _, r := range fe.Routes {
		words := []string{"use_backend", r.Backend}
		var conds []string
		if r.PathPrefix != "" {
			conds = append(conds, "{", "path_beg", r.PathPrefix, "}")
		}
		if r.Host != "" {
			conds = append(conds, "{", "hdr(host)", "-i", r.Host, "}")
		}
		if len(conds) > 0 {
			words = append(append(words, "if"), conds...)
		}
		w.in(words...)
	}
	if fe.DefaultBackend != "" {
		w.in("default_backend", fe.DefaultBackend)
	}
	w.blank()
}

func (c *hostCtx) stats(w *cfgWriter, s *desired.Stats) {
	w.line("frontend", StatsFrontend)
	w.in("mode", "http")
	w.in("bind", bindAddr(s.Bind))
	w.in("no", "log")
	if s.Prometheus != nil && *s.Prometheus {
		p := s.MetricsPath
		if p == "" {
			p = desired.DefaultMetricsPath
		}
		w.in("http-request", "use-service", "prometheus-exporter", "if", "{", "path", p, "}")
	}
	w.in("stats", "enable")
	uri := s.URI
	if uri == "" {
		uri = desired.DefaultStatsURI
	}
	w.in("stats", "uri", uri)
	if s.Refresh > 0 {
		w.in("stats", "refresh", dur(s.Refresh))
	}
	w.in("stats", "show-legends")
	w.blank()
}

func (c *hostCtx) backend(w *cfgWriter, b *desired.Backend, rb Backend) {
	httpMode := b.Mode != "tcp"
	w.line("backend", b.Name)
	if httpMode {
		w.in("mode", "http")
	} else {
		w.in("mode", "tcp")
	}
	w.in("balance", b.Balance)
	if ck := b.Check; ck != nil && ck.Type == "http" {
		w.in("option", "httpchk")
		send := []string{"http-check", "send", "meth", ck.Method, "uri", ck.Path}
		if ck.HostHeader != "" {
			send = append(send, "ver", "HTTP/1.1", "hdr", "Host", ck.HostHeader)
		} else {
			// HTTP/1.1 requires a Host header; without one, HTTP/1.0.
			send = append(send, "ver", "HTTP/1.0")
		}
		w.in(send...)
		w.in("http-check", "expect", "status", itoa(ck.ExpectStatus))
	}
	if b.Redispatch != nil && *b.Redispatch {
		w.in("option", "redispatch")
	}
	if b.Retries != nil {
		w.in("retries", itoa(*b.Retries))
	}
	if httpMode && b.ForwardFor != nil && *b.ForwardFor {
		w.in("option", "forwardfor")
	}
	// failoverServers cannot fail here: c.backends() ran it first.
	if fb, _ := c.failoverServers(b, c.base(b)); len(fb) > 0 {
		w.in("option", "allbackups")
		if httpMode {
			w.in("http-request", "add-header", HopHeader, c.zone.Name)
		}
	}
	timeouts(w, &b.Timeouts, false, true)
	for i := range rb.Servers {
		line := append(w.b.AvailableBuffer(), ServerIndent...)
		line = rb.Servers[i].AppendLine(line)
		w.b.Write(append(line, '\n'))
	}
	w.blank()
}

// secs writes d in seconds for keepalived ("1", "0.5").
func secs(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}
