package deploy_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/pem"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/ddc-gitops/ddc-gitops/examples"
	"github.com/ddc-gitops/ddc-gitops/internal/gitserver"
	"github.com/ddc-gitops/ddc-gitops/internal/netns"
	"github.com/ddc-gitops/ddc-gitops/internal/netns/netnstest"
	"github.com/ddc-gitops/ddc-gitops/secrets"
)

const (
	hostName  = "eu-haproxy-1"
	apiName   = "api-1"
	hostAddr  = "198.18.1.11"
	gitAddr   = "198.18.1.250"
	gitToken  = "git-token-0123456789abcdef"
	syncToken = "sync-token-0123456789abcdef0123456789abcdef"
)

// TestAnsibleSite is the deployment path for real, on Debian 12 root
// filesystems: `make package`; the cached debootstrap root copied per host
// (an HAProxy host, an API + bot host); deploy/ansible/site.yml applied over
// the chroot connection; then the result checked (package and units,
// systemd-analyze verify, enabled units, user, modes, sysctl, firewall),
// the playbook run a second time changing nothing, and the agent installed
// in the HAProxy host's root run as its unit runs it (ExecStart with
// /etc/default/ddc-gitops-agent) with --once, next to that root's own
// haproxy started as Debian's haproxy.service does, in a network namespace,
// against a git server in another: it converges, decrypts the certificate
// encrypted to the identity the playbook created, and haproxy serves it.
//
// It needs root, debootstrap and ansible (Debian's package: it has the
// community.general.chroot connection), and the netns lock:
// flock /tmp/ddc-netns.lock go test ./deploy/
func TestAnsibleSite(t *testing.T) {
	netnstest.RequireRoot(t)
	for _, bin := range []string{"debootstrap", "ansible-playbook", "chroot", "git"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("skipping: %s not installed (make deps installs it)", bin)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	start := time.Now()
	deb := buildPackage(t)
	base := baseRoot(t)
	work := t.TempDir()
	roots := map[string]string{hostName: filepath.Join(work, hostName), apiName: filepath.Join(work, apiName)}
	for _, r := range roots {
		newRoot(t, base, r)
	}
	t.Logf("package and roots ready in %s", time.Since(start).Round(time.Second))

	// The zone network and a git server on it, in namespaces.
	lab := netnstest.NewLab(t)
	gitHost, err := lab.AddHost(ctx, "git", netns.Link{Zone: "eu", Addr: netip.MustParsePrefix(gitAddr + "/24")})
	must(t, err)
	host, err := lab.AddHost(ctx, hostName, netns.Link{Zone: "eu", Addr: netip.MustParsePrefix(hostAddr + "/24")})
	must(t, err)
	gs, err := gitserver.New(filepath.Join(work, "git"), gitserver.Options{Addr: gitAddr + ":0", Token: gitToken})
	must(t, err)
	must(t, gitHost.Do(gs.Start))
	t.Cleanup(func() { _ = gs.Close() })
	if _, err := gs.Seed("../examples/fleet", "seed"); err != nil {
		t.Fatal(err)
	}

	inv := filepath.Join(work, "inventory.yml")
	must(t, os.WriteFile(inv, []byte(inventory(deb, gs.URL(), roots, filepath.Join(work, "recipients"))), 0o644))
	playbook := func() string {
		cmd := exec.CommandContext(ctx, "ansible-playbook", "-i", inv, "site.yml")
		cmd.Dir = "ansible"
		cmd.Env = append(os.Environ(), "ANSIBLE_NOCOLOR=1", "ANSIBLE_FORCE_COLOR=0")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("ansible-playbook: %v\n%s", err, tail(out))
		}
		return string(out)
	}
	t0 := time.Now()
	first := recapChanged(t, playbook())
	t.Logf("first playbook run: %s, changed %v", time.Since(t0).Round(time.Second), first)
	for _, r := range roots {
		keepDebs(t, r)
	}

	t.Run("installed", func(t *testing.T) { checkInstalled(t, roots) })

	t1 := time.Now()
	second := recapChanged(t, playbook())
	t.Logf("second playbook run: %s, changed %v", time.Since(t1).Round(time.Second), second)
	for h, n := range second {
		if n != 0 {
			t.Errorf("second run changed %d task(s) on %s: the playbook is not idempotent", n, h)
		}
	}

	t.Run("agent converges from the root", func(t *testing.T) {
		runAgentFromRoot(t, ctx, roots[hostName], host, gs, filepath.Join(work, "recipients", hostName+".age.pub"))
	})
	t.Logf("total %s", time.Since(start).Round(time.Second))
}

