package keepalived

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// proc identifies a process across pid reuse: its pid and its start time
// (in clock ticks since boot, field 22 of /proc/PID/stat).
type proc struct {
	pid   int
	start uint64
}

func (p proc) String() string { return strconv.Itoa(p.pid) }

// procStat is what this package reads from /proc/PID/stat.
type procStat struct {
	comm  string
	state byte
	ppid  int
	start uint64
}

func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	// comm is parenthesised and may hold spaces and ')': split at the last ')'.
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return procStat{}, fmt.Errorf("parsing /proc/%d/stat: no comm", pid)
	}
	f := strings.Fields(string(b[end+1:]))
	// f[0] is field 3 (state); field N is f[N-3].
	if len(f) < 20 {
		return procStat{}, fmt.Errorf("parsing /proc/%d/stat: %d fields", pid, len(f)+2)
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return procStat{}, fmt.Errorf("parsing ppid in /proc/%d/stat: %w", pid, err)
	}
	start, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("parsing start time in /proc/%d/stat: %w", pid, err)
	}
	return procStat{comm: string(b[open+1 : end]), state: f[0][0], ppid: ppid, start: start}, nil
}

// alive reports whether p is still the same process and not a zombie.
func (p proc) alive() bool {
	st, err := readStat(p.pid)
	return err == nil && st.start == p.start && st.state != 'Z' && st.state != 'X'
}

// lookup returns the live process pid, or ok=false when there is none.
func lookup(pid int) (p proc, st procStat, ok bool) {
	st, err := readStat(pid)
	if err != nil || st.state == 'Z' || st.state == 'X' {
		return proc{}, st, false
	}
	return proc{pid: pid, start: st.start}, st, true
}

// children lists the live children of parent.
func children(parent proc) ([]proc, error) {
	var pids []int
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", parent.pid, parent.pid))
	if err == nil {
		for _, f := range strings.Fields(string(b)) {
			pid, err := strconv.Atoi(f)
			if err != nil {
				return nil, fmt.Errorf("parsing children of %d: %w", parent.pid, err)
			}
			pids = append(pids, pid)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("listing children of %d: %w", parent.pid, err)
	} else if pids, err = scanChildren(parent.pid); err != nil { // kernel without CONFIG_PROC_CHILDREN
		return nil, err
	}
	var out []proc
	for _, pid := range pids {
		if c, st, ok := lookup(pid); ok && st.ppid == parent.pid {
			out = append(out, c)
		}
	}
	return out, nil
}

func scanChildren(ppid int) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("listing /proc: %w", err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := readStat(pid); err == nil && st.ppid == ppid {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// readPIDFile returns the pid in path; ok=false when the file does not exist.
func readPIDFile(path string) (pid int, ok bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("reading pid file %s: %w", path, err)
	}
	pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, false, fmt.Errorf("pid file %s holds %q, not a pid", path, strings.TrimSpace(string(b)))
	}
	return pid, true, nil
}

// commOf is the kernel's name for a process running bin (15 characters).
func commOf(bin string) string {
	c := filepath.Base(bin)
	if len(c) > 15 {
		c = c[:15]
	}
	return c
}

// running returns the process named by pidFile if it is alive and runs bin;
// ok=false when the file is missing, stale or names another program.
func running(pidFile, bin string) (p proc, ok bool, err error) {
	pid, ok, err := readPIDFile(pidFile)
	if err != nil || !ok {
		return proc{}, false, err
	}
	p, st, ok := lookup(pid)
	if !ok || st.comm != commOf(bin) {
		return proc{}, false, nil
	}
	return p, true, nil
}
