package desired

import (
	"slices"
	"strings"
	"time"
)

// Applies reports whether the override is for a host named host of zone
// zone (an empty scope means every host).
func (o *Override) Applies(zone, host string) bool {
	return (len(o.Zones) == 0 || slices.Contains(o.Zones, zone)) &&
		(len(o.Hosts) == 0 || slices.Contains(o.Hosts, host))
}

// Active reports whether the override is in force at now: it ends at
// UntilTime (exclusive).
func (o *Override) Active(now time.Time) bool { return now.Before(o.UntilTime) }

// ActiveOverrides returns the overrides of f in force at now for a host
// named host of zone zone, sorted by name (f's order).
func (f *Fleet) ActiveOverrides(zone, host string, now time.Time) []*Override {
	var out []*Override
	for _, o := range f.Overrides {
		if o.Active(now) && o.Applies(zone, host) {
			out = append(out, o)
		}
	}
	return out
}

// FreezeAt returns the freeze window in force at now, nil when none is. Of
// overlapping windows it returns the one that ends last.
func (f *Fleet) FreezeAt(now time.Time) *FreezeWindow {
	var best *FreezeWindow
	for i := range f.Freeze {
		w := &f.Freeze[i]
		if !now.Before(w.FromTime) && now.Before(w.UntilTime) && (best == nil || w.UntilTime.After(best.UntilTime)) {
			best = w
		}
	}
	return best
}

// EmergencyTrailer is the git trailer that lets a commit through a freeze
// window when its value is "yes": `Emergency: yes` in the last paragraph
// of the head commit's message.
const EmergencyTrailer = "Emergency"

// IsEmergency reports whether a commit message carries `Emergency: yes`
// (key and value case-insensitive) in its trailer block: the last
// paragraph of a message of at least two paragraphs, each of whose lines
// is a `Key: value` trailer.
func IsEmergency(message string) bool {
	msg := strings.TrimSpace(strings.ReplaceAll(message, "\r\n", "\n"))
	i := strings.LastIndex(msg, "\n\n")
	if i < 0 {
		return false // a subject alone has no trailers
	}
	found := false
	for _, line := range strings.Split(strings.TrimSpace(msg[i+2:]), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return false // not a trailer block
		}
		if strings.EqualFold(k, EmergencyTrailer) && strings.EqualFold(strings.TrimSpace(v), "yes") {
			found = true
		}
	}
	return found
}
