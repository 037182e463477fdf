package plan

import (
	"bytes"
	"regexp"
)

// generationRe finds the zone's reload generation in haproxy.cfg. The
// renderer writes it (the zone's reloadGeneration) so that bumping it
// changes the skeleton and forces a reload.
var generationRe = regexp.MustCompile(`(?im)^[ \t]*#?[ \t]*reload[-_ ]?generation[ \t:=]+(\d+)[ \t]*\r?$`)

// reloadGeneration returns the reload generation written in cfg, or "".
func reloadGeneration(cfg []byte) string {
	m := generationRe.FindSubmatch(cfg)
	if m == nil {
		return ""
	}
	return string(m[1])
}

// withoutGeneration returns cfg without its reload generation line.
func withoutGeneration(cfg []byte) []byte {
	return generationRe.ReplaceAll(bytes.Clone(cfg), nil)
}
