package desired

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// handMatchers are the matchers written by hand for speed; each must accept
// exactly what its pattern (which the JSON Schemas copy) accepts.
var handMatchers = []struct {
	name    string
	pattern string
	match   func(string) bool
	maxLen  int // an extra length limit the pattern does not express; 0: none
}{
	{"ValidName", PatternName, ValidName, 0},
	{"ValidHostname", PatternHostname, ValidHostname, 253},
	{"ValidPubKey", PatternPubKey, ValidPubKey, 0},
	{"ValidProviderID", PatternProviderID, ValidProviderID, 0},
	{"ValidClusterID", PatternClusterID, ValidClusterID, 0},
}

// grammarSamples are strings near the edges of the patterns.
var grammarSamples = []string{
	"", "a", "A", "0", "-", ".", "_", "a-", "-a", "a.", ".a", "a..b", "a.b", "a_b", "A_b.c-d",
	"eu-node-1", "eu node", "eu#1", "eu\"1", "eu\n1", "eu\t", "é", "ddc.example", "DDC.example",
	"a-.b", "a.-b", "1.2.3.4", "xn--bcher-kva.example",
	strings.Repeat("a", 63), strings.Repeat("a", 64), strings.Repeat("a", 65),
	strings.Repeat("a", 63) + "." + strings.Repeat("b", 63), strings.Repeat("a", 64) + ".b",
	strings.Repeat(strings.Repeat("a", 63)+".", 3) + strings.Repeat("a", 61),
	strings.Repeat(strings.Repeat("a", 63)+".", 3) + strings.Repeat("a", 62),
	"0x" + strings.Repeat("ab", 32), "0x" + strings.Repeat("AB", 32), "0X" + strings.Repeat("ab", 32),
	"0x" + strings.Repeat("ab", 31), "0x" + strings.Repeat("ab", 33), "0x" + strings.Repeat("ab", 20),
	"0x" + strings.Repeat("g", 40), strings.Repeat("ab", 32), "0x" + strings.Repeat("ab", 32) + "\n",
}

func TestHandMatchersAgreeWithPatterns(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "ab09AZ-._x \n\"#%$\\/é"
	samples := append([]string(nil), grammarSamples...)
	for range 20000 {
		n := rng.IntN(12)
		var b strings.Builder
		if rng.IntN(4) == 0 {
			b.WriteString("0x")
		}
		for range n {
			b.WriteByte(alphabet[rng.IntN(len(alphabet))])
		}
		samples = append(samples, b.String())
	}
	for _, m := range handMatchers {
		re := regexp.MustCompile(m.pattern)
		for _, s := range samples {
			want := re.MatchString(s) && (m.maxLen == 0 || len(s) <= m.maxLen)
			if got := m.match(s); got != want {
				t.Errorf("%s(%q) = %v, but pattern %s says %v", m.name, s, got, m.pattern, want)
			}
		}
	}
}

func FuzzHandMatchers(f *testing.F) {
	for _, s := range grammarSamples {
		f.Add(s)
	}
	res := make([]*regexp.Regexp, len(handMatchers))
	for i, m := range handMatchers {
		res[i] = regexp.MustCompile(m.pattern)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for i, m := range handMatchers {
			want := res[i].MatchString(s) && (m.maxLen == 0 || len(s) <= m.maxLen)
			if got := m.match(s); got != want {
				t.Errorf("%s(%q) = %v, pattern says %v", m.name, s, got, want)
			}
		}
	})
}

