package plan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/ddc-gitops/ddc-gitops/render"
)

func TestWriteTextCapsOps(t *testing.T) {
	base := baseSpec()
	ns := base.clone()
	for i := range MaxTextOps + 7 {
		ns.backends[0].Servers = append(ns.backends[0].Servers, srv(fmt.Sprintf("x%03d", i), fmt.Sprintf("198.18.3.%d", i+1), 8080))
	}
	p := DiffHosts([]*render.Host{base.host("h1")}, []*render.Host{ns.host("h1")})
	if n := len(p.Hosts[0].Ops); n != MaxTextOps+7 {
		t.Fatalf("%d ops, want %d", n, MaxTextOps+7)
	}
	var b bytes.Buffer
	if err := p.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if got := strings.Count(out, "\n- add `be_rr/x"); got != MaxTextOps {
		t.Errorf("listed %d ops, want %d:\n%s", got, MaxTextOps, out)
	}
	if !strings.Contains(out, "\n- ... and 7 more\n") {
		t.Errorf("no '... and 7 more' line:\n%s", out)
	}
	if !strings.Contains(out, "Runtime API changes (57, no reload):") {
		t.Errorf("no runtime heading with the op count:\n%s", out)
	}
}

func TestWriteTextGroupsHosts(t *testing.T) {
	base, ns := baseSpec(), baseSpec().clone()
	ns.backends[0].Servers[0].Weight = 5
	var old, new []*render.Host
	for _, h := range []string{"h2", "h1", "h3"} {
		old = append(old, base.host(h))
		nh := ns.host(h)
		if h == "h3" {
			nh = base.host(h)
		}
		new = append(new, nh)
	}
	new = append(new, base.host("h4"))
	old = append(old, base.host("h0"))
	p := DiffHosts(old, new)
	var names []string
	for _, h := range p.Hosts {
		names = append(names, h.Host)
	}
	if got := strings.Join(names, ","); got != "h0,h1,h2,h3,h4" {
		t.Fatalf("hosts %s, want sorted h0..h4", got)
	}
	var b bytes.Buffer
	if err := p.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"### Plan: 5 hosts\n\n2 HAProxy runtime-only, 1 HAProxy reload, 1 keepalived reload, 1 new, 1 removed, 1 unchanged.\n",
		"| h0 (removed) | eu | none | none | 0 |  |\n",
		"| h4 (new) | eu | reload | reload | 0 |  |\n",
		"| h3 | eu | none | none | 0 |  |\n",
		"#### h1, h2 (eu): HAProxy runtime, keepalived none\n\nRuntime API changes (1, no reload):\n- set-weight `be_rr/n1`: weight 100 -> 5\n",
		"#### h0 (eu): HAProxy none, keepalived none\n\nReasons:\n- host removed",
		"#### h4 (eu): HAProxy reload, keepalived reload\n\nReasons:\n- new host: first deploy",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "#### h3") {
		t.Errorf("unchanged host h3 has a section:\n%s", out)
	}
}

func TestWriteTextEmpty(t *testing.T) {
	p, err := Compute(nil, nil, render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := p.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if got, want := b.String(), "### Plan: 0 hosts\n\nNo HAProxy hosts in either revision.\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestOpText(t *testing.T) {
	s := srv("n9", "198.18.1.9", 8080)
	tests := []struct {
		op   Op
		want string
	}{
		{Op{Op: OpAdd, Backend: "b", Server: "n9", To: "198.18.1.9:8080", Line: s.Line()}, "add `b/n9`: `" + s.Line() + "`"},
		{Op{Op: OpAdd, Backend: "b", Server: "n9", To: "198.18.1.9:8080"}, "add `b/n9` at 198.18.1.9:8080"},
		{Op{Op: OpDel, Backend: "b", Server: "n9", From: "198.18.1.9:8080"}, "del `b/n9` (was 198.18.1.9:8080)"},
		{Op{Op: OpSetWeight, Backend: "b", Server: "n9", From: "100", To: "50"}, "set-weight `b/n9`: weight 100 -> 50"},
		{Op{Op: OpSetMaxconn, Backend: "b", Server: "n9", From: "1", To: "2"}, "set-maxconn `b/n9`: maxconn 1 -> 2"},
		{Op{Op: OpSetState, Backend: "b", Server: "n9", From: "ready", To: "maint"}, "set-state `b/n9`: ready -> maint"},
		{Op{Op: OpSetAddr, Backend: "b", Server: "n9", From: "198.18.1.9:80", To: "198.18.1.8:80"}, "set-addr `b/n9`: 198.18.1.9:80 -> 198.18.1.8:80"},
		{Op{Op: OpReplace, Backend: "b", Server: "n9", From: "slowstart 10s", To: "slowstart 1m"}, "replace `b/n9`: slowstart 10s -> slowstart 1m"},
	}
	for _, tc := range tests {
		if got := tc.op.Text(); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.op.Op, got, tc.want)
		}
	}
}

