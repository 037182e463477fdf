package plan

import (
	"bytes"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/render"
)

// TestDiffDNS checks the DNS changes a plan lists for each kind of edit of
// the dns block.
func TestDiffDNS(t *testing.T) {
	base := exampleFleet(t)
	fleetYAML := string(base["fleet.yaml"].Data)
	with := func(old, new string) *desired.Fleet {
		t.Helper()
		if !strings.Contains(fleetYAML, old) {
			t.Fatalf("fleet.yaml has no %q", old)
		}
		m := fstest.MapFS{}
		for k, v := range base {
			m[k] = v
		}
		m["fleet.yaml"] = &fstest.MapFile{Data: []byte(strings.Replace(fleetYAML, old, new, 1))}
		return load(t, m)
	}
	old := load(t, base)
	for _, tc := range []struct {
		name string
		new  *desired.Fleet
		want []string // substrings of the changes, in order; nil: no DNS plan
	}{
		{"unchanged", load(t, base), nil},
		{"add record", with("    - name: www\n", "    - name: cdn\n      frontend: http_in\n    - name: www\n"),
			[]string{"add cdn.ddc.example. A: eu clients and the rest: eu 198.18.1.100,198.18.1.101, then us"}},
		{"remove record", with("    - name: api\n      frontend: http_in\n      checkPath: /health\n", ""),
			[]string{"remove api.ddc.example. A"}},
		{"ttl", with("ttl: 20", "ttl: 60"), []string{"ttl 20 -> 60"}},
		{"default zone", with("defaultZone: eu", "defaultZone: us"),
			[]string{"change api.ddc.example. A", "change www.ddc.example. A"}},
		{"check path", with("checkPath: /health", "checkPath: /ready"),
			[]string{"change api.ddc.example. A", "(checked http://api.ddc.example:80/ready)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := DiffDNS(old, tc.new)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == nil {
				if p != nil {
					t.Fatalf("plan %+v, want none", p)
				}
				return
			}
			if p == nil || p.Action != ActionReload || p.Zone != "ddc.example." || strings.Join(p.Nameservers, ",") != "ns1" {
				t.Fatalf("plan %+v", p)
			}
			all := strings.Join(p.Changes, "\n")
			at := 0
			for _, w := range tc.want {
				i := strings.Index(all[at:], w)
				if i < 0 {
					t.Fatalf("changes lack %q (in order):\n%s", w, all)
				}
				at += i + len(w)
			}
		})
	}

	// A first deploy lists the new zone; the Markdown has a DNS section.
	p, err := Compute(nil, old, render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p.DNS == nil || !strings.Contains(p.DNS.Changes[0], "new zone ddc.example. with 2 records") {
		t.Fatalf("first deploy DNS plan: %+v", p.DNS)
	}
	var b bytes.Buffer
	if err := p.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "#### DNS zone ddc.example. (ns1): 3 changes\n- new zone ddc.example. with 2 records\n- add api.ddc.example. A") {
		t.Errorf("Markdown:\n%s", b.String())
	}
}
