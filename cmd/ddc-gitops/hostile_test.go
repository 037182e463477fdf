package main

// Hostile input through the real binary: each case runs the built
// ddc-gitops under an address-space limit and a deadline, and checks the
// exit status, the error (with its position), the time taken and the peak
// memory (the kernel's maxrss for the child).

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// bin is the binary built by TestMain.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ddc-hostile")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "ddc-gitops")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building ddc-gitops: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Limits every run of the binary gets. Go reserves address space far
// beyond what it uses, so the address-space limit is loose (3 GiB; the
// unbounded alias walk this guards against passed 7.5 GB); the peak RSS
// check is the tight one.
const (
	addressSpaceLimit = 3 << 30
	maxPeakRSS        = 256 << 20
	runDeadline       = 20 * time.Second
)

type result struct {
	code           int
	stdout, stderr string
	took           time.Duration
	peakRSS        int64 // bytes
}

// run runs the binary with args under prlimit and the deadline.
func run(t *testing.T, dir string, args ...string) result {
	t.Helper()
	if _, err := exec.LookPath("prlimit"); err != nil {
		t.Skip("prlimit (util-linux) not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), runDeadline)
	defer cancel()
	cmd := exec.CommandContext(ctx, "prlimit", append([]string{fmt.Sprintf("--as=%d", addressSpaceLimit), "--", bin}, args...)...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String(), took: time.Since(start)}
	if ctx.Err() != nil {
		t.Fatalf("%v: still running after %v (killed)\nstderr:\n%s", args, runDeadline, tail(r.stderr))
	}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.peakRSS = ru.Maxrss << 10 // KiB on Linux; prlimit execs the binary in place
	}
	t.Logf("%v: exit %d in %v, peak RSS %d MiB", args, r.code, r.took.Round(time.Millisecond), r.peakRSS>>20)
	if r.peakRSS > maxPeakRSS {
		t.Errorf("%v: peak RSS %d MiB, want at most %d MiB", args, r.peakRSS>>20, maxPeakRSS>>20)
	}
	return r
}

func tail(s string) string {
	if len(s) > 4000 {
		return "..." + s[len(s)-4000:]
	}
	return s
}

// exampleFleet copies the example fleet into a new directory.
func exampleFleet(t *testing.T) string {
	t.Helper()
	src := filepath.Join("..", "..", "examples", "fleet")
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// aliasBomb is a ten-level "billion laughs" block under key.
func aliasBomb(key string) string {
	var b strings.Builder
	b.WriteString(key + ":\n  l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i <= 9; i++ {
		refs := strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d, ", i-1), 10), ", ")
		fmt.Fprintf(&b, "  l%d: &l%d [%s]\n", i, i, refs)
	}
	return b.String()
}

// bombLine is the line of bomb.l4 in bombFleet's fleet.yaml: the bomb is
// appended to the example's fleet.yaml, its key line then l0 to l4.
func bombLine(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "examples", "fleet", "fleet.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "\n") + 6
}

// bombError is the error bombFleet must produce, with its position.
func bombError(t *testing.T) string {
	return fmt.Sprintf("fleet.yaml:%d:47: bomb.l4[7]: alias *l3 expands the file beyond 100000 YAML nodes", bombLine(t))
}

// bombFleet is the example fleet with an alias bomb and one more error in
// fleet.yaml (the error needs a position, which used to expand the bomb).
func bombFleet(t *testing.T) string {
	t.Helper()
	dir := exampleFleet(t)
	p := filepath.Join(dir, "fleet.yaml")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), "maxconn: 20000", "maxconn: -5", 1) + aliasBomb("bomb")
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestValidateAliasBomb(t *testing.T) {
	dir := bombFleet(t)
	r := run(t, dir, "validate", ".")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\nstderr:\n%s", r.code, tail(r.stderr))
	}
	want := bombError(t)
	if !strings.Contains(r.stderr, want) {
		t.Fatalf("stderr does not say %q:\n%s", want, tail(r.stderr))
	}
	if r.took > 5*time.Second {
		t.Errorf("took %v", r.took)
	}
}

func TestAgentOnceAliasBombIsStalled(t *testing.T) {
	dir := bombFleet(t)
	state := t.TempDir()
	r := run(t, dir, "agent", "--once", "--watch", dir, "--host", "eu-haproxy-1", "--state-dir", state,
		"--haproxy-config", filepath.Join(state, "haproxy.cfg"), "--master-socket", filepath.Join(state, "m.sock"),
		"--admin-socket", filepath.Join(state, "a.sock"), "--haproxy-pid", filepath.Join(state, "h.pid"),
		"--keepalived=false", "--listen", "", "--log-format", "text")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\nstderr:\n%s", r.code, tail(r.stderr))
	}
	for _, want := range []string{"result=stalled", bombError(t)} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr does not say %q:\n%s", want, tail(r.stderr))
		}
	}
}

