package plan

import (
	"bytes"
	"strings"
)

// section is one top-level block of a config file: haproxy.cfg's `global`,
// `defaults`, `frontend X`, `backend X` or keepalived.conf's `global_defs`,
// `vrrp_instance X`. A section starts at a line with no leading whitespace
// and runs to the next such line.
type section struct {
	key  string // "frontend https_in", "vrrp_instance eu-vip-1"; "" for text before the first section
	body []byte // every line of the section, header included
}

// headerKey is the comment and blank text before the first section.
const headerKey = ""

// splitSections cuts cfg into sections. Comment lines ('#') and blank lines
// at column 0 belong to the section they are in, so a comment cannot start a
// section.
func splitSections(cfg []byte) []section {
	var out []section
	cur := section{key: headerKey}
	start := 0
	for pos := 0; pos < len(cfg); {
		end := bytes.IndexByte(cfg[pos:], '\n')
		if end < 0 {
			end = len(cfg)
		} else {
			end += pos + 1
		}
		line := cfg[pos:end]
		if startsSection(line) {
			if pos > start || cur.key != headerKey {
				cur.body = cfg[start:pos]
				out = append(out, cur)
			}
			cur = section{key: sectionKey(line)}
			start = pos
		}
		pos = end
	}
	if len(cfg) > start || cur.key != headerKey {
		cur.body = cfg[start:]
		out = append(out, cur)
	}
	return out
}

func startsSection(line []byte) bool {
	if len(line) == 0 {
		return false
	}
	switch line[0] {
	case ' ', '\t', '\n', '\r', '#', '}':
		return false
	}
	return true
}

// sectionKey is the section's keyword and name: its first two words, with
// keepalived's opening brace dropped.
func sectionKey(line []byte) string {
	f := strings.Fields(strings.TrimSuffix(strings.TrimSpace(string(line)), "{"))
	if len(f) > 2 {
		f = f[:2]
	}
	return strings.Join(f, " ")
}

// sectionChanges compares two configs section by section and describes
// every difference in the order of the new config (removed sections last,
// in the old config's order): "frontend https_in changed", "backend X
// added", "vrrp_instance Y removed". describe turns a changed section's key
// into its message; it is called only for sections present in both.
// Sections whose only difference is ignored by same are not reported.
func sectionChanges(old, new []byte, describe func(key string) string, same func(key string, a, b []byte) bool) []string {
	os, ns := splitSections(old), splitSections(new)
	oldIdx := make(map[string]int, len(os))
	for i, s := range os {
		if _, dup := oldIdx[s.key]; !dup {
			oldIdx[s.key] = i
		}
	}
	var reasons []string
	seen := make(map[string]bool, len(ns))
	for _, s := range ns {
		if seen[s.key] {
			continue
		}
		seen[s.key] = true
		i, ok := oldIdx[s.key]
		switch {
		case !ok:
			reasons = append(reasons, sectionName(s.key)+" added")
		case !bytes.Equal(os[i].body, s.body) && (same == nil || !same(s.key, os[i].body, s.body)):
			reasons = append(reasons, describe(s.key))
		}
	}
	for _, s := range os {
		if !seen[s.key] {
			seen[s.key] = true
			reasons = append(reasons, sectionName(s.key)+" removed")
		}
	}
	return reasons
}

func sectionName(key string) string {
	if key == headerKey {
		return "header comment"
	}
	return key
}

// sectionOrder returns the section keys in order.
func sectionOrder(cfg []byte) []string {
	ss := splitSections(cfg)
	keys := make([]string, len(ss))
	for i, s := range ss {
		keys[i] = s.key
	}
	return keys
}