func inventory(deb, repo string, roots map[string]string, recipients string) string {
	return fmt.Sprintf(`all:
  vars:
    ansible_connection: community.general.chroot
    ansible_python_interpreter: /usr/bin/python3
    ddc_gitops_manage_services: false
    ddc_gitops_deb: %s
    ddc_gitops_repo: %s
    ddc_gitops_git_token: %s
    ddc_gitops_sync_token: %s
    ddc_gitops_recipients_dir: %s
    ddc_gitops_admin_cidrs: [198.18.0.0/24]
    ddc_gitops_monitoring_cidrs: [198.18.0.0/24]
  children:
    haproxy:
      children:
        eu:
          vars: {ddc_gitops_zone: eu}
          hosts:
            %s: {ansible_host: %s, ddc_gitops_address: %s}
    api:
      hosts:
        %s:
          ansible_host: %s
          ddc_gitops_jwt_secret: 0123456789abcdef0123456789abcdef
          ddc_gitops_api_users:
            - {username: ops, passwordHash: "$2a$10$0123456789012345678901uJ0m5k4yB0Zl3l3w1n8z2bq0b6y2cKa", role: admin}
    bot:
      hosts:
        %s:
          ddc_gitops_bot_rpc_url: http://%s:8545
          ddc_gitops_bot_contract: "0x0000000000000000000000000000000000000001"
          ddc_gitops_bot_cluster_zones: "0x0000000000000000000000000000000000000000000000000000000000000002=eu"
`, deb, repo, gitToken, syncToken, recipients, hostName, roots[hostName], hostAddr, apiName, roots[apiName], apiName, gitAddr)
}