// gitCommitAll commits everything in dir to a new repository there.
func gitCommitAll(t *testing.T, dir string) {
	t.Helper()
	for _, args := range [][]string{
		{"init", "-q", "-b", "main"},
		{"add", "-A"},
		{"-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "fleet"},
	} {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
}

// errorLines are the file:line:col: messages of validate's stderr, with the
// fleet location (DIR/ or git:DIR@REV:) cut off.
func errorLines(stderr, prefix string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if strings.HasPrefix(l, "error: ") {
			continue
		}
		out = append(out, strings.TrimPrefix(l, prefix))
	}
	return out
}

// TestValidateDirectoryMatchesGit validates trees with symbolic links in
// directory mode and in git mode (the same tree, committed): the verdict and
// every error must be the same.
func TestValidateDirectoryMatchesGit(t *testing.T) {
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "fleet.yaml"), []byte("kind: Fleet\nname: secret-key-name\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
		code  int
		want  string // in the first error line, "" when valid
	}{
		{"fleet.yaml linked inside the tree", func(t *testing.T, dir string) {
			must(t, os.Mkdir(filepath.Join(dir, "real"), 0o755))
			must(t, os.Rename(filepath.Join(dir, "fleet.yaml"), filepath.Join(dir, "real", "fleet.yaml")))
			must(t, os.Symlink("real/fleet.yaml", filepath.Join(dir, "fleet.yaml")))
		}, 0, ""},
		{"fleet.yaml linked outside the tree", func(t *testing.T, dir string) {
			must(t, os.Remove(filepath.Join(dir, "fleet.yaml")))
			must(t, os.Symlink(filepath.Join(outside, "fleet.yaml"), filepath.Join(dir, "fleet.yaml")))
		}, 1, "fleet.yaml: reading file: symbolic link to "},
		{"node linked above the tree", func(t *testing.T, dir string) {
			must(t, os.Symlink("../../outside.yaml", filepath.Join(dir, "nodes", "x.yaml")))
		}, 1, "nodes/x.yaml: reading file: symbolic link to \"../../outside.yaml\" does not lead to a file inside the fleet tree"},
		{"backend linked to /dev/zero", func(t *testing.T, dir string) {
			must(t, os.Symlink("/dev/zero", filepath.Join(dir, "backends", "zero.yaml")))
		}, 1, "backends/zero.yaml: reading file: symbolic link to \"/dev/zero\" does not lead to a file inside the fleet tree"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := exampleFleet(t)
			tt.setup(t, dir)
			d := run(t, dir, "validate", dir)
			gitCommitAll(t, dir)
			g := run(t, dir, "validate", "git:"+dir+"@HEAD")
			if d.code != tt.code || g.code != tt.code {
				t.Fatalf("exit %d (directory) and %d (git), want %d\ndirectory:\n%s\ngit:\n%s", d.code, g.code, tt.code, d.stderr, g.stderr)
			}
			if tt.code == 0 {
				return
			}
			de, ge := errorLines(d.stderr, dir+"/"), errorLines(g.stderr, "git:"+dir+"@HEAD:")
			if strings.Join(de, "\n") != strings.Join(ge, "\n") {
				t.Fatalf("directory and git mode disagree\ndirectory:\n%s\ngit:\n%s", strings.Join(de, "\n"), strings.Join(ge, "\n"))
			}
			if !strings.HasPrefix(de[0], tt.want) {
				t.Fatalf("first error %q, want it to start with %q", de[0], tt.want)
			}
			if strings.Contains(d.stderr, "secret-key-name") {
				t.Fatalf("a file outside the tree was read:\n%s", d.stderr)
			}
		})
	}
}

