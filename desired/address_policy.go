package desired

import (
	"net/netip"
	"strings"
)

// MaxMaxconn bounds every maxconn (global, frontend, server, server
// defaults). HAProxy 2.6 parses maxconn into a 32-bit int without a range
// check (4294967296 becomes 0, unlimited; 99999999999 becomes 1215752191),
// and a global maxconn beyond the host's file-descriptor limit (about a
// million, fs.nr_open) stops HAProxy from starting although `haproxy -c`
// passes; a million is far above any real per-process figure.
const MaxMaxconn = 1_000_000

// addressAllowed checks a server's or node's address (a canonical IP or a
// DNS name, already checked against the grammar) against the fleet's
// AddressPolicy and reports the reason when it is refused.
func (v *validator) addressAllowed(file, field, address string) bool {
	what := addressClass(address)
	pol := v.f.AddressPolicy
	switch what {
	case "":
		return true
	case classLoopback:
		if pol.AllowLoopback {
			return true
		}
		v.errorf(file, field, "%s %q is a loopback address: HAProxy would connect to the load balancer itself (allow it with addressPolicy.allowLoopback in fleet.yaml)", key(field), address)
	case classLinkLocal:
		if pol.AllowLinkLocal {
			return true
		}
		v.errorf(file, field, "%s %q is a link-local address (169.254.0.0/16, fe80::/10; 169.254.169.254 is the cloud metadata service) (allow it with addressPolicy.allowLinkLocal in fleet.yaml)", key(field), address)
	default:
		v.errorf(file, field, "%s %q is %s address, which can never be a server's", key(field), address, what)
	}
	return false
}

// Address classes addressClass reports.
const (
	classLoopback  = "a loopback"
	classLinkLocal = "a link-local"
)

// addressClass names the special class of address (an IP or a DNS name),
// or "" for an ordinary one.
func addressClass(address string) string {
	a, err := netip.ParseAddr(address)
	if err != nil {
		// A DNS name: only the names that always mean this host are known
		// here (RFC 6761); others are resolved by HAProxy.
		if address == "localhost" || strings.HasSuffix(address, ".localhost") {
			return classLoopback
		}
		return ""
	}
	a = a.Unmap()
	switch {
	case a.IsLoopback():
		return classLoopback
	case a.IsLinkLocalUnicast():
		return classLinkLocal
	case a.IsUnspecified():
		return "the unspecified"
	case a.IsMulticast() || a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast():
		return "a multicast"
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return "the broadcast"
	}
	return ""
}