// checkInstalled checks what the playbook left in each root.
func checkInstalled(t *testing.T, roots map[string]string) {
	for name, root := range roots {
		out, err := inRoot(t, root, "dpkg", "-L", "ddc-gitops")
		if err != nil {
			t.Fatalf("%s: dpkg -L: %v\n%s", name, err, out)
		}
		for _, u := range []string{"ddc-gitops-agent.service", "ddc-gitops-api.service", "ddc-gitops-bot.service"} {
			if !strings.Contains(out, "/lib/systemd/system/"+u+"\n") {
				t.Errorf("%s: dpkg -L does not list %s", name, u)
			}
			if _, err := exec.LookPath("systemd-analyze"); err == nil {
				if b, err := exec.Command("systemd-analyze", "verify", "--root="+root, "/lib/systemd/system/"+u).CombinedOutput(); err != nil || len(bytes.TrimSpace(b)) > 0 {
					t.Errorf("%s: systemd-analyze verify %s: %v\n%s", name, u, err, b)
				}
				if name == hostName {
					checkExposure(t, root, u)
				}
			}
		}
		if out, err := inRoot(t, root, "getent", "passwd", "ddc-gitops"); err != nil || !strings.Contains(out, ":/var/lib/ddc-gitops:/usr/sbin/nologin") {
			t.Errorf("%s: no ddc-gitops system user: %v %q", name, err, out)
		}
		if out, err := inRoot(t, root, "ddc-gitops", "--version"); err != nil || !strings.Contains(out, "ddc-gitops version") {
			t.Errorf("%s: ddc-gitops --version: %v %q", name, err, out)
		}
		checkMode(t, root, "/etc/ddc-gitops", 0o750, "root", "ddc-gitops")
		checkMode(t, root, "/var/lib/ddc-gitops", 0o755, "root", "root")
		checkMode(t, root, "/usr/share/bash-completion/completions/ddc-gitops", 0o644, "root", "root")
		checkMode(t, root, "/usr/share/man/man1/ddc-gitops-agent.1", 0o644, "root", "root")
	}
	h, a := roots[hostName], roots[apiName]
	for _, u := range []string{"haproxy.service", "keepalived.service", "ddc-gitops-agent.service", "nftables.service", "systemd-timesyncd.service"} {
		if out, err := inRoot(t, h, "systemctl", "is-enabled", u); err != nil || strings.TrimSpace(out) != "enabled" {
			t.Errorf("%s: %s is %q (%v), want enabled", hostName, u, strings.TrimSpace(out), err)
		}
	}
	for _, u := range []string{"ddc-gitops-api.service", "ddc-gitops-bot.service"} {
		if out, err := inRoot(t, a, "systemctl", "is-enabled", u); err != nil || strings.TrimSpace(out) != "enabled" {
			t.Errorf("%s: %s is %q (%v), want enabled", apiName, u, strings.TrimSpace(out), err)
		}
		if out, _ := inRoot(t, h, "systemctl", "is-enabled", u); strings.TrimSpace(out) == "enabled" {
			t.Errorf("%s: %s is enabled on an HAProxy host", hostName, u)
		}
	}
	checkMode(t, h, "/etc/ddc-gitops/age.key", 0o600, "root", "root")
	checkMode(t, h, "/etc/ddc-gitops/git-token", 0o600, "root", "root")
	checkMode(t, h, "/etc/ddc-gitops/sync-token", 0o600, "root", "root")
	checkMode(t, h, "/etc/haproxy/certs", 0o700, "root", "root")
	checkMode(t, a, "/etc/ddc-gitops/jwt-secret", 0o640, "root", "ddc-gitops")
	checkMode(t, a, "/etc/ddc-gitops/api-users.yaml", 0o640, "root", "ddc-gitops")
	if b, err := os.ReadFile(filepath.Join(h, "etc/sysctl.d/60-ddc-gitops.conf")); err != nil || !strings.Contains(string(b), "net.ipv4.ip_nonlocal_bind=1") {
		t.Errorf("sysctl file: %v %q", err, b)
	}
	if out, err := inRoot(t, h, "nft", "-c", "-f", "/etc/nftables.conf"); err != nil {
		t.Errorf("nft -c /etc/nftables.conf: %v\n%s", err, out)
	}
	nft, _ := os.ReadFile(filepath.Join(h, "etc/nftables.conf"))
	for _, want := range []string{"tcp dport { 80, 443, 9090 } accept", "policy drop", "tcp dport { 8404, 9100 } accept"} {
		if !bytes.Contains(nft, []byte(want)) {
			t.Errorf("nftables.conf lacks %q", want)
		}
	}
	def, _ := os.ReadFile(filepath.Join(h, "etc/default/ddc-gitops-agent"))
	for _, want := range []string{"--host " + hostName, "--git-token-file /etc/ddc-gitops/git-token", "--listen " + hostAddr + ":9100"} {
		if !bytes.Contains(def, []byte(want)) {
			t.Errorf("/etc/default/ddc-gitops-agent lacks %q:\n%s", want, def)
		}
	}
	agents, _ := os.ReadFile(filepath.Join(a, "etc/ddc-gitops/api-agents.yaml"))
	if !bytes.Contains(agents, []byte("url: http://"+hostAddr+":9100")) {
		t.Errorf("api-agents.yaml does not list the HAProxy host:\n%s", agents)
	}
}

// checkMode checks a path's mode and owner inside root.
func checkMode(t *testing.T, root, p string, mode os.FileMode, user, group string) {
	t.Helper()
	out, err := inRoot(t, root, "stat", "-c", "%a %U %G", p)
	if err != nil {
		t.Errorf("%s: %v %s", p, err, out)
		return
	}
	if want := fmt.Sprintf("%o %s %s", mode, user, group); strings.TrimSpace(out) != want {
		t.Errorf("%s in %s: %q, want %q", p, filepath.Base(root), strings.TrimSpace(out), want)
	}
}

