package lab

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// LogsOptions select what Logs prints.
type LogsOptions struct {
	// StateDir is the lab's state directory; its logs/ holds one file per
	// child machine (HOST.log for an agent with its haproxy and keepalived,
	// NODE.log, bot.log, prometheus.log, alertmanager.log, geth.log) and
	// api-ZONE.log for each zone's API.
	StateDir string
	// Component keeps the lines of that component: a line's component
	// field (agent, api, bot, git-source, chain-watcher...), or the kind of
	// the file (agent, api, node, bot, prometheus, alertmanager, geth).
	Component string
	// Host keeps the lines of that machine (its file) or whose host field
	// is Host.
	Host string
	// Follow keeps printing new lines until ctx ends.
	Follow bool
	// Poll is the follow interval (default 250ms).
	Poll time.Duration
}

// logLine is one line of a child's log.
type logLine struct {
	at      time.Time
	machine string
	kind    string
	text    string
	seq     int // order within its file, for lines with the same time
}

// logFile is a log file being read.
type logFile struct {
	path, machine, kind string
	off                 int64
	last                time.Time // time of the last timestamped line
	seq                 int
}

// Logs merges the lab's child logs in time order and writes them to w as
// "MACHINE | LINE". Lines without a timestamp of their own (a stack trace,
// geth's) keep the time of the line before them in their file.
func Logs(ctx context.Context, o LogsOptions, w io.Writer) error {
	if o.Poll <= 0 {
		o.Poll = 250 * time.Millisecond
	}
	dir := filepath.Join(o.StateDir, "logs")
	if _, err := os.Stat(dir); err != nil {
		return fmt.Errorf("lab logs: %w (is --state-dir the lab's?)", err)
	}
	files := map[string]*logFile{}
	bw := bufio.NewWriter(w)
	for {
		paths, err := filepath.Glob(filepath.Join(dir, "*.log"))
		if err != nil {
			return fmt.Errorf("lab logs: %w", err)
		}
		var batch []logLine
		for _, p := range paths {
			f := files[p]
			if f == nil {
				m := strings.TrimSuffix(filepath.Base(p), ".log")
				f = &logFile{path: p, machine: m, kind: machineKind(o.StateDir, m)}
				files[p] = f
			}
			lines, err := f.read()
			if err != nil {
				return err
			}
			for _, l := range lines {
				if o.keep(l) {
					batch = append(batch, l)
				}
			}
		}
		sort.SliceStable(batch, func(i, j int) bool {
			if !batch[i].at.Equal(batch[j].at) {
				return batch[i].at.Before(batch[j].at)
			}
			if batch[i].machine != batch[j].machine {
				return batch[i].machine < batch[j].machine
			}
			return batch[i].seq < batch[j].seq
		})
		width := 0
		for _, f := range files {
			width = max(width, len(f.machine))
		}
		for _, l := range batch {
			fmt.Fprintf(bw, "%-*s | %s\n", width, l.machine, l.text)
		}
		if err := bw.Flush(); err != nil {
			return err
		}
		if !o.Follow {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(o.Poll):
		}
	}
}

// machineKind tells an agent's host (it has STATE/hosts/HOST) from the
// other children.
func machineKind(state, machine string) string {
	switch machine {
	case "bot", "prometheus", "alertmanager", "geth":
		return machine
	}
	if strings.HasPrefix(machine, "api-") {
		return "api"
	}
	if st, err := os.Stat(filepath.Join(state, "hosts", machine)); err == nil && st.IsDir() {
		return "agent"
	}
	return "node"
}

// read returns the complete lines added since the last read.
func (f *logFile) read() ([]logLine, error) {
	fh, err := os.Open(f.path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("lab logs: %w", err)
	}
	defer fh.Close()
	if st, err := fh.Stat(); err == nil && st.Size() < f.off {
		f.off = 0 // truncated: a new lab
	}
	if _, err := fh.Seek(f.off, io.SeekStart); err != nil {
		return nil, fmt.Errorf("lab logs: %w", err)
	}
	b, err := io.ReadAll(fh)
	if err != nil {
		return nil, fmt.Errorf("lab logs: %w", err)
	}
	end := bytes.LastIndexByte(b, '\n')
	if end < 0 {
		return nil, nil
	}
	f.off += int64(end + 1)
	var out []logLine
	for _, raw := range strings.Split(string(b[:end]), "\n") {
		if at, ok := lineTime(raw); ok {
			f.last = at
		}
		f.seq++
		out = append(out, logLine{at: f.last, machine: f.machine, kind: f.kind, text: raw, seq: f.seq})
	}
	return out, nil
}

// lineTime reads a line's timestamp: "time" of a JSON line, time= of
// slog's text, ts= of Prometheus's and Alertmanager's logfmt.
func lineTime(s string) (time.Time, bool) {
	if strings.HasPrefix(s, "{") {
		var v struct {
			Time time.Time `json:"time"`
		}
		if json.Unmarshal([]byte(s), &v) == nil && !v.Time.IsZero() {
			return v.Time, true
		}
		return time.Time{}, false
	}
	for _, k := range []string{"time=", "ts="} {
		if rest, ok := strings.CutPrefix(s, k); ok {
			val, _, _ := strings.Cut(rest, " ")
			if t, err := time.Parse(time.RFC3339Nano, strings.Trim(val, `"`)); err == nil {
				return t, true
			}
		}
	}
	return time.Time{}, false
}

// field reads key of a JSON line or key=value of a text line.
func field(s, key string) string {
	if strings.HasPrefix(s, "{") {
		var v map[string]any
		if json.Unmarshal([]byte(s), &v) == nil {
			if x, ok := v[key].(string); ok {
				return x
			}
		}
		return ""
	}
	for _, f := range strings.Fields(s) {
		if val, ok := strings.CutPrefix(f, key+"="); ok {
			return strings.Trim(val, `"`)
		}
	}
	return ""
}

func (o LogsOptions) keep(l logLine) bool {
	if o.Host != "" && l.machine != o.Host && field(l.text, "host") != o.Host {
		return false
	}
	if o.Component != "" && l.kind != o.Component && field(l.text, "component") != o.Component {
		return false
	}
	return true
}
