package reconciler

import (
	"strings"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/desired"
)

func defaultThresholds() desired.GateThresholds { return defaultGateConfig().th }

func TestGateVerdict(t *testing.T) {
	fe := Probe{signalFrontend, "frontend web 127.0.0.1:80"}
	vip := Probe{signalVIP, "vip v1 198.18.1.100:80 (frontend web)"}
	up := func(m map[string]UpCount) GateReading { return GateReading{Up: m} }
	http := func(m map[string]Count) GateReading { return GateReading{HTTP5xx: m} }
	conn := func(m map[string]Count) GateReading { return GateReading{ConnErrors: m} }
	probes := func(m map[Probe]int) GateReading { return GateReading{ProbeFailures: m} }
	for _, tc := range []struct {
		name          string
		th            func(*desired.GateThresholds)
		before, after GateReading
		trip          bool
		why           string // a part of the verdict when it trips
	}{
		{name: "nothing to compare", before: GateReading{}, after: GateReading{}},
		{name: "all up stays up", before: up(map[string]UpCount{"be": {10, 10}}), after: up(map[string]UpCount{"be": {10, 10}})},
		{name: "every server down", before: up(map[string]UpCount{"be": {10, 10}}), after: up(map[string]UpCount{"be": {0, 10}}), trip: true, why: "backend be: servers UP 100% -> 0% (trips below 75%)"},
		{name: "one of four down: 75% is not below 75%", before: up(map[string]UpCount{"be": {4, 4}}), after: up(map[string]UpCount{"be": {3, 4}})},
		{name: "two of four down", before: up(map[string]UpCount{"be": {4, 4}}), after: up(map[string]UpCount{"be": {2, 4}}), trip: true},
		{name: "already low, fell by less than the drop", before: up(map[string]UpCount{"be": {5, 10}}), after: up(map[string]UpCount{"be": {3, 10}})},
		{name: "already low, fell by more than the drop", before: up(map[string]UpCount{"be": {6, 10}}), after: up(map[string]UpCount{"be": {3, 10}}), trip: true},
		{name: "servers put in maintenance are not counted", before: up(map[string]UpCount{"be": {4, 4}}), after: up(map[string]UpCount{"be": {1, 1}})},
		{name: "every server in maintenance: not judged", before: up(map[string]UpCount{"be": {4, 4}}), after: up(map[string]UpCount{"be": {0, 0}})},
		{name: "a new backend is not judged", before: up(map[string]UpCount{}), after: up(map[string]UpCount{"new": {0, 3}})},
		{name: "stricter thresholds", th: func(th *desired.GateThresholds) { th.UpDropPercent, th.UpMinPercent = 10, 95 },
			before: up(map[string]UpCount{"be": {10, 10}}), after: up(map[string]UpCount{"be": {8, 10}}), trip: true},

		{name: "5xx from none to one: floor", before: http(map[string]Count{"web": {0, 1000}}), after: http(map[string]Count{"web": {1, 10}})},
		{name: "5xx from none to many", before: http(map[string]Count{"web": {0, 1000}}), after: http(map[string]Count{"web": {40, 100}}), trip: true, why: "frontend web: 5xx rate 0.0% -> 40.0% (trips above 5.0%)"},
		{name: "5xx rate up but below the absolute floor", before: http(map[string]Count{"web": {1, 1000}}), after: http(map[string]Count{"web": {30, 1000}})},
		{name: "5xx already high, not doubled", before: http(map[string]Count{"web": {300, 1000}}), after: http(map[string]Count{"web": {500, 1000}})},
		{name: "5xx already high, doubled", before: http(map[string]Count{"web": {100, 1000}}), after: http(map[string]Count{"web": {500, 1000}}), trip: true},
		{name: "5xx high but too few errors", before: http(map[string]Count{"web": {0, 0}}), after: http(map[string]Count{"web": {9, 9}})},
		{name: "5xx with no traffic before", before: http(map[string]Count{"web": {0, 0}}), after: http(map[string]Count{"web": {10, 10}}), trip: true},
		{name: "no requests after: not judged", before: http(map[string]Count{"web": {0, 100}}), after: http(map[string]Count{"web": {0, 0}})},
		{name: "a new frontend is not judged", before: http(map[string]Count{}), after: http(map[string]Count{"web": {50, 50}})},
		{name: "connection errors", before: conn(map[string]Count{"be": {0, 500}}), after: conn(map[string]Count{"be": {20, 100}}), trip: true, why: "backend be: connection error rate"},
		{name: "connection errors within the factor", before: conn(map[string]Count{"be": {10, 100}}), after: conn(map[string]Count{"be": {15, 100}})},

		{name: "frontend stops answering", before: probes(map[Probe]int{fe: 0}), after: probes(map[Probe]int{fe: 2}), trip: true, why: "frontend web 127.0.0.1:80 no longer answers"},
		{name: "one failed connect is not enough", before: probes(map[Probe]int{fe: 0}), after: probes(map[Probe]int{fe: 1})},
		{name: "did not answer before", before: probes(map[Probe]int{fe: 3}), after: probes(map[Probe]int{fe: 5})},
		{name: "VIP stops answering", before: probes(map[Probe]int{vip: 0}), after: probes(map[Probe]int{vip: 2}), trip: true, why: "vip v1"},
		{name: "VIP moved to the peer: not probed after", before: probes(map[Probe]int{vip: 0}), after: probes(map[Probe]int{})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			th := defaultThresholds()
			if tc.th != nil {
				tc.th(&th)
			}
			trip, why, ev := GateVerdict(th, tc.before, tc.after)
			if trip != tc.trip {
				t.Fatalf("tripped = %v, want %v (verdict %q, evidence %+v)", trip, tc.trip, why, ev)
			}
			if trip && !strings.Contains(why, tc.why) {
				t.Errorf("verdict %q, want it to contain %q", why, tc.why)
			}
			if !trip && why != "" {
				t.Errorf("verdict %q without a trip", why)
			}
			if trip && (len(ev) == 0 || !ev[0].Tripped) {
				t.Errorf("evidence %+v: want the tripped signal first", ev)
			}
		})
	}
}

