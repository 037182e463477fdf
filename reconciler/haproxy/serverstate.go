package haproxy

import (
	"errors"
	"fmt"
)

// The grammar of `show servers state` (format version 1), in one place:
// ParseServersState reads a whole reply, EachServerState a streamed one,
// both through serverStateHeader and serverStateRow.
//
// A reply is the version line ("1"), a header line ("# be_id be_name ...")
// naming the columns, and a row per server whose fields are separated by
// spaces; blank lines are ignored.

// serverStateColumns are the numeric columns a ServerStateRow holds, in
// the order serverStateRow reads them.
var serverStateColumns = [...]string{"be_id", "srv_id", "srv_port", "srv_op_state", "srv_admin_state", "srv_uweight",
	"srv_iweight", "srv_check_status", "srv_check_result", "srv_check_health", "srv_check_state", "srv_check_port"}

// serverStateHeader is where a reply's header puts the columns a
// ServerStateRow holds; -1 for a column it does not have.
type serverStateHeader struct {
	names    []string // every column, in order (for ServerStateRow.Field)
	num      [len(serverStateColumns)]int
	be, name int
	addr     int
	width    int // the number of columns: every row has at least as many fields
}

var errNoStateVersion = errors.New("empty output")

// parseServerStateHeader reads a header line without its leading '#'.
func parseServerStateHeader[T string | []byte](line T) *serverStateHeader {
	h := &serverStateHeader{be: -1, name: -1, addr: -1}
	for j := range h.num {
		h.num[j] = -1
	}
	var f [1]T
	for rest := line; ; {
		n, tail := nextFields(rest, f[:])
		if n == 0 {
			break
		}
		rest = tail
		i, col := len(h.names), string(f[0])
		h.names = append(h.names, col)
		switch col {
		case "be_name":
			h.be = i
		case "srv_name":
			h.name = i
		case "srv_addr":
			h.addr = i
		}
		for j, c := range serverStateColumns {
			if col == c {
				h.num[j] = i
			}
		}
	}
	h.width = len(h.names)
	return h
}

// serverStateRow reads the fields of one row (fields[i] is column i) into
// a ServerStateRow with its numeric columns set; the caller sets its
// strings.
func serverStateRow[T string | []byte](h *serverStateHeader, fields []T) ServerStateRow {
	num := func(j int) int {
		if i := h.num[j]; i >= 0 {
			return atoiField(fields[i])
		}
		return 0
	}
	return ServerStateRow{
		BackendID: num(0), ID: num(1), Port: num(2), OpState: num(3), AdminState: num(4), UWeight: num(5),
		IWeight: num(6), CheckStatus: num(7), CheckResult: num(8), CheckHealth: num(9), CheckState: num(10), CheckPort: num(11),
	}
}

// column returns field i of fields, or the zero value when i is -1.
func column[T string | []byte](fields []T, i int) T {
	if i < 0 {
		var zero T
		return zero
	}
	return fields[i]
}

// nextFields splits s at runs of spaces and tabs into dst, at most
// len(dst) fields, and returns how many it found and what follows the
// last one.
func nextFields[T string | []byte](s T, dst []T) (int, T) {
	n, i := 0, 0
	for n < len(dst) {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i == len(s) {
			break
		}
		start := i
		for i < len(s) && s[i] != ' ' && s[i] != '\t' {
			i++
		}
		dst[n] = s[start:i]
		n++
	}
	return n, s[i:]
}

// atoiField is a decimal field's value, with an optional '-'; 0 for "-",
// an empty field, anything else that is not a number, or one out of range.
func atoiField[T string | []byte](s T) int {
	neg := len(s) > 0 && s[0] == '-'
	digits := s
	if neg {
		digits = s[1:]
	}
	if len(digits) == 0 {
		return 0
	}
	v := 0
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		if c < '0' || c > '9' || v > 1<<40 {
			return 0
		}
		v = v*10 + int(c-'0')
	}
	if neg {
		return -v
	}
	return v
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'
}

// trimSpace is s without ASCII white space around it.
func trimSpace[T string | []byte](s T) T {
	i, j := 0, len(s)
	for i < j && isSpace(s[i]) {
		i++
	}
	for j > i && isSpace(s[j-1]) {
		j--
	}
	return s[i:j]
}

// serverStateScanner reads a reply line by line: its version, its header
// and its rows.
type serverStateScanner struct {
	sawVersion bool
	hdr        *serverStateHeader
	line       int
}

// The kinds of line serverStateNext tells apart.
const (
	stateLineSkip = iota // blank, the version or a header
	stateLineRow
)

// serverStateNext classifies a line (white space around it is ignored):
// for a header it reads the columns and sizes dst to them; for a row it
// splits the fields into dst and checks there are as many as columns.
func serverStateNext[T string | []byte](sc *serverStateScanner, line T, dst *[]T) (int, error) {
	sc.line++
	line = trimSpace(line)
	switch {
	case len(line) == 0:
		return stateLineSkip, nil
	case !sc.sawVersion:
		if string(line) != "1" {
			return 0, fmt.Errorf("line %d: unsupported format version %.40q, want 1", sc.line, string(line))
		}
		sc.sawVersion = true
		return stateLineSkip, nil
	case line[0] == '#':
		sc.hdr = parseServerStateHeader(line[1:])
		if cap(*dst) < sc.hdr.width {
			*dst = make([]T, sc.hdr.width)
		}
		*dst = (*dst)[:sc.hdr.width]
		return stateLineSkip, nil
	case sc.hdr == nil:
		return 0, fmt.Errorf("line %d: data before the header line", sc.line)
	}
	n, _ := nextFields(line, *dst)
	if n < sc.hdr.width {
		return 0, fmt.Errorf("line %d: %d fields, header has %d", sc.line, n, sc.hdr.width)
	}
	return stateLineRow, nil
}

// done is the error for a reply that ended: one without a version line.
func (sc *serverStateScanner) done() error {
	if !sc.sawVersion {
		return errNoStateVersion
	}
	return nil
}
