package render

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
	"time"

	parser "github.com/haproxytech/client-native/v5/config-parser"
	"github.com/haproxytech/client-native/v5/config-parser/options"
	"github.com/haproxytech/client-native/v5/config-parser/types"
	"github.com/haproxytech/client-native/v5/configuration"
	"github.com/haproxytech/client-native/v5/models"

	"github.com/ddc-gitops/ddc-gitops/desired"
)

// readBackends parses a haproxy.cfg with client-native's configuration
// parser (HAProxy's own Go parser, independent of this package) and returns
// its backends, in file order, with their balance algorithm and servers as
// this package models them: the tests check that every rendered file reads
// back as the Backends it was rendered from. It is test-only: the agent
// does not parse haproxy.cfg with client-native (see docs/agent.md, "Why
// the agent drives the runtime API directly"), so the shipped binary does
// not link it.
//
// A server line does not say why a server has weight 0: readBackends
// reports it as State "drain" with Weight 0 (a rendered drained server's
// configured weight is not in the file), so Line() round-trips exactly.
func readBackends(cfg []byte) ([]Backend, error) {
	p, err := parser.New(options.Reader(bytes.NewReader(cfg)))
	if err != nil {
		return nil, fmt.Errorf("parsing haproxy.cfg: %w", err)
	}
	names, err := backendOrder(cfg)
	if err != nil {
		return nil, err
	}
	out := make([]Backend, 0, len(names))
	for _, name := range names {
		b := Backend{Name: name}
		if data, err := p.Get(parser.Backends, name, "balance"); err == nil {
			if bal, ok := data.(*types.Balance); ok {
				b.Balance = bal.Algorithm
			}
		}
		b.Dynamic = desired.DynamicBalance(b.Balance)
		servers, err := configuration.ParseServers("backend", name, p)
		if err != nil {
			return nil, fmt.Errorf("reading the servers of backend %s: %w", name, err)
		}
		for _, s := range servers {
			b.Servers = append(b.Servers, fromModel(s))
		}
		out = append(out, b)
	}
	return out, nil
}

// backendOrder lists the backend sections in the order they appear (the
// parser keeps sections in a map).
func backendOrder(cfg []byte) ([]string, error) {
	var names []string
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(cfg))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "backend" && !seen[f[1]] {
			seen[f[1]] = true
			names = append(names, f[1])
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("scanning haproxy.cfg for backends: %w", err)
	}
	return names, nil
}

// fromModel converts a client-native server into a Server.
func fromModel(m *models.Server) Server {
	s := Server{
		Name:       m.Name,
		Address:    m.Address,
		Hostname:   !desired.ValidIP(m.Address),
		Port:       int64v(m.Port),
		Weight:     int64v(m.Weight),
		Maxconn:    int64v(m.Maxconn),
		Slowstart:  ms(m.Slowstart),
		Check:      m.Check == "enabled",
		CheckPort:  int64v(m.HealthCheckPort),
		Inter:      ms(m.Inter),
		Rise:       int64v(m.Rise),
		Fall:       int64v(m.Fall),
		Backup:     m.Backup == "enabled",
		Proto:      m.Proto,
		SSL:        m.Ssl == "enabled",
		CheckProto: m.CheckProto,
		CheckSSL:   m.CheckSsl == "enabled",
		State:      "ready",
	}
	if s.SSL {
		s.SNI = strings.TrimSuffix(strings.TrimPrefix(m.Sni, "str("), ")")
		s.ALPN = m.Alpn
	}
	if s.SNI == "" && s.CheckSSL {
		s.SNI = m.CheckSni
	}
	switch {
	case m.Maintenance == "enabled":
		s.State = "maint"
	case m.Weight != nil && *m.Weight == 0:
		s.State = "drain"
	}
	return s
}

func int64v(p *int64) int {
	if p == nil {
		return 0
	}
	return int(*p)
}

func ms(p *int64) time.Duration {
	if p == nil {
		return 0
	}
	return time.Duration(*p) * time.Millisecond
}
