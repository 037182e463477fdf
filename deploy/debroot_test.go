package deploy_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// suite is the Debian release the hosts run.
const suite = "bookworm"

// cacheDir is where the debootstrap root and apt's downloaded packages are
// kept between runs.
func cacheDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("DDC_GITOPS_DEBOOTSTRAP_CACHE"); d != "" {
		return d
	}
	home, err := os.UserCacheDir()
	if err != nil {
		t.Fatalf("no cache directory: %v", err)
	}
	return filepath.Join(home, "ddc-gitops", "debootstrap")
}

// mirror is the machine's configured Debian mirror (the first URI of
// /etc/apt/sources.list or /etc/apt/sources.list.d/* serving the suite).
func mirror(t *testing.T) string {
	t.Helper()
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*")
	files = append([]string{"/etc/apt/sources.list"}, files...)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var uris []string
		suiteOK := false
		sc := bufio.NewScanner(strings.NewReader(string(b)))
		for sc.Scan() {
			fl := strings.Fields(sc.Text())
			switch {
			case len(fl) >= 3 && fl[0] == "deb" && !strings.HasPrefix(fl[1], "["):
				if fl[2] == suite {
					return fl[1]
				}
			case len(fl) >= 2 && fl[0] == "URIs:":
				uris = fl[1:]
			case len(fl) >= 2 && fl[0] == "Suites:":
				for _, s := range fl[1:] {
					suiteOK = suiteOK || s == suite
				}
			case len(fl) == 0:
				if suiteOK && len(uris) > 0 {
					return uris[0]
				}
				uris, suiteOK = nil, false
			}
		}
		if suiteOK && len(uris) > 0 {
			return uris[0]
		}
	}
	t.Skip("skipping: no Debian " + suite + " mirror in /etc/apt/sources.list*")
	return ""
}

// baseRoot returns the cached `debootstrap --variant=minbase
// --include=python3` root, building it (about 30 s) when it is missing.
func baseRoot(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(cacheDir(t), suite)
	if _, err := os.Stat(filepath.Join(dir, ".ddc-gitops-complete")); err == nil {
		return dir
	}
	if err := os.MkdirAll(cacheDir(t), 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := dir + ".tmp"
	_ = os.RemoveAll(tmp)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	m := mirror(t)
	t.Logf("building the %s root with debootstrap from %s into %s (cached for later runs)", suite, m, dir)
	out, err := exec.CommandContext(ctx, "debootstrap", "--variant=minbase", "--include=python3", suite, tmp, m).CombinedOutput()
	if err != nil {
		_ = os.RemoveAll(tmp)
		t.Fatalf("debootstrap: %v\n%s", err, tail(out))
	}
	// debootstrap's own packages are installed: drop them, copies are faster.
	debs, _ := filepath.Glob(filepath.Join(tmp, "var/cache/apt/archives", "*.deb"))
	for _, d := range debs {
		_ = os.Remove(d)
	}
	if err := os.WriteFile(filepath.Join(tmp, ".ddc-gitops-complete"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_ = os.RemoveAll(dir)
	if err := os.Rename(tmp, dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// newRoot copies the cached root to dir as a fresh host: services are not
// started by package scripts (policy-rc.d, as in any chroot), the machine's
// resolver is used, and apt's package cache is seeded from earlier runs.
func newRoot(t *testing.T, base, dir string) {
	t.Helper()
	if out, err := exec.Command("cp", "-a", base, dir).CombinedOutput(); err != nil {
		t.Fatalf("copying the root: %v\n%s", err, out)
	}
	must(t, os.WriteFile(filepath.Join(dir, "usr/sbin/policy-rc.d"), []byte("#!/bin/sh\nexit 101\n"), 0o755))
	if b, err := os.ReadFile("/etc/resolv.conf"); err == nil {
		must(t, os.WriteFile(filepath.Join(dir, "etc/resolv.conf"), b, 0o644))
	}
	debs, _ := filepath.Glob(filepath.Join(cacheDir(t), "archives", "*.deb"))
	for _, d := range debs {
		dst := filepath.Join(dir, "var/cache/apt/archives", filepath.Base(d))
		if _, err := os.Stat(dst); err == nil {
			continue
		}
		if err := os.Link(d, dst); err != nil {
			if out, err := exec.Command("cp", d, dst).CombinedOutput(); err != nil {
				t.Fatalf("seeding apt's cache: %v\n%s", err, out)
			}
		}
	}
}

// keepDebs copies the packages apt downloaded into root back to the cache.
func keepDebs(t *testing.T, root string) {
	t.Helper()
	dst := filepath.Join(cacheDir(t), "archives")
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Log(err)
		return
	}
	debs, _ := filepath.Glob(filepath.Join(root, "var/cache/apt/archives", "*.deb"))
	for _, d := range debs {
		to := filepath.Join(dst, filepath.Base(d))
		if _, err := os.Stat(to); err == nil {
			continue
		}
		if out, err := exec.Command("cp", d, to+".tmp").CombinedOutput(); err != nil {
			t.Logf("keeping %s: %v %s", d, err, out)
			continue
		}
		_ = os.Rename(to+".tmp", to)
	}
}

// inRoot runs a command chrooted into root.
func inRoot(t *testing.T, root string, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command("chroot", append([]string{root}, args...)...).CombinedOutput()
	return string(out), err
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func tail(b []byte) string {
	s := string(b)
	if len(s) > 4000 {
		s = "..." + s[len(s)-4000:]
	}
	return s
}

// buildPackage runs `make package` and returns the .deb.
func buildPackage(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "make", "-s", "-C", "..", "package").CombinedOutput()
	if err != nil {
		t.Fatalf("make package: %v\n%s", err, tail(out))
	}
	lines := strings.Fields(strings.TrimSpace(string(out)))
	deb := lines[len(lines)-1]
	if !strings.HasSuffix(deb, ".deb") {
		t.Fatalf("make package printed no .deb path:\n%s", out)
	}
	return deb
}

// recapChanged parses ansible-playbook's PLAY RECAP into changed counts per
// host, failing the test on a failed or unreachable host.
func recapChanged(t *testing.T, out string) map[string]int {
	t.Helper()
	i := strings.LastIndex(out, "PLAY RECAP")
	if i < 0 {
		t.Fatalf("no PLAY RECAP in the output:\n%s", tail([]byte(out)))
	}
	changed := map[string]int{}
	for _, l := range strings.Split(out[i:], "\n")[1:] {
		f := strings.Fields(l)
		if len(f) < 3 || f[1] != ":" {
			continue
		}
		kv := map[string]int{}
		for _, p := range f[2:] {
			var k string
			var v int
			if n, _ := fmt.Sscanf(strings.Replace(p, "=", " ", 1), "%s %d", &k, &v); n == 2 {
				kv[k] = v
			}
		}
		if kv["failed"] > 0 || kv["unreachable"] > 0 {
			t.Fatalf("host %s failed:\n%s", f[0], tail([]byte(out)))
		}
		changed[f[0]] = kv["changed"]
	}
	return changed
}
