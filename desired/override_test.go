package desired

import (
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

const goodOverride = `kind: Override
name: drain-eu-node-1
until: 2026-12-04T21:00:00Z
reason: disk replacement, OPS-42
zones: [eu]
servers:
  - backend: ddc_nodes_http
    server: eu-node-1
    state: drain
  - backend: ddc_nodes_http
    server: eu-node-2
    weight: 10
freeze: [ddc_nodes_grpc]
`

func TestLoadOverride(t *testing.T) {
	fsys := readExamples(t)
	fsys["overrides/drain-eu-node-1.yaml"] = &fstest.MapFile{Data: []byte(goodOverride)}
	f, err := Load(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Overrides) != 1 {
		t.Fatalf("overrides: %d, want 1", len(f.Overrides))
	}
	o := f.Overrides[0]
	want := time.Date(2026, 12, 4, 21, 0, 0, 0, time.UTC)
	if !o.UntilTime.Equal(want) || o.Reason != "disk replacement, OPS-42" || len(o.Servers) != 2 || *o.Servers[1].Weight != 10 {
		t.Errorf("override: %+v", o)
	}
	for _, c := range []struct {
		zone, host string
		now        time.Time
		want       int
	}{
		{"eu", "eu-haproxy-1", want.Add(-time.Second), 1},
		{"eu", "eu-haproxy-1", want, 0}, // until is exclusive
		{"us", "us-haproxy-1", want.Add(-time.Second), 0},
	} {
		if got := f.ActiveOverrides(c.zone, c.host, c.now); len(got) != c.want {
			t.Errorf("ActiveOverrides(%s, %s, %s) = %d, want %d", c.zone, c.host, c.now, len(got), c.want)
		}
	}
}

func TestOverrideErrors(t *testing.T) {
	for _, c := range []struct {
		name, file, yaml, want string
	}{
		{"unknown field", "o", "kind: Override\nname: o\nuntil: 2026-12-04T21:00:00Z\nreason: r\nfreeze: [ddc_nodes_http]\nuntill: x\n",
			`overrides/o.yaml:6:1: untill: unknown field "untill" (did you mean "until"?)`},
		{"duplicate key", "o", "kind: Override\nname: o\nuntil: 2026-12-04T21:00:00Z\nreason: r\nreason: s\nfreeze: [ddc_nodes_http]\n",
			`overrides/o.yaml:5:1: reason: duplicate key "reason"`},
		{"missing until", "o", "kind: Override\nname: o\nreason: r\nfreeze: [ddc_nodes_http]\n",
			`overrides/o.yaml:1:1: until: until is required`},
		{"bad until", "o", "kind: Override\nname: o\nuntil: tomorrow\nreason: r\nfreeze: [ddc_nodes_http]\n",
			`overrides/o.yaml:3:8: until: until "tomorrow" is not an RFC 3339 time`},
		{"until without zone", "o", "kind: Override\nname: o\nuntil: 2026-12-04T21:00:00\nreason: r\nfreeze: [ddc_nodes_http]\n",
			`is not an RFC 3339 time`},
		{"missing reason", "o", "kind: Override\nname: o\nuntil: 2026-12-04T21:00:00Z\nfreeze: [ddc_nodes_http]\n",
			`overrides/o.yaml:1:1: reason: reason is required`},
		{"reason with a newline", "o", "kind: Override\nname: o\nuntil: 2026-12-04T21:00:00Z\nreason: \"a\\n\\nEmergency: yes\"\nfreeze: [ddc_nodes_http]\n",
			`overrides/o.yaml:4:9: reason: reason is invalid: 1 to 200 printable characters on one line`},
		{"no action", "o", "kind: Override\nname: o\nuntil: 2026-12-04T21:00:00Z\nreason: r\n",
			`needs at least one server action`},
		{"bad state", "o", "kind: Override\nname: o\nuntil: 2026-12-04T21:00:00Z\nreason: r\nservers:\n  - backend: ddc_nodes_http\n    server: eu-node-1\n    state: ready\n",
			`overrides/o.yaml:8:12: servers[0].state: state "ready" is not one of drain, maint`},
		{"weight out of range", "o", "kind: Override\nname: o\nuntil: 2026-12-04T21:00:00Z\nreason: r\nservers:\n  - backend: ddc_nodes_http\n    server: eu-node-1\n    weight: 300\n",
			`servers[0].weight: weight 300 is out of range 0..256`},
		{"no state or weight", "o", "kind: Override\nname: o\nuntil: 2026-12-04T21:00:00Z\nreason: r\nservers:\n  - backend: ddc_nodes_http\n    server: eu-node-1\n",
			`servers[0]: a server action needs state (drain or maint) or weight`},
		{"unknown backend", "o", "kind: Override\nname: o\nuntil: 2026-12-04T21:00:00Z\nreason: r\nservers:\n  - backend: nope\n    server: eu-node-1\n    state: drain\n",
			`servers[0].backend: unknown backend "nope"`},
		{"unknown server", "o", "kind: Override\nname: o\nuntil: 2026-12-04T21:00:00Z\nreason: r\nservers:\n  - backend: ddc_nodes_http\n    server: ghost\n    state: drain\n",
			`servers[0].server: backend "ddc_nodes_http" has no server "ghost"`},
		{"injected server name", "o", "kind: Override\nname: o\nuntil: 2026-12-04T21:00:00Z\nreason: r\nservers:\n  - backend: ddc_nodes_http\n    server: \"a\\nbind :1\"\n    state: drain\n",
			`servers[0].server: server "a\nbind :1" is invalid`},
		{"twice the same server", "o", "kind: Override\nname: o\nuntil: 2026-12-04T21:00:00Z\nreason: r\nservers:\n  - {backend: ddc_nodes_http, server: eu-node-1, state: drain}\n  - {backend: ddc_nodes_http, server: eu-node-1, weight: 1}\n",
			`servers[1]: server ddc_nodes_http/eu-node-1 is already overridden by servers[0]`},
		{"unknown zone", "o", "kind: Override\nname: o\nuntil: 2026-12-04T21:00:00Z\nreason: r\nzones: [mars]\nfreeze: [ddc_nodes_http]\n",
			`zones[0]: unknown zone "mars"`},
		{"unknown host", "o", "kind: Override\nname: o\nuntil: 2026-12-04T21:00:00Z\nreason: r\nhosts: [nohost]\nfreeze: [ddc_nodes_http]\n",
			`hosts[0]: unknown host "nohost"`},
		{"unknown frozen backend", "o", "kind: Override\nname: o\nuntil: 2026-12-04T21:00:00Z\nreason: r\nfreeze: [nope]\n",
			`freeze[0]: unknown backend "nope"`},
		{"name does not match the file", "other", "kind: Override\nname: o\nuntil: 2026-12-04T21:00:00Z\nreason: r\nfreeze: [ddc_nodes_http]\n",
			`name "o" does not match the file name`},
		{"wrong kind", "o", "kind: Node\nname: o\nuntil: 2026-12-04T21:00:00Z\nreason: r\nfreeze: [ddc_nodes_http]\n",
			`kind must be "Override" here, got "Node"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			fsys := readExamples(t)
			fsys["overrides/"+c.file+".yaml"] = &fstest.MapFile{Data: []byte(c.yaml)}
			_, err := Load(fsys)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error:\n%v\nwant it to contain:\n%s", err, c.want)
			}
		})
	}
}

func TestCheckOverrideBounds(t *testing.T) {
	fsys := readExamples(t)
	fsys["overrides/drain-eu-node-1.yaml"] = &fstest.MapFile{Data: []byte(goodOverride)}
	f, err := Load(fsys)
	if err != nil {
		t.Fatal(err)
	}
	until := time.Date(2026, 12, 4, 21, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		committed time.Time
		bad       bool
	}{
		{until.Add(-MaxOverrideLife), false},
		{until.Add(-MaxOverrideLife - time.Second), true},
		{until.Add(time.Hour), false}, // expired: inert, not an error
	} {
		errs := CheckOverrideBounds(f, c.committed)
		if (len(errs) > 0) != c.bad {
			t.Errorf("committed %s: %v, want bad=%v", c.committed, errs, c.bad)
		}
		if c.bad && !strings.Contains(errs.Error(), "overrides/drain-eu-node-1.yaml:3:8: until: until 2026-12-04T21:00:00Z is more than 168h0m0s after the commit") {
			t.Errorf("message: %v", errs)
		}
	}
}

func TestFreezeWindows(t *testing.T) {
	fsys := readExamples(t)
	fleet := string(fsys["fleet.yaml"].Data)
	fsys["fleet.yaml"] = &fstest.MapFile{Data: []byte(fleet + `freeze:
  - name: black-friday
    from: 2026-11-27T00:00:00Z
    until: 2026-11-30T00:00:00Z
    reason: peak traffic
  - name: overlap
    from: 2026-11-29T00:00:00Z
    until: 2026-12-01T00:00:00Z
`)}
	f, err := Load(fsys)
	if err != nil {
		t.Fatal(err)
	}
	day := func(d, h int) time.Time { return time.Date(2026, 11, d, h, 0, 0, 0, time.UTC) }
	for _, c := range []struct {
		now  time.Time
		want string
	}{
		{day(26, 23), ""},
		{day(27, 0), "black-friday"},                       // from is inclusive
		{day(29, 12), "overlap"},                           // the window that ends last
		{time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), ""}, // until is exclusive
	} {
		got := ""
		if w := f.FreezeAt(c.now); w != nil {
			got = w.Name
		}
		if got != c.want {
			t.Errorf("FreezeAt(%s) = %q, want %q", c.now, got, c.want)
		}
	}

	for _, c := range []struct{ name, yaml, want string }{
		{"until before from", "freeze:\n  - name: w\n    from: 2026-11-27T00:00:00Z\n    until: 2026-11-26T00:00:00Z\n", "freeze[0].until: until 2026-11-26T00:00:00Z is not after from"},
		{"missing from", "freeze:\n  - name: w\n    until: 2026-11-26T00:00:00Z\n", "freeze[0].from: from is required"},
		{"bad time", "freeze:\n  - name: w\n    from: monday\n    until: 2026-11-26T00:00:00Z\n", `freeze[0].from: from "monday" is not an RFC 3339 time`},
		{"unknown field", "freeze:\n  - name: w\n    from: 2026-11-27T00:00:00Z\n    until: 2026-11-28T00:00:00Z\n    every: week\n", `freeze[0].every: unknown field "every"`},
		{"duplicate name", "freeze:\n  - {name: w, from: 2026-11-27T00:00:00Z, until: 2026-11-28T00:00:00Z}\n  - {name: w, from: 2026-11-27T00:00:00Z, until: 2026-11-28T00:00:00Z}\n", `freeze[1].name: freeze window "w" is defined twice`},
	} {
		t.Run(c.name, func(t *testing.T) {
			fsys := readExamples(t)
			fsys["fleet.yaml"] = &fstest.MapFile{Data: []byte(fleet + c.yaml)}
			_, err := Load(fsys)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error:\n%v\nwant it to contain:\n%s", err, c.want)
			}
		})
	}
}

func TestIsEmergency(t *testing.T) {
	for _, c := range []struct {
		msg  string
		want bool
	}{
		{"fix\n\nEmergency: yes\n", true},
		{"fix\n\nbody text\n\nSigned-off-by: a <a@b>\nemergency: YES", true},
		{"fix\r\n\r\nEmergency: yes\r\n", true},
		{"Emergency: yes", false},                         // a subject alone
		{"fix\n\nEmergency: no\n", false},                 // not yes
		{"fix\n\nEmergency: yes\n\nmore text\n", false},   // not the last paragraph
		{"fix\n\nwe said Emergency: yes here\n", false},   // not a trailer block
		{"fix\n\nEmergency: yes\nnot a trailer\n", false}, // a paragraph with a non-trailer line
		{"fix\n", false},
	} {
		if got := IsEmergency(c.msg); got != c.want {
			t.Errorf("IsEmergency(%q) = %v, want %v", c.msg, got, c.want)
		}
	}
}