// TestValidateDirectorySpecialFiles checks that directory mode refuses
// what git cannot hold, and files over the size cap, at once and by name.
func TestValidateDirectorySpecialFiles(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  string
	}{
		{"named pipe", func(t *testing.T, dir string) {
			must(t, syscall.Mkfifo(filepath.Join(dir, "nodes", "pipe.yaml"), 0o644))
		}, "nodes/pipe.yaml is a named pipe: a fleet holds regular files, directories and symbolic links only"},
		{"fleet.yaml a named pipe", func(t *testing.T, dir string) {
			must(t, os.Remove(filepath.Join(dir, "fleet.yaml")))
			must(t, syscall.Mkfifo(filepath.Join(dir, "fleet.yaml"), 0o644))
		}, "fleet.yaml is a named pipe"},
		{"huge file", func(t *testing.T, dir string) {
			f, err := os.Create(filepath.Join(dir, "backends", "huge.yaml"))
			must(t, err)
			must(t, f.Truncate(8<<30)) // sparse: 8 GiB that cost nothing on disk
			must(t, f.Close())
		}, "backends/huge.yaml is 8589934592 bytes, more than the limit of 1048576 bytes for one file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := exampleFleet(t)
			tt.setup(t, dir)
			r := run(t, dir, "validate", dir)
			if r.code != 1 || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("exit %d, want 1 with %q\nstderr:\n%s", r.code, tt.want, tail(r.stderr))
			}
			if r.took > 5*time.Second {
				t.Errorf("took %v", r.took)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestValidateBoundsAndLimits runs validate on fleets with out-of-range
// integers, special addresses, an oversized file (in git mode, where the
// loader's cap applies) and a file with thousands of unknown keys: each is
// refused with positions, early and cheaply.
func TestValidateBoundsAndLimits(t *testing.T) {
	edit := func(t *testing.T, dir, file string, fn func(string) string) {
		t.Helper()
		p := filepath.Join(dir, filepath.FromSlash(file))
		b, err := os.ReadFile(p)
		must(t, err)
		must(t, os.WriteFile(p, []byte(fn(string(b))), 0o644))
	}
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
		git   bool
		want  []string
		lines int // at most this many lines on stderr (0: no bound)
	}{
		{"integers beyond HAProxy's", func(t *testing.T, dir string) {
			edit(t, dir, "fleet.yaml", func(s string) string {
				return strings.Replace(s, "maxconn: 20000", "maxconn: 4294967296", 1)
			})
			edit(t, dir, "backends/ddc_nodes_http.yaml", func(s string) string {
				return strings.Replace(s, "maxconn: 500", "maxconn: 99999999999", 1)
			})
		}, false, []string{
			"fleet.yaml:6:12: haproxy.maxconn: maxconn 4294967296 is out of range 1..1000000",
			"backends/ddc_nodes_http.yaml:20:12: serverDefaults.maxconn: maxconn 99999999999 is out of range 0..1000000",
		}, 0},
		{"special addresses", func(t *testing.T, dir string) {
			edit(t, dir, "backends/ddc_nodes_http.yaml", func(s string) string {
				return s + "servers:\n  - {name: hex, address: 0x7f000001, port: 80}\n  - {name: md, address: 169.254.169.254, port: 80}\n  - {name: lo, address: 127.0.0.1, port: 80}\n"
			})
			edit(t, dir, "nodes/eu-node-1.yaml", func(s string) string {
				return strings.Replace(s, "host: 198.18.1.21", "host: 0x7f.1", 1)
			})
		}, false, []string{
			`servers[0].address: address "0x7f000001" is neither an IP address nor a lowercase DNS name`,
			`servers[1].address: address "169.254.169.254" is a link-local address`,
			`servers[2].address: address "127.0.0.1" is a loopback address`,
			`nodes/eu-node-1.yaml:7:7: host: host "0x7f.1" is neither an IP address nor a lowercase DNS name`,
		}, 0},
		{"oversized file in git", func(t *testing.T, dir string) {
			edit(t, dir, "backends/ddc_nodes_http.yaml", func(s string) string {
				return s + "# " + strings.Repeat("x", 2<<20) + "\n"
			})
		}, true, []string{"backends/ddc_nodes_http.yaml: file is 2097768 bytes, more than the limit of 1048576 bytes (1 MiB)"}, 0},
		{"thousands of unknown keys", func(t *testing.T, dir string) {
			edit(t, dir, "nodes/eu-node-1.yaml", func(s string) string {
				var b strings.Builder
				for i := range 20000 {
					fmt.Fprintf(&b, "junk%d: %d\n", i, i)
				}
				return s + b.String()
			})
		}, false, []string{"nodes/eu-node-1.yaml: more than 100 problems; stopped reporting"}, 120},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := exampleFleet(t)
			tt.setup(t, dir)
			arg := dir
			if tt.git {
				gitCommitAll(t, dir)
				arg = "git:" + dir + "@HEAD"
			}
			r := run(t, dir, "validate", arg)
			if r.code != 1 {
				t.Fatalf("exit %d, want 1\nstderr:\n%s", r.code, tail(r.stderr))
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr does not say %q:\n%s", w, tail(r.stderr))
				}
			}
			if n := strings.Count(r.stderr, "\n"); tt.lines > 0 && n > tt.lines {
				t.Errorf("%d lines of errors, want at most %d", n, tt.lines)
			}
			if r.took > 5*time.Second {
				t.Errorf("took %v", r.took)
			}
		})
	}
}