func TestWriteJSONRoundTrip(t *testing.T) {
	base, ns := baseSpec(), baseSpec().clone()
	ns.backends[1].Servers = append(ns.backends[1].Servers, srv("s9", "198.18.1.39", 80))
	p := DiffHosts([]*render.Host{base.host("h1")}, []*render.Host{ns.host("h1")})
	var b bytes.Buffer
	if err := p.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"haproxy": "reload"`, `"op": "add"`, `"line": "server s9 198.18.1.39:80 weight 100`, `"warnings": [`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("JSON lacks %s:\n%s", want, b.String())
		}
	}
	var back Plan
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Hosts) != 1 || back.Hosts[0].HAProxy != ActionReload || len(back.Hosts[0].Ops) != 1 || back.Hosts[0].Ops[0].Line == "" {
		t.Errorf("JSON round trip lost data: %+v", back)
	}
}

func TestSkeletonEqual(t *testing.T) {
	tests := []string{
		"",
		"global\n",
		"global\n    maxconn 1\n",
		"backend b\n    server a 1.1.1.1:1 weight 1\n",
		"backend b\n    server a 1.1.1.1:1 weight 1\n    server c 1.1.1.1:1 weight 1\n",
		"backend b\n    server a 1.1.1.1:1 weight 1",
		"backend b\n    timeout server 1s\n",
		"backend b\n\n",
		"backend b\n    server a 1.1.1.1:1 weight 1\n\n",
		"backend c\n",
	}
	for _, a := range tests {
		for _, b := range tests {
			want := bytes.Equal(render.Skeleton([]byte(a)), render.Skeleton([]byte(b)))
			if got := render.SkeletonEqual([]byte(a), []byte(b)); got != want {
				t.Errorf("render.SkeletonEqual(%q, %q) = %v, want %v", a, b, got, want)
			}
		}
	}
}

func TestSectionChanges(t *testing.T) {
	old := "# header\nglobal\n    maxconn 1\n# a comment at column 0\n\nfrontend a\n    bind :80\n\nfrontend b\n    bind :81\n"
	tests := []struct {
		name, new string
		want      []string
	}{
		{"same", old, nil},
		{"header", strings.Replace(old, "# header", "# other", 1), []string{"header comment changed"}},
		{"comment inside a section", strings.Replace(old, "# a comment", "# the comment", 1), []string{"global changed"}},
		{"frontend", strings.Replace(old, ":81", ":82", 1), []string{"frontend b changed"}},
		{"removed", strings.Replace(old, "frontend a\n    bind :80\n\n", "", 1), []string{"frontend a removed"}},
		{"added", old + "frontend c\n    bind :83\n", []string{"frontend c added"}},
	}
	for _, tc := range tests {
		got := sectionChanges([]byte(old), []byte(tc.new), func(k string) string { return sectionName(k) + " changed" }, nil)
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
	// Same sections in another order.
	re := "global\n    maxconn 1\nfrontend b\n    bind :81\nfrontend a\n    bind :80\n"
	or := "global\n    maxconn 1\nfrontend a\n    bind :80\nfrontend b\n    bind :81\n"
	if got := skeletonChanges([]byte(or), []byte(re)); strings.Join(got, "|") != "sections reordered" {
		t.Errorf("reordered sections: %q", got)
	}
}