func TestParseGateStat(t *testing.T) {
	out := "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime\n" +
		"web,FRONTEND,,,0,1,4096,120,0,0,0,0,0,,,,,OPEN,,,,,,,,,1,2,0,,,,0,0,0,5,,,,0,100,0,0,20,0,,0,9,120,,,0,0,0,0,,,,\n" +
		"be,n-000,0,0,0,1,,60,0,0,,0,,3,0,0,0,UP,100,1,0,0,0,5,0,,1,3,1,,60,,2,0,,4,L7OK,200,0,0,60,0,0,0,0,,,,,0,0,,,,,2,\"Layer7 wrong status, code: 404\",,0\n" +
		"be,n-001,0,0,0,1,,60,0,0,,0,,0,0,0,0,DOWN 1/2,100,1,0,0,0,5,0,,1,3,2,,60,,2,0,,4,L7STS,404,0,0,60,0,0,0,0,,,,,0,0,,,,,2,,,0\n" +
		"be,n-002,0,0,0,0,,0,0,0,,0,,0,0,0,0,MAINT,100,1,0,0,0,5,0,,1,3,3,,0,,2,0,,0,,,,0,0,0,0,0,0,,,,,0,0,,,,,-1,,,0\n" +
		"be,fo-us,0,0,0,0,,0,0,0,,0,,0,0,0,0,DOWN,100,0,1,0,0,5,0,,1,3,4,,0,,2,0,,0,L4CON,,,0,0,0,0,0,0,,,,,0,0,,,,,-1,,,0\n" +
		"be,BACKEND,0,0,0,1,410,120,0,0,0,0,,3,0,0,0,UP,200,2,0,,0,5,0,,1,3,0,,120,,1,0,,4,,,,0,100,0,0,20,0,,,,120,0,0,0,0,0,0,2,,,0\n"
	s := &gateSample{up: map[string]UpCount{}, fe5xx: map[string]Count{}, beConn: map[string]Count{}}
	if err := parseGateStat(out, s, nil); err != nil {
		t.Fatal(err)
	}
	if got, want := s.up["be"], (UpCount{Up: 1, Eligible: 2}); got != want {
		t.Errorf("up = %+v, want %+v (maintenance and backup servers left out)", got, want)
	}
	if got, want := s.fe5xx["web"], (Count{Errors: 20, Total: 120}); got != want {
		t.Errorf("frontend 5xx = %+v, want %+v", got, want)
	}
	if got, want := s.beConn["be"], (Count{Errors: 3, Total: 120}); got != want {
		t.Errorf("backend connection errors = %+v, want %+v", got, want)
	}
	s.up = map[string]UpCount{}
	if err := parseGateStat(out, s, map[string]bool{"be/n-001": true}); err != nil {
		t.Fatal(err)
	}
	if got, want := s.up["be"], (UpCount{Up: 1, Eligible: 1}); got != want {
		t.Errorf("up with n-001 waiting for admission = %+v, want %+v", got, want)
	}
}

func TestGateReadingAcrossReload(t *testing.T) {
	at := func(s int) time.Time { return time.Unix(1000+int64(s), 0) }
	mk := func(s int, errs, total int64, up int) *gateSample {
		return &gateSample{at: at(s), up: map[string]UpCount{"be": {up, 4}}, fe5xx: map[string]Count{"web": {errs, total}}, beConn: map[string]Count{},
			probes: map[Probe]bool{{signalFrontend, "fe"}: up > 0}}
	}
	samples := []*gateSample{mk(0, 0, 100, 4), mk(2, 1, 200, 4), mk(4, 1, 300, 4) /* apply at 5: a reload resets the counters */, mk(6, 5, 40, 4), mk(8, 30, 90, 0), mk(10, 60, 150, 0)}
	before := beforeReading(samples, at(5))
	if got, want := before.HTTP5xx["web"], (Count{Errors: 1, Total: 200}); got != want {
		t.Errorf("before 5xx = %+v, want %+v", got, want)
	}
	after := afterReading(samples, at(5))
	if got, want := after.HTTP5xx["web"], (Count{Errors: 55, Total: 110}); got != want {
		t.Errorf("after 5xx = %+v, want %+v", got, want)
	}
	if got := after.ProbeFailures[Probe{signalFrontend, "fe"}]; got != 2 {
		t.Errorf("probe failures in a row = %d, want 2", got)
	}
	if got := after.Up["be"]; got.Up != 0 {
		t.Errorf("after up = %+v, want the last sample's", got)
	}
	samples = append(samples[:3], mk(6, 0, 50, 4)) // a counter reset within the window
	if got, want := afterReading(append(samples, mk(8, 2, 20, 4)), at(5)).HTTP5xx["web"], (Count{Errors: 2, Total: 20}); got != want {
		t.Errorf("after a reset: %+v, want %+v", got, want)
	}
}
