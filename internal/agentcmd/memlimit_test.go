package agentcmd

import "testing"

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"1024", 1024, true}, {"12B", 12, true}, {"3KiB", 3 << 10, true},
		{"56MiB", 56 << 20, true}, {"2GiB", 2 << 30, true}, {"1TiB", 1 << 40, true},
		{"", 0, false}, {"-1MiB", 0, false}, {"64MB", 0, false}, {"MiB", 0, false}, {"1.5GiB", 0, false},
		{"9999999999TiB", 0, false}, {defaultMemoryLimit, 48 << 20, true},
	} {
		got, err := parseSize(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}