// unitCommand is the agent's command line as systemd builds it from the
// unit's ExecStart= and its EnvironmentFile= ($VAR unquoted splits on
// whitespace; the file's quotes are removed).
func unitCommand(t *testing.T, root string) []string {
	t.Helper()
	unit, err := os.ReadFile(filepath.Join(root, "lib/systemd/system/ddc-gitops-agent.service"))
	must(t, err)
	env := map[string]string{}
	def, err := os.ReadFile(filepath.Join(root, "etc/default/ddc-gitops-agent"))
	must(t, err)
	for _, l := range strings.Split(string(def), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(l), "="); ok && !strings.HasPrefix(k, "#") {
			env[k] = strings.Trim(v, `"`)
		}
	}
	for _, l := range strings.Split(string(unit), "\n") {
		if rest, ok := strings.CutPrefix(l, "ExecStart="); ok {
			var argv []string
			for _, f := range strings.Fields(rest) {
				if v, ok := strings.CutPrefix(f, "$"); ok {
					argv = append(argv, strings.Fields(env[v])...)
					continue
				}
				argv = append(argv, f)
			}
			return argv
		}
	}
	t.Fatal("no ExecStart in the agent unit")
	return nil
}

// runAgentFromRoot encrypts the example certificate to the identity the
// playbook created (as an operator does with the recipient it fetched),
// starts the root's haproxy as haproxy.service does, and runs the
// installed agent as its unit does, with --once, in the host's namespace.
func runAgentFromRoot(t *testing.T, ctx context.Context, root string, host *netns.Host, gs *gitserver.Server, recipientFile string) {
	// The recipient fetched by the playbook, the example certificate.
	rb, err := os.ReadFile(recipientFile)
	must(t, err)
	rs, err := secrets.ParseRecipients(bytes.NewReader(rb))
	must(t, err)
	id, _ := examples.LabIdentity("eu-haproxy-1")
	labIDs, err := age.ParseIdentities(bytes.NewReader(id))
	must(t, err)
	enc, err := os.ReadFile("../examples/fleet/secrets/ddc-example.pem.age")
	must(t, err)
	plain, err := secrets.Decrypt(enc, labIDs)
	must(t, err)
	forHost, err := secrets.Encrypt(plain, rs)
	must(t, err)
	// systemd gives haproxy.service 524288 files; this machine may cap the
	// hard limit lower (20000 here), and haproxy needs about 2 x maxconn:
	// fit maxconn to the limit, as the lab does.
	fleet, err := os.ReadFile("../examples/fleet/fleet.yaml")
	must(t, err)
	var lim syscall.Rlimit
	must(t, syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim))
	if lim.Max < 45000 {
		fleet = bytes.Replace(fleet, []byte("maxconn: 20000"), []byte(fmt.Sprintf("maxconn: %d", lim.Max/3)), 1)
	}
	if _, err := gs.Commit(map[string][]byte{"secrets/ddc-example.pem.age": forHost, "fleet.yaml": fleet}, nil, "encrypt the certificate to "+hostName); err != nil {
		t.Fatal(err)
	}

	// What a booted host has: /proc, /run/haproxy (haproxy's tmpfiles.d),
	// the sysctl the playbook wrote, applied in the host's namespace.
	must(t, os.MkdirAll(filepath.Join(root, "run/haproxy"), 0o755))
	must(t, syscall.Mount("proc", filepath.Join(root, "proc"), "proc", 0, ""))
	t.Cleanup(func() { _ = syscall.Unmount(filepath.Join(root, "proc"), syscall.MNT_DETACH) })
	if out, err := host.Command(ctx, "sysctl", "-p", filepath.Join(root, "etc/sysctl.d/60-ddc-gitops.conf")).CombinedOutput(); err != nil {
		t.Fatalf("sysctl -p: %v\n%s", err, out)
	}

	// haproxy as Debian's haproxy.service runs it.
	hp := host.Command(ctx, "chroot", root, "/usr/sbin/haproxy", "-Ws", "-f", "/etc/haproxy/haproxy.cfg", "-p", "/run/haproxy.pid", "-S", "/run/haproxy-master.sock")
	var hpOut bytes.Buffer
	hp.Stdout, hp.Stderr = &hpOut, &hpOut
	hp.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	must(t, hp.Start())
	t.Cleanup(func() {
		_ = syscall.Kill(-hp.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = hp.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-hp.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		if c, err := net.Dial("unix", filepath.Join(root, "run/haproxy-master.sock")); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy's master socket did not come up:\n%s", hpOut.String())
		}
		time.Sleep(50 * time.Millisecond) // polling a socket for a deadline, not waiting for time
	}

	argv := append(unitCommand(t, root), "--once")
	t.Logf("agent: chroot %s %s", filepath.Base(root), strings.Join(argv, " "))
	for i := 1; i <= 2; i++ {
		out, err := host.Command(ctx, "chroot", append([]string{root}, argv...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("agent --once (run %d): %v\n%s\nhaproxy:\n%s", i, err, tail(out), hpOut.String())
		}
		t.Logf("agent --once (run %d): %s", i, lastLine(out))
	}
	crt := filepath.Join(root, "etc/haproxy/certs/ddc-example.pem")
	st, err := os.Stat(crt)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("decrypted certificate: %v, mode %v", err, st)
	}
	block, _ := pem.Decode(plain)
	err = host.Do(func() error {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 3 * time.Second}, "tcp", hostAddr+":443", &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			return err
		}
		defer c.Close()
		if pc := c.ConnectionState().PeerCertificates; len(pc) == 0 || !bytes.Equal(pc[0].Raw, block.Bytes) {
			return fmt.Errorf("haproxy serves another certificate")
		}
		return nil
	})
	if err != nil {
		t.Errorf("HTTPS on %s:443: %v", hostAddr, err)
	}

	// doctor, from the root, with the unit's settings: every check but
	// keepalived (not started here: a warning) and the clock (the
	// machine's) passes.
	out, err := host.Command(ctx, "chroot", root, "ddc-gitops", "doctor").CombinedOutput()
	if err != nil {
		t.Errorf("doctor: %v\n%s", err, out)
	}
	for _, w := range []string{"ok    haproxy master socket", "ok    net.ipv4.ip_nonlocal_bind", "ok    certificate ddc-example.pem", "ok    fleet repository", "ok    state directory space"} {
		if !strings.Contains(string(out), w) {
			t.Errorf("doctor does not report %q:\n%s", w, out)
		}
	}
	t.Logf("doctor:\n%s", out)
}

func lastLine(b []byte) string {
	l := strings.Split(strings.TrimSpace(string(b)), "\n")
	return l[len(l)-1]
}

// checkExposure scores a unit with `systemd-analyze security` (offline, in
// the root) and fails above 2.5 of 10 (docs/deploy.md lists the scores).
func checkExposure(t *testing.T, root, unit string) {
	t.Helper()
	out, err := exec.Command("systemd-analyze", "security", "--offline=true", "--root="+root, unit).CombinedOutput()
	if err != nil {
		t.Errorf("systemd-analyze security %s: %v\n%s", unit, err, tail(out))
		return
	}
	i := strings.LastIndex(string(out), "Overall exposure level for "+unit+": ")
	if i < 0 {
		t.Errorf("systemd-analyze security %s: no overall exposure:\n%s", unit, tail(out))
		return
	}
	var score float64
	if _, err := fmt.Sscanf(string(out[i+len("Overall exposure level for "+unit+": "):]), "%f", &score); err != nil || score > 2.5 {
		t.Errorf("%s: exposure %.1f (%v), want at most 2.5", unit, score, err)
	}
	t.Logf("systemd-analyze security %s: %.1f", unit, score)
}
