package desired

import (
	"regexp"
	"strings"
	"testing"
)

// TestDNSGrammar checks the DNS matchers against their patterns and that
// nothing able to end a Lua string or a zone-file field passes any of them.
func TestDNSGrammar(t *testing.T) {
	for _, tc := range []struct {
		name    string
		pattern string
		match   func(string) bool
		good    []string
		bad     []string
	}{
		{"zone", PatternDNSZone, ValidDNSZone,
			[]string{"ddc.example.", "example.", "a-1.b2.example."},
			[]string{"", ".", "ddc.example", "DDC.example.", "ddc..example.", "-a.example.", "a .example.", "a\".example.", "a;b.example."}},
		{"label", PatternDNSLabel, ValidDNSLabel,
			[]string{"ns1", "a", "dns-1", strings.Repeat("a", 63)},
			[]string{"", "NS1", "ns1.", "a.b", "-a", "a-", "a_b", strings.Repeat("a", 64), "ns'1"}},
		{"record", PatternDNSRecordName, ValidDNSRecordName,
			[]string{"www", "api.eu", "a-1"},
			[]string{"", "@", "*", "www.", ".www", "WWW", "w w", "w'w", "w\"w", "w\\w", "w)w"}},
		{"checkPath", PatternDNSCheckPath, ValidDNSCheckPath,
			[]string{"/", "/health", "/a/b-c_d.e~f"},
			[]string{"", "health", "/a b", "/a'b", "/a\"b", "/a\\b", "/a]]b", "/a(b", "/a;b", "/a?b", "/" + strings.Repeat("a", 128)}},
	} {
		re := regexp.MustCompile(tc.pattern)
		for _, s := range tc.good {
			if !tc.match(s) || !re.MatchString(s) {
				t.Errorf("%s: %q rejected, want accepted", tc.name, s)
			}
		}
		for _, s := range tc.bad {
			if tc.match(s) {
				t.Errorf("%s: %q accepted, want rejected", tc.name, s)
			}
		}
	}
}
