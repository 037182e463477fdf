package render

import (
	"strings"
	"testing"
)

// TestLogTarget: haproxy.logTarget picks the global log line (none renders
// none), and haproxy accepts each form.
func TestLogTarget(t *testing.T) {
	certDir := exampleCertDir(t) // the parent's temp dir: subtest names hold '#'
	for _, tc := range []struct{ target, line string }{
		{"", "    log /dev/log local0\n"}, // unset: the default
		{"/dev/log", "    log /dev/log local0\n"},
		{"/run/rsyslog/haproxy.sock", "    log /run/rsyslog/haproxy.sock local0\n"},
		{"stderr", "    log stderr format raw local0\n"},
		{"stdout", "    log stdout format raw local0\n"},
		{"none", ""},
	} {
		t.Run(tc.target, func(t *testing.T) {
			f := loadExample(t)
			f.HAProxy.LogTarget = tc.target
			h, err := Render(f, "eu-haproxy-1", Options{FleetDir: exampleDir(t), CrtBase: certDir})
			if err != nil {
				t.Fatal(err)
			}
			global, _, _ := strings.Cut(string(h.HAProxy), "\ndefaults")
			var logs []string
			for _, l := range strings.SplitAfter(global, "\n") {
				if strings.HasPrefix(l, "    log ") {
					logs = append(logs, l)
				}
			}
			if want := tc.line; (want == "" && len(logs) != 0) || (want != "" && (len(logs) != 1 || logs[0] != want)) {
				t.Fatalf("global log lines %q, want %q", logs, want)
			}
			needHAProxy(t)
			if err := haproxyCheck(t, h.HAProxy); err != nil {
				t.Error(err)
			}
		})
	}
}
