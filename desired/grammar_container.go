package desired

import "regexp"

// The grammar of the strings of a Container that reach the Docker Engine
// API. Docker passes them to its own parsers and to exec(2) (never to a
// shell), so the patterns exist to keep every value in the shape Docker
// documents, printable and bounded, and the schemas use the same ones.
const (
	// PatternImage: a Docker image reference, [registry[:port]/]path[:tag][@digest],
	// as the distribution/reference grammar defines it (repository path
	// lowercase; at most 255 characters in all, checked apart).
	PatternImage = `^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]{1,5})?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$`
	// PatternEnvName: an environment variable name (POSIX portable).
	PatternEnvName = `^[A-Za-z_][A-Za-z0-9_]{0,127}$`
	// PatternEnvValue: an environment value: no control characters (at
	// most MaxEnvValueLen bytes, checked apart).
	PatternEnvValue = `^[^\x00-\x1f\x7f]*$`
	// PatternArg: one element of a container's command or args (passed to
	// exec(2) as is): no control characters, 1 to MaxArgLen bytes.
	PatternArg = `^[^\x00-\x1f\x7f]+$`
)

// Length limits of container strings (Go's regexp repeats at most 1000).
const (
	// MaxImageLen is the longest image reference accepted (Docker's limit
	// for the repository name).
	MaxImageLen    = 255
	MaxEnvValueLen = 4096
	MaxArgLen      = 1024
)

var (
	reImage    = regexp.MustCompile(PatternImage)
	reEnvName  = regexp.MustCompile(PatternEnvName)
	reEnvValue = regexp.MustCompile(PatternEnvValue)
	reArg      = regexp.MustCompile(PatternArg)
)

// ValidImage reports whether s is a Docker image reference of at most
// MaxImageLen characters.
func ValidImage(s string) bool { return len(s) <= MaxImageLen && reImage.MatchString(s) }

// ValidEnvName reports whether s matches PatternEnvName.
func ValidEnvName(s string) bool { return reEnvName.MatchString(s) }

// ValidEnvValue reports whether s matches PatternEnvValue and is at most MaxEnvValueLen bytes.
func ValidEnvValue(s string) bool { return len(s) <= MaxEnvValueLen && reEnvValue.MatchString(s) }

// ValidArg reports whether s matches PatternArg and is at most MaxArgLen bytes.
func ValidArg(s string) bool { return len(s) <= MaxArgLen && reArg.MatchString(s) }

var (
	ruleImage = rule{ValidImage,
		"%[1]s %[2]q is not a Docker image reference: [registry[:port]/]name[:tag][@sha256:digest], name in lowercase letters, digits and separators, at most 255 characters"}
	ruleEnvName = rule{ValidEnvName,
		"%[1]s %[2]q is not a valid environment variable name: letters, digits and '_', not starting with a digit, at most 128"}
	ruleEnvValue = rule{ValidEnvValue,
		"%[1]s is not allowed: at most 4096 printable characters, no control characters"}
	ruleArg = rule{ValidArg,
		"%[1]s %[2]q is not allowed: 1 to 1024 printable characters, no control characters"}
)
