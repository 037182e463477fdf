package docker

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/ddc-gitops/ddc-gitops/desired"
)

// dockerd is a Docker engine a test starts for itself: its own data root,
// exec root, socket and pid file, no default bridge, no iptables.
type dockerd struct {
	t    testing.TB
	ns   string // network namespace it runs in ("" = the test's)
	dir  string
	sock string
	cmd  *exec.Cmd
	done chan error
	eng  *Engine
}

// startDockerd starts a dockerd in a new directory; it is stopped and the
// directory removed when the test ends, even when it fails.
func startDockerd(t testing.TB) *dockerd { return startDockerdIn(t, "") }

// startDockerdIn is startDockerd inside network namespace ns.
func startDockerdIn(t testing.TB, ns string) *dockerd {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("dockerd needs root")
	}
	if _, err := exec.LookPath("dockerd"); err != nil {
		t.Skip("dockerd not installed (deploy/deps.sh installs docker.io)")
	}
	// Short paths: containerd's sockets live under the exec root.
	dir, err := os.MkdirTemp("", "ddcd")
	if err != nil {
		t.Fatal(err)
	}
	d := &dockerd{t: t, ns: ns, dir: dir, sock: filepath.Join(dir, "docker.sock")}
	t.Cleanup(func() {
		d.stop()
		unmountUnder(t, dir)
		if err := os.RemoveAll(dir); err != nil {
			t.Logf("removing %s: %v", dir, err)
		}
	})
	d.start()
	return d
}

func (d *dockerd) start() {
	t := d.t
	t.Helper()
	log, err := os.OpenFile(filepath.Join(d.dir, "dockerd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"dockerd",
		"--data-root", filepath.Join(d.dir, "data"),
		"--exec-root", filepath.Join(d.dir, "exec"),
		"-H", "unix://" + d.sock,
		"--pidfile", filepath.Join(d.dir, "docker.pid"),
		"--bridge=none", "--iptables=false", "--ip-masq=false",
		"--log-level=warn",
	}
	if d.ns != "" {
		// nsenter enters the network namespace only and execs dockerd (the
		// pid stays dockerd's). Not ip netns exec: it remounts /sys in a
		// new mount namespace, where dockerd finds no cgroups.
		args = append([]string{"nsenter", "--net=/run/netns/" + d.ns, "--"}, args...)
	}
	d.cmd = exec.Command(args[0], args[1:]...)
	d.cmd.Stdout, d.cmd.Stderr = log, log
	// Its own mount namespace (Go makes it private): the engine's overlay
	// mounts are never copied into the mount namespaces other tests create
	// meanwhile (ip netns exec, unshare), where they would stay busy
	// ("device or resource busy" when the engine removes a container after
	// a restart); they go away with the namespace when the engine is killed.
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Unshareflags: syscall.CLONE_NEWNS}
	if err := d.cmd.Start(); err != nil {
		log.Close()
		t.Fatalf("starting dockerd: %v", err)
	}
	log.Close()
	d.done = make(chan error, 1)
	go func(c *exec.Cmd, done chan error) { done <- c.Wait() }(d.cmd, d.done)
	if d.eng == nil {
		if d.eng, err = Dial("unix://" + d.sock); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.eng.Close() })
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := d.eng.Ping(ctx)
		cancel()
		if err == nil {
			return
		}
		select {
		case werr := <-d.done:
			d.done <- werr
			b, _ := os.ReadFile(filepath.Join(d.dir, "dockerd.log"))
			t.Fatalf("dockerd exited: %v\n%s", werr, b)
		default:
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(d.dir, "dockerd.log"))
			t.Fatalf("dockerd did not answer within 60s: %v\n%s", err, b)
		}
		time.Sleep(50 * time.Millisecond) // polling the socket for a condition
	}
}

// stop stops dockerd (SIGTERM, SIGKILL to its process group after 30s).
func (d *dockerd) stop() {
	if d.cmd == nil || d.cmd.Process == nil {
		return
	}
	select {
	case err := <-d.done:
		d.done <- err
		return
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.done:
		d.done <- err
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
		err := <-d.done
		d.done <- err
	}
	// containerd and its shims run in dockerd's process group.
	_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
}

// testImage builds the test server image as tag (once per dockerd).
func (d *dockerd) testImage(tag string) {
	t := d.t
	t.Helper()
	bin := filepath.Join(d.dir, "testsrv")
	if _, err := os.Stat(bin); err != nil {
		cmd := exec.Command("go", "build", "-o", bin, "./testdata/testsrv")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("building the test server: %v\n%s", err, out)
		}
	}
	exe, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := d.eng.BuildFromScratch(ctx, tag, "testsrv", exe); err != nil {
		t.Fatal(err)
	}
}

// fleet is the example fleet with containers/*.yaml from files.
func fleet(t testing.TB, files map[string]string) *desired.Fleet {
	t.Helper()
	m := fstest.MapFS{}
	root := os.DirFS("../../examples/fleet")
	err := fs.WalkDir(root, ".", func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := fs.ReadFile(root, p)
		m[p] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range files {
		p := "containers/" + name + ".yaml"
		if strings.Contains(name, "/") {
			p = name // a whole path: replaces an example file
		}
		m[p] = &fstest.MapFile{Data: []byte(body)}
	}
	f, err := desired.Load(m)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// containerFile is a container of the test image on eu-docker-1.
func containerFile(name, image string, n int, extra string) string {
	return fmt.Sprintf(`kind: Container
name: %s
image: %s
zone: eu
host: eu-docker-1
address: 198.18.1.%d
env:
  - name: PORT
    value: "8080"
  - name: NAME
    value: %s
port: 8080
health:
  path: /health
  interval: 200ms
  timeout: 1s
  retries: 2
%s`, name, image, 64+n, name, extra)
}

// newReconciler returns a reconciler for eu-docker-1 without networking.
func newReconciler(t testing.TB, d *dockerd, drift string) *Reconciler {
	t.Helper()
	r, err := NewReconciler(ReconcilerConfig{Engine: d.eng, Host: "eu-docker-1", Networking: NetworkNone, Drift: drift, StopGrace: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

// waitFor polls cond until it holds or 30s pass.
func waitFor(t testing.TB, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, detail := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %s", what, detail)
		}
		time.Sleep(50 * time.Millisecond) // polling for a condition
	}
}

// byName finds a container's status in a result.
func byName(res Result, name string) (st struct {
	State, Health, ID, Error string
	Restarts                 int
}) {
	for _, c := range res.Containers {
		if c.Name == name {
			st.State, st.Health, st.ID, st.Error, st.Restarts = c.State, c.Health, c.ID, c.Error, c.Restarts
		}
	}
	return st
}

// managedNames lists the names of the managed containers the engine has.
func managedNames(t testing.TB, e *Engine) map[string]container.Summary {
	t.Helper()
	cs, err := e.Managed(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]container.Summary{}
	for _, c := range cs {
		out[c.Labels[LabelContainer]] = c
	}
	return out
}

// unmountUnder detaches whatever a killed engine left mounted under dir.
func unmountUnder(t testing.TB, dir string) {
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		t.Logf("reading mounts: %v", err)
		return
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 1 && strings.HasPrefix(f[1], dir+"/") {
			if err := syscall.Unmount(f[1], syscall.MNT_DETACH); err != nil {
				t.Logf("unmounting %s: %v", f[1], err)
			}
		}
	}
}