// TestPatternsRefuseConfigSyntax checks that no pattern accepts a character
// that could end a directive, start a comment or expand something in
// haproxy.cfg or keepalived.conf.
func TestPatternsRefuseConfigSyntax(t *testing.T) {
	patterns := map[string]string{
		"PatternName": PatternName, "PatternInterface": PatternInterface, "PatternHostname": PatternHostname,
		"PatternURLPath": PatternURLPath, "PatternHeaderName": PatternHeaderName, "PatternHeaderValue": PatternHeaderValue,
		"PatternCertFile": PatternCertFile, "PatternAbsPath": PatternAbsPath, "PatternLogTarget": PatternLogTarget, "PatternRelOrAbsPath": PatternRelOrAbsPath,
		"PatternPubKey": PatternPubKey, "PatternProviderID": PatternProviderID, "PatternClusterID": PatternClusterID,
		"PatternUser": PatternUser, "PatternProcess": PatternProcess,
	}
	bad := []string{"\n", "\r", "\t", "\x00", "\"", "#", "\\", "$", "%", "{", "}"}
	// Only a header value is rendered inside double quotes, where a space
	// and braces are plain characters.
	quoted := map[string]bool{"PatternHeaderValue": true}
	for name, p := range patterns {
		re := regexp.MustCompile(p)
		for _, c := range bad {
			if quoted[name] && (c == "{" || c == "}") {
				continue
			}
			for _, s := range []string{"a" + c, "/a" + c + "b", c + "a", "0x" + c} {
				if re.MatchString(s) {
					t.Errorf("%s accepts %q", name, s)
				}
			}
		}
		if !quoted[name] && re.MatchString("/a b") {
			t.Errorf("%s accepts a space", name)
		}
	}
}

func TestPathPatternsRefuseDotSegments(t *testing.T) {
	tests := []struct {
		s                   string
		cert, abs, relOrAbs bool
	}{
		{"certs", true, false, true},
		{"/etc/haproxy/certs", true, true, true},
		{"ddc-example.pem", true, false, true},
		{"a/b.pem", true, false, true},
		{"../certs", false, false, false},
		{"/etc/haproxy/../shadow", false, false, false},
		{"./certs", false, false, false},
		{"/run/.hidden", false, false, false},
		{"/", false, false, false},
		{"a//b", false, false, false},
		{"/etc/haproxy/", false, false, false},
	}
	for _, tt := range tests {
		if got := ValidCertFile(tt.s); got != tt.cert {
			t.Errorf("ValidCertFile(%q) = %v, want %v", tt.s, got, tt.cert)
		}
		if got := ValidAbsPath(tt.s); got != tt.abs {
			t.Errorf("ValidAbsPath(%q) = %v, want %v", tt.s, got, tt.abs)
		}
		if got := ValidRelOrAbsPath(tt.s); got != tt.relOrAbs {
			t.Errorf("ValidRelOrAbsPath(%q) = %v, want %v", tt.s, got, tt.relOrAbs)
		}
	}
}

func TestValidHostAndIP(t *testing.T) {
	tests := []struct {
		s        string
		ip, host bool
	}{
		{"198.18.1.21", true, true},
		{"198.18.1.300", false, false},
		{"1.2.3.4:99999", false, false},
		{"2001:db8::1", true, true},
		{"2001:DB8::1", false, false}, // not canonical
		{"fe80::1%eth0", false, false},
		{"::ffff:1.2.3.4", true, true},
		{"node-1.ddc.example", false, true},
		{"Node-1.ddc.example", false, false},
		{"1.2.3", false, false},
		{"localhost", false, true},
		{"evil.example\n  server x 1.2.3.4:80", false, false},
		{"", false, false},
	}
	for _, tt := range tests {
		if got := ValidIP(tt.s); got != tt.ip {
			t.Errorf("ValidIP(%q) = %v, want %v", tt.s, got, tt.ip)
		}
		if got := ValidHost(tt.s); got != tt.host {
			t.Errorf("ValidHost(%q) = %v, want %v", tt.s, got, tt.host)
		}
	}
}

func TestBalanceAlgorithms(t *testing.T) {
	a := BalanceAlgorithms()
	a[0] = "changed"
	if b := BalanceAlgorithms(); b[0] != "roundrobin" {
		t.Fatalf("BalanceAlgorithms shares its slice: got %q after a caller changed its copy", b[0])
	}
	for _, alg := range []string{"roundrobin", "leastconn", "first", "random"} {
		if !DynamicBalance(alg) {
			t.Errorf("DynamicBalance(%q) = false", alg)
		}
		if !contains(BalanceAlgorithms(), alg) {
			t.Errorf("dynamic algorithm %q is not in BalanceAlgorithms", alg)
		}
	}
	for _, alg := range []string{"static-rr", "source", "uri"} {
		if DynamicBalance(alg) {
			t.Errorf("DynamicBalance(%q) = true", alg)
		}
	}
}
