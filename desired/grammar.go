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
	// PatternCertFile: a certificate path relative to crtBase or absolute.
	PatternCertFile = `^/?[A-Za-z0-9_][A-Za-z0-9_.-]*(?:/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$`
	// PatternAbsPath: an absolute file path (sockets, crtBase).
	PatternAbsPath = `^/[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*$`
	// PatternRelOrAbsPath: crtBase, absolute or relative to the fleet root.
	PatternRelOrAbsPath = `^/?[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*$`
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

var (
	reName        = regexp.MustCompile(PatternName)
	reInterface   = regexp.MustCompile(PatternInterface)
	reHostname    = regexp.MustCompile(PatternHostname)
	reURLPath     = regexp.MustCompile(PatternURLPath)
	reHeaderName  = regexp.MustCompile(PatternHeaderName)
	reHeaderValue = regexp.MustCompile(PatternHeaderValue)
	reCertFile    = regexp.MustCompile(PatternCertFile)
	reAbsPath     = regexp.MustCompile(PatternAbsPath)
	reRelOrAbs    = regexp.MustCompile(PatternRelOrAbsPath)
	rePubKey      = regexp.MustCompile(PatternPubKey)
	reProviderID  = regexp.MustCompile(PatternProviderID)
	reClusterID   = regexp.MustCompile(PatternClusterID)
	reUser        = regexp.MustCompile(PatternUser)
	reProcess     = regexp.MustCompile(PatternProcess)
)

// ValidName reports whether s is a valid object name.
func ValidName(s string) bool { return reName.MatchString(s) }

// ValidHostname reports whether s is a DNS name (at most 253 characters).
func ValidHostname(s string) bool { return len(s) <= 253 && reHostname.MatchString(s) }

// ValidIP reports whether s is an IPv4 or IPv6 address without zone.
func ValidIP(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a.Zone() == "" && a.String() == s
}

// ValidHost reports whether s is an IP address or a DNS name.
func ValidHost(s string) bool { return ValidIP(s) || (ValidHostname(s) && !looksNumeric(s)) }

// ValidPubKey reports whether s is a 0x-prefixed 32-byte lowercase hex key.
func ValidPubKey(s string) bool { return rePubKey.MatchString(s) }

// ValidPort reports whether p is a TCP port number.
func ValidPort(p int) bool { return p >= 1 && p <= 65535 }

// looksNumeric rejects dotted numbers like 1.2.3.300 that are neither a
// valid IP nor a sensible host name.
func looksNumeric(s string) bool {
	return strings.Trim(s, "0123456789.") == ""
}

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

// Balance algorithms the model accepts.
var BalanceAlgorithms = []string{"roundrobin", "static-rr", "leastconn", "first", "source", "uri", "random"}
