package desired

import (
	"regexp"
	"strings"
)

// The grammar of every string that reaches a PowerDNS zone file, including
// the Lua bodies of its LUA records (render/pdns.go). None admits a quote,
// a backslash, whitespace or a Lua operator, so no value can end a string
// literal of the rendered Lua or a field of the zone file. The JSON Schemas
// use the same patterns.
const (
	// PatternDNSZone: a fully qualified lowercase DNS zone with its trailing dot.
	PatternDNSZone = `^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+$`
	// PatternDNSLabel: one lowercase DNS label (a nameserver's name).
	PatternDNSLabel = `^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$`
	// PatternDNSRecordName: a lowercase name relative to the zone (www, api.eu).
	PatternDNSRecordName = PatternHostname
	// PatternDNSCheckPath: the URL path of a record's health check.
	PatternDNSCheckPath = `^/[A-Za-z0-9._~/-]{0,127}$`
)

var (
	reDNSZone      = regexp.MustCompile(PatternDNSZone)
	reDNSLabel     = regexp.MustCompile(PatternDNSLabel)
	reDNSCheckPath = regexp.MustCompile(PatternDNSCheckPath)
)

// ValidDNSZone reports whether s matches PatternDNSZone and is at most 254
// characters long (253 without the final dot).
func ValidDNSZone(s string) bool { return len(s) <= 254 && reDNSZone.MatchString(s) }

// ValidDNSLabel reports whether s matches PatternDNSLabel.
func ValidDNSLabel(s string) bool { return reDNSLabel.MatchString(s) }

// ValidDNSRecordName reports whether s matches PatternDNSRecordName.
func ValidDNSRecordName(s string) bool { return ValidHostname(s) }

// ValidDNSCheckPath reports whether s matches PatternDNSCheckPath.
func ValidDNSCheckPath(s string) bool { return reDNSCheckPath.MatchString(s) }

// FQDN is name in zone, with the trailing dot: FQDN("www", "ddc.example.") = "www.ddc.example.".
func FQDN(name, zone string) string { return name + "." + zone }

// fqdnFits reports whether name in zone is at most 253 characters without the final dot.
func fqdnFits(name, zone string) bool { return len(strings.TrimSuffix(FQDN(name, zone), ".")) <= 253 }

var (
	ruleDNSZone = rule{ValidDNSZone,
		"%[1]s %[2]q is not a fully qualified DNS zone: lowercase labels of letters, digits and '-', each followed by a dot (ddc.example.)"}
	ruleDNSLabel = rule{ValidDNSLabel,
		"%[1]s %[2]q is not a DNS label: 1 to 63 lowercase letters, digits and '-', not starting or ending with '-'"}
	ruleDNSRecordName = rule{ValidDNSRecordName,
		"%[1]s %[2]q is not a relative DNS name: lowercase labels of letters, digits and '-' separated by dots, no trailing dot"}
	ruleDNSCheckPath = rule{ValidDNSCheckPath,
		"%[1]s %[2]q is invalid: an absolute URL path of at most 128 letters, digits and ._~/-"}
)
