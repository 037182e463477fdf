package desired

import (
	"net/netip"
	"regexp"
	"strings"
)

// The grammar of every string that reaches haproxy.cfg or keepalived.conf.
// Each pattern excludes whitespace, quotes, '#', '\', '$', '%' and control
// characters, so no value can end a directive early, start a comment or
// expand a variable. The JSON Schemas in schemas/ use the same patterns
// (schemas' tests check that they agree).
const (
	// PatternName: zone, host, VIP, frontend, backend, server and node names.
	PatternName = `^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`
	// PatternInterface: a Linux interface name (IFNAMSIZ-1 characters).
	PatternInterface = `^[A-Za-z0-9][A-Za-z0-9_.@-]{0,14}$`
	// PatternHostname: an RFC 1123 DNS name, lowercase, labels of 1-63 characters.
	PatternHostname = `^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$`
	// PatternURLPath: an absolute URL path of unreserved and a few safe characters.
	PatternURLPath = `^/[A-Za-z0-9._~!*+,;=:@/-]{0,255}$`
	// PatternHeaderName: an HTTP header field name (RFC 9110 token, restricted).
	PatternHeaderName = `^[A-Za-z0-9][A-Za-z0-9-]{0,63}$`
	// PatternHeaderValue: a header value rendered inside double quotes; no
	// quote, backslash, '%' (log-format), '$', '#' or control characters.
	PatternHeaderValue = `^[A-Za-z0-9 ._~!*+,;=:@/()\[\]{}<>?&|^'-]{0,256}$`
	// PatternCertFile: a certificate path relative to crtBase or absolute;
	// segments as in PatternAbsPath (no "." or ".." segment).
	PatternCertFile = `^/?[A-Za-z0-9_][A-Za-z0-9_.-]*(?:/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$`
	// PatternAbsPath: an absolute file path (sockets). Every segment starts
	// with a letter, digit or '_', so "." and ".." segments cannot occur.
	PatternAbsPath = `^/[A-Za-z0-9_][A-Za-z0-9_.-]*(?:/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$`
	// PatternLogTarget: haproxy's log target: none, stdout, stderr or a
	// syslog socket path (segments as in PatternAbsPath).
	PatternLogTarget = `^(?:none|stdout|stderr|/[A-Za-z0-9_][A-Za-z0-9_.-]*(?:/[A-Za-z0-9_][A-Za-z0-9_.-]*)*)$`
	// PatternRelOrAbsPath: crtBase, absolute or relative to the fleet root;
	// segments as in PatternAbsPath.
	PatternRelOrAbsPath = `^/?[A-Za-z0-9_][A-Za-z0-9_.-]*(?:/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$`
	// PatternPubKey: a DDC node public key, 32 bytes as 0x-prefixed lowercase hex.
	PatternPubKey = `^0x[0-9a-f]{64}$`
	// PatternProviderID: a DDC provider account id, 32 bytes as 0x-prefixed lowercase hex.
	PatternProviderID = `^0x[0-9a-f]{64}$`
	// PatternClusterID: a DDC cluster id, 20 bytes as 0x-prefixed lowercase hex.
	PatternClusterID = `^0x[0-9a-f]{40}$`
	// PatternUser: a Unix user name (keepalived script_user).
	PatternUser = `^[a-z_][a-z0-9_-]{0,31}$`
	// PatternProcess: a process name as the kernel records it (15 characters).
	PatternProcess = `^[A-Za-z0-9._-]{1,15}$`
)

// Compiled patterns for the rarer fields. The hot fields of node files
// (names, DNS names, keys) use the hand-written matchers below, which accept
// exactly what their pattern accepts (grammar_test.go checks that).
var (
	reInterface   = regexp.MustCompile(PatternInterface)
	reURLPath     = regexp.MustCompile(PatternURLPath)
	reHeaderName  = regexp.MustCompile(PatternHeaderName)
	reHeaderValue = regexp.MustCompile(PatternHeaderValue)
	reCertFile    = regexp.MustCompile(PatternCertFile)
	reAbsPath     = regexp.MustCompile(PatternAbsPath)
	reRelOrAbs    = regexp.MustCompile(PatternRelOrAbsPath)
	reLogTarget   = regexp.MustCompile(PatternLogTarget)
	reUser        = regexp.MustCompile(PatternUser)
	reProcess     = regexp.MustCompile(PatternProcess)
)

