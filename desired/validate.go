package desired

import (
	"fmt"
	"net/netip"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Validate checks a decoded, defaulted fleet and returns every problem found,
// each located at the offending field. It never stops at the first problem.
// It runs in time linear in the number of nodes.
func Validate(f *Fleet) Errors {
	return validate(f, broken{})
}

// validate is Validate for a fleet some of whose files failed to decode (and
// were left out by Decode): references to the objects of those files are not
// reported again as dangling, and a fleet.yaml that failed to decode is not
// validated field by field.
func validate(f *Fleet, b broken) Errors {
	errs, _ := validateNodes(f, b, nil, f.Nodes)
	return errs
}

// nodeIndex holds the node indexes of a validation run, for a Cache to
// validate the next revision's changed nodes against (incremental.go).
type nodeIndex struct {
	nodes     map[string]*Node // every node by name
	pubKeys   map[string]*Node
	endpoints map[endpoint]*Node
}

// validateNodes is validate checking the nodes in check one by one. idx,
// when not nil, indexes f's nodes: every one by name, and the pubKeys and
// endpoints of the nodes not in check (validated before); the check of
// the others adds theirs. It returns the indexes it ran with.
func validateNodes(f *Fleet, b broken, idx *nodeIndex, check []*Node) (Errors, *nodeIndex) {
	v := newValidator(f, b, idx)
	v.fleet()
	v.healthGate()
	for _, z := range f.Zones {
		v.zone(z)
	}
	v.clientNetworks()
	v.rollout()
	v.dns()
	for _, be := range f.Backends {
		v.backend(be)
	}
	v.backendServerNames()
	for _, n := range check {
		v.node(n)
	}
	v.containers()
	v.overrides()
	v.freeze()
	v.errs.Sort()
	return v.errs, &nodeIndex{nodes: v.nodes, pubKeys: v.pubKeys, endpoints: v.endpoints}
}

// broken names the objects whose files failed to decode and were left out
// of the fleet: a zone by its directory, a backend by its file name.
type broken struct {
	fleet    bool
	zones    map[string]bool
	backends map[string]bool
}

// validator collects the errors of one validation run, with the fleet-wide
// indexes the cross-object checks need. Each index keeps the first object of
// a name; later ones are reported as duplicates.
type validator struct {
	f      *Fleet
	broken broken
	errs   Errors

	zones    map[string]*Zone
	backends map[string]*Backend
	nodes    map[string]*Node
	// vipZone is the zone of each VIP name.
	vipZone map[string]*Zone

	// Filled while zones are checked.
	hostNames map[string]ref
	vipNames  map[string]ref
	addrs     map[netip.Addr]ref
	routerIDs map[vrid]ref

	// Filled while nodes are checked.
	pubKeys   map[string]*Node
	endpoints map[endpoint]*Node

	zoneList, backendList string // for "unknown zone" messages, built on demand

	// containerZones are the zones that declare containers, by name.
	containerZones map[string]*containerZone
}

// ref locates a named object for messages about duplicates and clashes.
type ref struct {
	what, name  string // "host", "vip", ...
	zone        string
	file, field string
}

type vrid struct {
	network string
	id      int
}

type endpoint struct {
	zone, host string
	port       int
}

func newValidator(f *Fleet, b broken, idx *nodeIndex) *validator {
	v := &validator{
		f:         f,
		broken:    b,
		zones:     make(map[string]*Zone, len(f.Zones)),
		backends:  make(map[string]*Backend, len(f.Backends)),
		vipZone:   map[string]*Zone{},
		hostNames: map[string]ref{},
		vipNames:  map[string]ref{},
		addrs:     map[netip.Addr]ref{},
		routerIDs: map[vrid]ref{},
	}
	if idx != nil {
		v.nodes, v.pubKeys, v.endpoints = idx.nodes, idx.pubKeys, idx.endpoints
	} else {
		v.nodes = make(map[string]*Node, len(f.Nodes))
		v.pubKeys = make(map[string]*Node, len(f.Nodes))
		v.endpoints = make(map[endpoint]*Node, len(f.Nodes))
	}
	for _, z := range f.Zones {
		if first, dup := v.zones[z.Name]; !dup || (!zonePlaced(first) && zonePlaced(z)) {
			v.zones[z.Name] = z
		}
		for _, vip := range z.VIPs {
			if _, dup := v.vipZone[vip.Name]; !dup {
				v.vipZone[vip.Name] = z
			}
		}
	}
	for _, be := range f.Backends {
		if first, dup := v.backends[be.Name]; !dup || (!filePlaced(first.File, first.Name) && filePlaced(be.File, be.Name)) {
			v.backends[be.Name] = be
		}
	}
	if idx == nil {
		for _, n := range f.Nodes {
			if first, dup := v.nodes[n.Name]; !dup || (!filePlaced(first.File, first.Name) && filePlaced(n.File, n.Name)) {
				v.nodes[n.Name] = n
			}
		}
	}
	return v
}

// zonePlaced reports whether a zone is in zones/<its name>/zone.yaml, and
// filePlaced whether a backend or node is in <dir>/<its name>.yaml. Among
// objects sharing a name, the one in its proper place is the original and
// the others are reported as duplicates.
func zonePlaced(z *Zone) bool {
	return z.File == ZonesDir+"/"+z.Name+"/"+ZoneFile
}

func filePlaced(file, name string) bool {
	return path.Base(file) == name+".yaml"
}

// errorf records one error at field of file.
func (v *validator) errorf(file, field, format string, args ...any) {
	p := v.f.Source.Pos(file, field)
	v.errs = append(v.errs, Error{File: file, Line: p.Line, Col: p.Col, Field: field, Msg: fmt.Sprintf(format, args...)})
}

// at is "file:line:col" of field in file, for messages that point elsewhere.
func (v *validator) at(file, field string) string {
	p := v.f.Source.Pos(file, field)
	if p.Line == 0 {
		return file
	}
	return file + ":" + strconv.Itoa(p.Line) + ":" + strconv.Itoa(p.Col)
}

func (v *validator) where(r ref) string { return v.at(r.file, r.field) }

// rule is the grammar of one kind of string field and how to explain it.
// msg is a format with %[1]s the field's key and %[2]q the value.
type rule struct {
	match func(string) bool
	msg   string
}

var (
	ruleName = rule{ValidName,
		"%[1]s %[2]q is invalid: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"}
	ruleInterface = rule{ValidInterface,
		"%[1]s %[2]q is not a valid interface name: 1 to 15 letters, digits, '.', '_', '@' or '-', starting with a letter or digit"}
	ruleHostname = rule{ValidHostname,
		"%[1]s %[2]q is not a valid DNS name: lowercase letters, digits, '-' and '.', labels of 1 to 63 characters, at most 253 in all"}
	ruleHost = rule{ValidHost,
		"%[1]s %[2]q is neither an IP address nor a lowercase DNS name"}
	ruleIP = rule{ValidIP,
		"%[1]s %[2]q is not an IP address (write it in canonical form, without port or zone)"}
	ruleURLPath = rule{ValidURLPath,
		"%[1]s %[2]q is invalid: an absolute path (starting with '/') of at most 256 letters, digits and ._~!*+,;=:@/-"}
	ruleHeaderName = rule{ValidHeaderName,
		"%[1]s %[2]q is not a valid header name: 1 to 64 letters, digits and '-', starting with a letter or digit"}
	ruleHeaderValue = rule{ValidHeaderValue,
		"%[1]s %[2]q is not allowed: at most 256 printable characters without '\"', '\\', '%%', '$', '#' or control characters"}
	ruleCertFile = rule{ValidCertFile,
		"%[1]s %[2]q is invalid: a file path relative to crtBase or absolute, of letters, digits, '_', '.' and '-', each segment starting with a letter, digit or '_' (no '..')"}
	ruleAbsPath = rule{ValidAbsPath,
		"%[1]s %[2]q is invalid: an absolute path of letters, digits, '_', '.' and '-', each segment starting with a letter, digit or '_' (no '..')"}
	ruleLogTarget = rule{ValidLogTarget,
		"%[1]s %[2]q is invalid: none, stdout, stderr or the absolute path of a syslog socket (letters, digits, '_', '.' and '-', no '..')"}
	ruleRelOrAbsPath = rule{ValidRelOrAbsPath,
		"%[1]s %[2]q is invalid: a directory path of letters, digits, '_', '.' and '-', each segment starting with a letter, digit or '_' (no '..')"}
	rulePubKey = rule{ValidPubKey,
		"%[1]s must be 0x followed by 64 lowercase hex digits, got %[2]q"}
	ruleProviderID = rule{ValidProviderID,
		"%[1]s must be 0x followed by 64 lowercase hex digits, got %[2]q"}
	ruleClusterID = rule{ValidClusterID,
		"%[1]s must be 0x followed by 40 lowercase hex digits, got %[2]q"}
	ruleUser = rule{ValidUser,
		"%[1]s %[2]q is not a valid Unix user name: up to 32 lowercase letters, digits, '_' or '-', starting with a letter or '_'"}
	ruleProcess = rule{ValidProcess,
		"%[1]s %[2]q is not a valid process name: 1 to 15 letters, digits, '.', '_' or '-'"}
)

// key is the last key of a field path, for messages ("binds[0].port" -> "port").
// A list element is named in the singular ("modes[1]" -> "mode").
func key(field string) string {
	k := lastSegment(field)
	if i := strings.IndexByte(k, '['); i >= 0 {
		k = strings.TrimSuffix(k[:i], "s")
	}
	return k
}

// str checks a required string field against r.
func (v *validator) str(file, field, value string, r rule) bool {
	if value == "" {
		v.errorf(file, field, "%s is required", key(field))
		return false
	}
	return v.optStr(file, field, value, r)
}

// optStr checks an optional string field against r; empty is fine.
func (v *validator) optStr(file, field, value string, r rule) bool {
	if value == "" || r.match(value) {
		return true
	}
	v.errorf(file, field, r.msg, key(field), value)
	return false
}

// oneOf checks a required enumerated string field.
func (v *validator) oneOf(file, field, value string, allowed ...string) bool {
	for _, a := range allowed {
		if value == a {
			return true
		}
	}
	if value == "" {
		v.errorf(file, field, "%s is required: one of %s", key(field), strings.Join(allowed, ", "))
	} else {
		v.errorf(file, field, "%s %q is not one of %s", key(field), value, strings.Join(allowed, ", "))
	}
	return false
}

// port checks a required port number.
func (v *validator) port(file, field string, p int) bool {
	if ValidPort(p) {
		return true
	}
	if p == 0 && !v.f.Source.has(file, field) {
		v.errorf(file, field, "%s is required (1 to 65535)", key(field))
	} else {
		v.errorf(file, field, "%s %d is out of range 1..65535", key(field), p)
	}
	return false
}

// intRange checks lo <= n <= hi.
func (v *validator) intRange(file, field string, n, lo, hi int) bool {
	if n >= lo && n <= hi {
		return true
	}
	if n == 0 && !v.f.Source.has(file, field) {
		v.errorf(file, field, "%s is required (%d..%d)", key(field), lo, hi)
	} else {
		v.errorf(file, field, "%s %d is out of range %d..%d", key(field), n, lo, hi)
	}
	return false
}

// maxHAProxyTime is the largest time HAProxy accepts (2^31-1 ms, about 24.8 days).
const maxHAProxyTime = Duration(2147483647 * 1e6)

// dur checks a duration rendered as an HAProxy time: whole milliseconds, at
// most maxHAProxyTime.
func (v *validator) dur(file, field string, d Duration) bool {
	switch {
	case d%Duration(1e6) != 0:
		v.errorf(file, field, "%s %s is not a whole number of milliseconds (HAProxy times have millisecond precision)", key(field), d.D())
	case d > maxHAProxyTime:
		v.errorf(file, field, "%s %s is longer than HAProxy's maximum of 24d20h31m23.647s", key(field), d.D())
	default:
		return true
	}
	return false
}

// kind checks the kind field of a programmatically built object (Decode has
// already checked it for loaded files).
func (v *validator) kind(file, got, want string) {
	if got != want {
		v.errorf(file, "kind", "kind must be %q here, got %q", want, got)
	}
}

// placement checks that an object's name matches its file's place in the
// tree; layout is where an object of that kind lives ("nodes/<name>.yaml").
func (v *validator) placement(file, what, name, want, layout string) {
	if file != "" && name != "" && name != want {
		v.errorf(file, "name", "name %q does not match the file name: %s must hold the %s named %q", name, strings.Replace(layout, "<name>", want, 1), what, want)
	}
}

// zoneRef resolves a reference to a zone; it reports an unknown zone unless
// that zone's file failed to decode (already reported there).
func (v *validator) zoneRef(file, field, name string) *Zone {
	if z := v.zones[name]; z != nil {
		return z
	}
	if !v.broken.zones[name] {
		if v.zoneList == "" {
			v.zoneList = listNames(v.f.Zones, func(z *Zone) string { return z.Name })
		}
		v.errorf(file, field, "unknown zone %q (zones: %s)", name, v.zoneList)
	}
	return nil
}

// backendRef resolves a reference to a backend like zoneRef.
func (v *validator) backendRef(file, field, name string) *Backend {
	if b := v.backends[name]; b != nil {
		return b
	}
	if !v.broken.backends[name] {
		if v.backendList == "" {
			v.backendList = listNames(v.f.Backends, func(b *Backend) string { return b.Name })
		}
		v.errorf(file, field, "unknown backend %q (backends: %s)", name, v.backendList)
	}
	return nil
}

func listNames[T any](items []T, name func(T) string) string {
	names := make([]string, 0, len(items))
	for _, it := range items {
		names = append(names, name(it))
	}
	sort.Strings(names)
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// idx is a list element's field path: idx("vips", 2) = "vips[2]".
func idx(list string, i int) string { return list + "[" + strconv.Itoa(i) + "]" }
