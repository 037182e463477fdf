package desired

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"
)

// TestLogTargetGrammar: haproxy.logTarget takes none, stdout, stderr or a
// socket path; anything else (an address, a second word, a directive) is
// refused naming the file, line and field.
func TestLogTargetGrammar(t *testing.T) {
	base := exampleMapFS(t)
	fleet := string(base[FleetFile].Data)
	for _, tc := range []struct {
		target string
		ok     bool
	}{
		{"none", true}, {"stderr", true}, {"stdout", true}, {"/dev/log", true}, {"/run/log/haproxy_1.sock", true},
		{"udp@198.18.0.1:514", false}, {"/dev/log local7", false}, {"'/dev/log\\n\\tstats socket /tmp/x'", false},
		{"/dev/../etc/x", false}, {"dev/log", false}, {"NONE", false}, {"'#'", false},
	} {
		m := fstest.MapFS{}
		for k, v := range base {
			m[k] = v
		}
		y := strings.Replace(fleet, "haproxy:\n", "haproxy:\n  logTarget: "+tc.target+"\n", 1)
		m[FleetFile] = &fstest.MapFile{Data: []byte(y)}
		f, err := Load(m)
		if tc.ok {
			if err != nil {
				t.Errorf("%s: %v", tc.target, err)
			} else if f.HAProxy.LogTarget != tc.target {
				t.Errorf("%s: decoded %q", tc.target, f.HAProxy.LogTarget)
			}
			continue
		}
		var errs Errors
		if !errors.As(err, &errs) || len(errs) != 1 || errs[0].File != FleetFile || errs[0].Field != "haproxy.logTarget" || errs[0].Line == 0 {
			t.Errorf("%s: want one error on %s haproxy.logTarget with a position, got %v", tc.target, FleetFile, err)
		}
	}
	f, err := Load(base)
	if err != nil || f.HAProxy.LogTarget != DefaultLogTarget {
		t.Errorf("default: %q, %v", f.HAProxy.LogTarget, err)
	}
}
