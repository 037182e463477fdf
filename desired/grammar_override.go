package desired

import (
	"regexp"
	"time"
)

// PatternReason: why an override or a freeze exists: 1 to 200 printable
// characters on one line, without '"' or '\'. It reaches status pages and
// commit messages, never a config; one line keeps a reason from adding a
// trailer (such as Emergency: yes) to the commit that carries it.
const PatternReason = `^[^\x00-\x1f\x7f"\\]{1,200}$`

var reReason = regexp.MustCompile(PatternReason)

// ValidReason reports whether s matches PatternReason.
func ValidReason(s string) bool { return reReason.MatchString(s) }

// ParseTime parses an override's or freeze window's time: RFC 3339 with a
// time zone (2026-12-04T21:00:00Z, 2026-12-04T22:00:00+01:00).
func ParseTime(s string) (time.Time, error) { return time.Parse(time.RFC3339, s) }

var ruleReason = rule{ValidReason,
	"%[1]s is invalid: 1 to 200 printable characters on one line, without '\"' or '\\'"}
