package netns

import (
	"net/netip"
	"testing"
)

func TestCheckPrefix(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"198.18.0.1/24", true},
		{"198.19.255.254/16", true},
		{"198.18.0.0/15", true},
		{"198.18.0.1/14", false}, // wider than the range
		{"198.20.0.1/24", false},
		{"10.0.0.1/8", false},
		{"192.168.1.1/24", false},
		{"127.0.0.1/8", false},
		{"2001:db8::1/64", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			err := CheckPrefix(netip.MustParsePrefix(tt.in))
			if (err == nil) != tt.ok {
				t.Fatalf("CheckPrefix(%s) = %v, want ok=%v", tt.in, err, tt.ok)
			}
			err = CheckAddr(netip.MustParsePrefix(tt.in).Addr())
			if tt.ok && err != nil {
				t.Fatalf("CheckAddr(%s) = %v, want nil", tt.in, err)
			}
		})
	}
	if CheckPrefix(netip.Prefix{}) == nil || CheckAddr(netip.Addr{}) == nil {
		t.Fatal("zero prefix or address accepted")
	}
}

func TestIfNames(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"eth0", true},
		{"br-eu", true},
		{"p12-eu-haproxy1", true},
		{"sixteen-chars-xx", false},
		{"", false},
		{"-lead", false},
		{"a b", false},
		{"a/b", false},
	}
	for _, tt := range tests {
		if err := checkIfName(tt.in); (err == nil) != tt.ok {
			t.Errorf("checkIfName(%q) = %v, want ok=%v", tt.in, err, tt.ok)
		}
	}
}