// ValidName reports whether s matches PatternName.
func ValidName(s string) bool {
	if len(s) == 0 || len(s) > 64 || !isAlnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '_' && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

// ValidHostname reports whether s matches PatternHostname and is at most 253
// characters long.
func ValidHostname(s string) bool {
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '.' {
			if c := s[i]; !isLowerAlnum(c) && c != '-' {
				return false
			}
			continue
		}
		label := s[start:i]
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		start = i + 1
	}
	return true
}

// ValidIP reports whether s is an IPv4 or IPv6 address without zone, in its
// canonical form.
func ValidIP(s string) bool {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return false
	}
	var buf [48]byte
	return string(a.AppendTo(buf[:0])) == s
}

// ValidHost reports whether s is an IP address or a DNS name.
func ValidHost(s string) bool {
	return ValidIP(s) || (ValidHostname(s) && !looksNumeric(s) && !endsInNumber(s))
}

// endsInNumber reports whether the last label of a DNS name is a number
// (decimal, or hex such as 0x7f): the C resolver reads such a name as an
// IPv4 literal ("0x7f000001" and "0x7f.1" are 127.0.0.1), so it is neither
// a canonical address nor a name (the WHATWG URL host parser's rule).
func endsInNumber(s string) bool {
	last := s[strings.LastIndexByte(s, '.')+1:]
	if last == "" {
		return false
	}
	if strings.Trim(last, "0123456789") == "" {
		return true
	}
	if h, ok := strings.CutPrefix(last, "0x"); ok {
		return strings.Trim(h, "0123456789abcdef") == ""
	}
	return false
}

// ValidPubKey reports whether s matches PatternPubKey.
func ValidPubKey(s string) bool { return isHex0x(s, 64) }

// ValidProviderID reports whether s matches PatternProviderID.
func ValidProviderID(s string) bool { return isHex0x(s, 64) }

// ValidClusterID reports whether s matches PatternClusterID.
func ValidClusterID(s string) bool { return isHex0x(s, 40) }

// ValidInterface reports whether s matches PatternInterface.
func ValidInterface(s string) bool { return reInterface.MatchString(s) }

// ValidURLPath reports whether s matches PatternURLPath.
func ValidURLPath(s string) bool { return reURLPath.MatchString(s) }

// ValidHeaderName reports whether s matches PatternHeaderName.
func ValidHeaderName(s string) bool { return reHeaderName.MatchString(s) }

// ValidHeaderValue reports whether s matches PatternHeaderValue.
func ValidHeaderValue(s string) bool { return reHeaderValue.MatchString(s) }

// ValidCertFile reports whether s matches PatternCertFile.
func ValidCertFile(s string) bool { return reCertFile.MatchString(s) }

// ValidLogTarget reports whether s matches PatternLogTarget.
func ValidLogTarget(s string) bool { return reLogTarget.MatchString(s) }

// ValidAbsPath reports whether s matches PatternAbsPath.
func ValidAbsPath(s string) bool { return reAbsPath.MatchString(s) }

// ValidRelOrAbsPath reports whether s matches PatternRelOrAbsPath.
func ValidRelOrAbsPath(s string) bool { return reRelOrAbs.MatchString(s) }

// ValidUser reports whether s matches PatternUser.
func ValidUser(s string) bool { return reUser.MatchString(s) }

// ValidProcess reports whether s matches PatternProcess.
func ValidProcess(s string) bool { return reProcess.MatchString(s) }

// ValidPort reports whether p is a TCP port number.
func ValidPort(p int) bool { return p >= 1 && p <= 65535 }

// looksNumeric rejects dotted numbers like 1.2.3.300 that are neither a
// valid IP nor a sensible host name.
func looksNumeric(s string) bool {
	return strings.Trim(s, "0123456789.") == ""
}

func isHex0x(s string, digits int) bool {
	if len(s) != 2+digits || s[0] != '0' || s[1] != 'x' {
		return false
	}
	for i := 2; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

func isLowerAlnum(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') }

// DynamicBalance reports whether HAProxy 2.6 allows runtime `add server` and
// `del server` in a backend with this balance algorithm. static-rr and the
// map-based hashes (source, uri, hdr, url_param, rdp-cookie without
// `hash-type consistent`, which the model does not offer) do not.
func DynamicBalance(balance string) bool {
	switch balance {
	case "roundrobin", "leastconn", "first", "random":
		return true
	}
	return false
}

// BalanceAlgorithms returns the balance algorithms the model accepts, in a
// new slice the caller may keep or change.
func BalanceAlgorithms() []string {
	return []string{"roundrobin", "static-rr", "leastconn", "first", "source", "uri", "random"}
}
