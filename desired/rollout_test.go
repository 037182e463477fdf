package desired

import (
	"strings"
	"testing"
	"time"
)

// TestWaves checks the default wave ordering and the per-zone and per-host
// settings on the example fleet (zones eu and us, two hosts each).
func TestWaves(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(t *testing.T, fsys map[string]string)
		want map[string]int
	}{
		{
			name: "default",
			want: map[string]int{"eu-haproxy-1": 0, "eu-haproxy-2": 1, "us-haproxy-1": 1, "us-haproxy-2": 2},
		},
		{
			name: "zone offset",
			edit: func(t *testing.T, z map[string]string) { z["zones/us/zone.yaml"] = "wave: 5\n" },
			want: map[string]int{"eu-haproxy-1": 0, "eu-haproxy-2": 1, "us-haproxy-1": 5, "us-haproxy-2": 6},
		},
		{
			name: "first zone offset",
			edit: func(t *testing.T, z map[string]string) { z["zones/eu/zone.yaml"] = "wave: 2\n" },
			want: map[string]int{"eu-haproxy-1": 2, "eu-haproxy-2": 3, "us-haproxy-1": 1, "us-haproxy-2": 2},
		},
		{
			name: "explicit hosts",
			edit: func(t *testing.T, z map[string]string) {
				z["zones/eu/zone.yaml@    owns: [eu-vip-1]\n"] = "    owns: [eu-vip-1]\n    wave: 3\n"
				z["zones/eu/zone.yaml@    owns: [eu-vip-2]\n"] = "    owns: [eu-vip-2]\n    wave: 0\n"
			},
			want: map[string]int{"eu-haproxy-1": 3, "eu-haproxy-2": 0, "us-haproxy-1": 1, "us-haproxy-2": 2},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := readExamples(t)
			edits := map[string]string{}
			if tc.edit != nil {
				tc.edit(t, edits)
			}
			for k, v := range edits {
				file, old, ok := strings.Cut(k, "@")
				if !ok {
					old = "kind: Zone\n"
					v = old + v
				}
				replaceIn(t, fsys, file, old, v)
			}
			f, err := Load(fsys)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]int{}
			for _, z := range f.Zones {
				for _, h := range z.Hosts {
					got[h.Name] = h.HostWave()
				}
			}
			for h, w := range tc.want {
				if got[h] != w {
					t.Errorf("%s: wave %d, want %d (all: %v)", h, got[h], w, got)
				}
			}
		})
	}
}

// TestRolloutDefaults checks the rollout section's defaults and the agent URLs.
func TestRolloutDefaults(t *testing.T) {
	fsys := readExamples(t)
	replaceIn(t, fsys, "zones/us/zone.yaml", "    owns: [us-vip-2]\n", "    owns: [us-vip-2]\n    agentURL: https://us2.example:7443\n")
	f, err := Load(fsys)
	if err != nil {
		t.Fatal(err)
	}
	ro := f.Rollout
	if ro.ServerChanges != ServerChangesSkip || ro.PeerTimeout.D() != 2*time.Second || ro.AgentPort != 9100 || ro.RecheckInterval.D() != 3*time.Second {
		t.Errorf("defaults: %+v", ro)
	}
	urls := map[string]string{}
	for _, z := range f.Zones {
		for _, h := range z.Hosts {
			urls[h.Name] = h.AgentStatusURL(ro.AgentPort)
		}
	}
	if urls["eu-haproxy-1"] != "http://198.18.1.11:9100" || urls["us-haproxy-2"] != "https://us2.example:7443" {
		t.Errorf("agent URLs: %v", urls)
	}
	if got := (&Host{Address: "2001:db8::1"}).AgentStatusURL(9100); got != "http://[2001:db8::1]:9100" {
		t.Errorf("IPv6 agent URL: %s", got)
	}
}

// TestRolloutValidation checks that bad rollout settings and two hosts of
// a zone in one wave are errors naming file:line of both hosts.
func TestRolloutValidation(t *testing.T) {
	for _, tc := range []struct {
		name       string
		file       string
		old, new   string
		wantErrors []string
	}{
		{
			name: "two hosts of a zone in one wave",
			file: "zones/eu/zone.yaml",
			old:  "    owns: [eu-vip-2]\n", new: "    owns: [eu-vip-2]\n    wave: 0\n",
			wantErrors: []string{"zones/eu/zone.yaml:28:11: hosts[1].wave: host eu-haproxy-2 is in wave 0 like host eu-haproxy-1 (zones/eu/zone.yaml:18:5) of the same zone"},
		},
		{
			name: "both explicit",
			file: "zones/us/zone.yaml",
			old:  "    owns: [us-vip-1]\n", new: "    owns: [us-vip-1]\n    wave: 2\n",
			wantErrors: []string{"hosts[1].wave: host us-haproxy-2 is in wave 2 like host us-haproxy-1 (zones/us/zone.yaml:", ".wave:", ":11) of the same zone"},
		},
		{
			name: "negative wave",
			file: "zones/eu/zone.yaml",
			old:  "    owns: [eu-vip-1]\n", new: "    owns: [eu-vip-1]\n    wave: -1\n",
			wantErrors: []string{"hosts[0].wave: wave -1 is out of range 0..1000"},
		},
		{
			name: "zone wave out of range",
			file: "zones/eu/zone.yaml",
			old:  "kind: Zone\n", new: "kind: Zone\nwave: 1001\n",
			wantErrors: []string{"zones/eu/zone.yaml:4:7: wave: wave 1001 is out of range 0..1000"},
		},
		{
			name: "agent URL with a path",
			file: "zones/eu/zone.yaml",
			old:  "    owns: [eu-vip-1]\n", new: "    owns: [eu-vip-1]\n    agentURL: http://10.0.0.1:9100/x\n",
			wantErrors: []string{"hosts[0].agentURL: agentURL \"http://10.0.0.1:9100/x\" is invalid"},
		},
		{
			name: "agent URL injection",
			file: "zones/eu/zone.yaml",
			old:  "    owns: [eu-vip-1]\n", new: "    owns: [eu-vip-1]\n    agentURL: \"http://a b\"\n",
			wantErrors: []string{"hosts[0].agentURL: agentURL \"http://a b\" is invalid"},
		},
		{
			name: "bad rollout section",
			file: "fleet.yaml",
			old:  "kind: Fleet\n", new: "kind: Fleet\nrollout:\n  serverChanges: sometimes\n  peerTimeout: 0s\n  agentPort: 70000\n  recheckInterval: 1h\n",
			wantErrors: []string{
				"rollout.serverChanges: serverChanges \"sometimes\" is not one of skip, waves",
				"rollout.peerTimeout: peerTimeout 0s is out of range 10ms..1m",
				"rollout.agentPort: agentPort 70000 is out of range 1..65535",
				"rollout.recheckInterval: recheckInterval 1h0m0s is out of range 100ms..10m",
			},
		},
		{
			name: "unknown rollout field",
			file: "fleet.yaml",
			old:  "kind: Fleet\n", new: "kind: Fleet\nrollout:\n  serverChange: waves\n",
			wantErrors: []string{"fleet.yaml:5:3: rollout.serverChange: unknown field"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := readExamples(t)
			replaceIn(t, fsys, tc.file, tc.old, tc.new)
			_, err := Load(fsys)
			if err == nil {
				t.Fatal("loaded without error")
			}
			for _, w := range tc.wantErrors {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
		})
	}
}
