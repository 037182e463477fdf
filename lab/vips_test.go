package lab

import (
	"strings"
	"testing"

	"github.com/ddc-gitops/ddc-gitops/desired"
)

// TestVIPsSettled: the lab is ready only when each VIP is on exactly one
// host, its owner's when the fleet preempts (a VIP that moves after the
// lab said it was ready breaks the connections a test has open).
func TestVIPsSettled(t *testing.T) {
	z := &desired.Zone{
		Name:  "eu",
		VIPs:  []*desired.VIP{{Name: "vip-1"}, {Name: "vip-2"}, {Name: "vip-3"}},
		Hosts: []*desired.Host{{Name: "a", Owns: []string{"vip-1"}}, {Name: "b", Owns: []string{"vip-2"}}},
	}
	tests := []struct {
		name    string
		holders map[string][]string
		preempt bool
		want    string // "" for settled
	}{
		{"owners hold theirs, the unowned one on either", map[string][]string{"vip-1": {"a"}, "vip-2": {"b"}, "vip-3": {"b"}}, true, ""},
		{"the first host took every VIP", map[string][]string{"vip-1": {"a"}, "vip-2": {"a"}, "vip-3": {"a"}}, true, "vip-2 is on a, not yet on its owner b"},
		{"without preempt the first holder stays", map[string][]string{"vip-1": {"a"}, "vip-2": {"a"}, "vip-3": {"a"}}, false, ""},
		{"nobody holds one", map[string][]string{"vip-1": {"a"}, "vip-2": {"b"}}, true, "vip-3 is on no host"},
		{"two hold one", map[string][]string{"vip-1": {"b", "a"}, "vip-2": {"b"}, "vip-3": {"a"}}, false, "vip-1 is on a and b"},
		{"every problem", map[string][]string{"vip-1": {"b"}}, true, "vip-1 is on b, not yet on its owner a; vip-2 is on no host; vip-3 is on no host"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := vipsSettled(z, tc.holders, tc.preempt)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("not settled: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
		})
	}
}
