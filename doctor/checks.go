package doctor

import (
	"bufio"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// minHAProxy is the oldest haproxy the agent drives (runtime add/del server).
var minHAProxy = [2]int{2, 6}

var reVersion = regexp.MustCompile(`(?i)version (\d+)\.(\d+)(?:\.(\d+))?`)

func checkHAProxy(ctx context.Context, c Config) []Result {
	r := Result{Name: "haproxy version"}
	out, err := exec.CommandContext(ctx, c.HAProxyBin, "-v").CombinedOutput()
	if err != nil {
		r.Status, r.Detail = Fail, fmt.Sprintf("%s -v: %v", c.HAProxyBin, err)
		r.Fix = "apt-get install haproxy (Debian 12 ships 2.6), or set --haproxy-bin"
		return []Result{r}
	}
	m := reVersion.FindStringSubmatch(string(out))
	if m == nil {
		r.Status, r.Detail, r.Fix = Fail, fmt.Sprintf("cannot read a version in %q", firstLine(out)), "check --haproxy-bin names haproxy"
		return []Result{r}
	}
	major, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	r.Detail = fmt.Sprintf("%s: %s", c.HAProxyBin, firstLine(out))
	if major < minHAProxy[0] || major == minHAProxy[0] && minor < minHAProxy[1] {
		r.Status, r.Fix = Fail, fmt.Sprintf("haproxy %d.%d or newer is needed (runtime add/del server): upgrade haproxy", minHAProxy[0], minHAProxy[1])
		return []Result{r}
	}
	r.Status = OK
	return []Result{r}
}

func checkMasterSocket(ctx context.Context, c Config) []Result {
	r := Result{Name: "haproxy master socket"}
	fix := "run haproxy in master-worker mode with its master CLI: Debian's haproxy.service does (-Ws -S /run/haproxy-master.sock); " +
		"systemctl start haproxy, or set --master-socket to its -S path"
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.MasterSocket)
	if err != nil {
		r.Status, r.Detail, r.Fix = Fail, fmt.Sprintf("%s: %v", c.MasterSocket, err), fix
		return []Result{r}
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	// Without prompt mode the master never closes after `show proc`.
	if _, err := conn.Write([]byte("prompt\nshow proc\nquit\n")); err != nil {
		r.Status, r.Detail, r.Fix = Fail, fmt.Sprintf("%s: %v", c.MasterSocket, err), fix
		return []Result{r}
	}
	workers := 0
	sc := bufio.NewScanner(conn)
	for sc.Scan() {
		f := strings.Fields(strings.TrimLeft(sc.Text(), "> "))
		if len(f) >= 2 && f[1] == "worker" {
			workers++
		}
	}
	if workers == 0 {
		r.Status, r.Detail, r.Fix = Fail, fmt.Sprintf("%s answers but lists no worker", c.MasterSocket), "systemctl status haproxy; journalctl -u haproxy"
		return []Result{r}
	}
	r.Status, r.Detail = OK, fmt.Sprintf("%s: master with %d worker(s)", c.MasterSocket, workers)
	return []Result{r}
}

func checkKeepalived(ctx context.Context, c Config) []Result {
	if !c.Keepalived {
		return []Result{{Name: "keepalived", Status: OK, Detail: "not managed (--keepalived=false)"}}
	}
	r := Result{Name: "keepalived"}
	out, err := exec.CommandContext(ctx, c.KeepalivedBin, "-v").CombinedOutput()
	if err != nil {
		r.Status, r.Detail, r.Fix = Fail, fmt.Sprintf("%s -v: %v", c.KeepalivedBin, err), "apt-get install keepalived, or set --keepalived-bin"
		return []Result{r}
	}
	r.Detail = firstLine(out)
	b, err := os.ReadFile(c.KeepaliveP)
	pid, perr := strconv.Atoi(strings.TrimSpace(string(b)))
	switch {
	case err != nil || perr != nil:
		r.Status, r.Detail = Warn, r.Detail+fmt.Sprintf("; not running (no pid in %s)", c.KeepaliveP)
		r.Fix = "keepalived.service starts once the agent wrote /etc/keepalived/keepalived.conf: systemctl enable --now keepalived"
	case syscall.Kill(pid, 0) != nil && !errors.Is(syscall.Kill(pid, 0), syscall.EPERM):
		r.Status, r.Detail = Fail, r.Detail+fmt.Sprintf("; pid %d from %s is not running", pid, c.KeepaliveP)
		r.Fix = "systemctl restart keepalived; journalctl -u keepalived"
	default:
		r.Status, r.Detail = OK, r.Detail+fmt.Sprintf("; running (pid %d)", pid)
	}
	return []Result{r}
}

func checkNonlocalBind(_ context.Context, c Config) []Result {
	r := Result{Name: "net.ipv4.ip_nonlocal_bind"}
	b, err := os.ReadFile(filepath.Join(c.ProcSys, "net/ipv4/ip_nonlocal_bind"))
	fix := "echo net.ipv4.ip_nonlocal_bind=1 > /etc/sysctl.d/60-ddc-gitops.conf && sysctl --system (haproxy binds VIPs this host does not hold yet)"
	switch {
	case err != nil:
		r.Status, r.Detail, r.Fix = Fail, err.Error(), fix
	case strings.TrimSpace(string(b)) != "1":
		r.Status, r.Detail, r.Fix = Fail, "is "+strings.TrimSpace(string(b)), fix
	default:
		r.Status, r.Detail = OK, "is 1"
	}
	return []Result{r}
}

func checkCertificates(_ context.Context, c Config) []Result {
	if c.CrtBase == "" {
		return []Result{{Name: "certificates", Status: OK, Detail: "no --crt-base"}}
	}
	entries, err := os.ReadDir(c.CrtBase)
	if err != nil {
		return []Result{{Name: "certificates", Status: Fail, Detail: err.Error(),
			Fix: fmt.Sprintf("install -d -m 0700 %s; the agent decrypts the fleet's secrets/NAME.age into it (--age-identity)", c.CrtBase)}}
	}
	var out []Result
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		out = append(out, checkCertFile(filepath.Join(c.CrtBase, e.Name()), c))
	}
	if len(out) == 0 {
		return []Result{{Name: "certificates", Status: Warn, Detail: c.CrtBase + " is empty",
			Fix: "add this host's recipient (/etc/ddc-gitops/age.pub) to secrets/recipients.txt and re-encrypt the certificates (ddc-gitops secrets encrypt)"}}
	}
	return out
}

func checkCertFile(path string, c Config) Result {
	r := Result{Name: "certificate " + filepath.Base(path)}
	b, err := os.ReadFile(path)
	if err != nil {
		r.Status, r.Detail, r.Fix = Fail, err.Error(), "chown root:root "+path+" && chmod 0600 "+path
		return r
	}
	var cert *x509.Certificate
	hasKey := false
	for rest := b; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		switch {
		case blk.Type == "CERTIFICATE" && cert == nil:
			cert, err = x509.ParseCertificate(blk.Bytes)
			if err != nil {
				r.Status, r.Detail, r.Fix = Fail, "unreadable certificate: "+err.Error(), "re-encrypt a valid PEM (certificate, chain, key) into secrets/"
				return r
			}
		case strings.HasSuffix(blk.Type, "PRIVATE KEY"):
			hasKey = true
		}
	}
	if cert == nil {
		r.Status, r.Detail, r.Fix = Fail, "no certificate in the file", "haproxy's crt wants certificate, chain and key in one PEM"
		return r
	}
	left := cert.NotAfter.Sub(c.Now())
	r.Detail = fmt.Sprintf("%s, expires %s (%d days)", cert.Subject.CommonName, cert.NotAfter.Format("2006-01-02"), int(left.Hours()/24))
	st, _ := os.Stat(path)
	switch {
	case left <= 0:
		r.Status, r.Fix = Fail, "expired: renew it and commit the new secrets/"+filepath.Base(path)+".age"
	case left < c.CertMinValid:
		r.Status, r.Fix = Warn, fmt.Sprintf("expires within %d days: renew it and commit the new secrets/%s.age", int(c.CertMinValid.Hours()/24), filepath.Base(path))
	case hasKey && st != nil && st.Mode().Perm()&0o077 != 0:
		r.Status, r.Fix = Warn, fmt.Sprintf("holds a private key with mode %04o: chmod 0600 %s", st.Mode().Perm(), path)
	default:
		r.Status = OK
	}
	return r
}

func checkClock(_ context.Context, _ Config) []Result {
	r := Result{Name: "clock synchronised"}
	var tx unix.Timex
	state, err := unix.Adjtimex(&tx)
	switch {
	case err != nil:
		r.Status, r.Detail = Warn, "adjtimex: "+err.Error()
		r.Fix = "timedatectl status"
	case state == unix.TIME_ERROR || tx.Status&unix.STA_UNSYNC != 0:
		r.Status, r.Detail = Warn, "the kernel says the clock is not synchronised"
		r.Fix = "apt-get install systemd-timesyncd (or chrony) && timedatectl set-ntp true: certificates, tokens and logs need the right time"
	default:
		r.Status, r.Detail = OK, fmt.Sprintf("synchronised (estimated error %d µs)", tx.Esterror)
	}
	return []Result{r}
}

func checkGit(ctx context.Context, c Config) []Result {
	if c.RemoteHead == nil {
		return []Result{{Name: "fleet repository", Status: Fail, Detail: "no --repo",
			Fix: "set --repo in DDC_GITOPS_AGENT_ARGS (/etc/default/ddc-gitops-agent)"}}
	}
	head, err := c.RemoteHead(ctx)
	if err != nil {
		fix := "check --repo and the network path to it"
		s := err.Error()
		switch {
		case strings.Contains(s, "authentication") || strings.Contains(s, "authorization") || strings.Contains(s, "401") || strings.Contains(s, "403"):
			fix = "the repository refuses the credentials: put a valid read token in --git-token-file (/etc/ddc-gitops/git-token, root 0600)"
		case strings.Contains(s, "knownhosts") || strings.Contains(s, "known_hosts"):
			fix = "add the git server's host key to --known-hosts (ssh-keyscan HOST >> FILE, then verify it)"
		case strings.Contains(s, "no branch"):
			fix = "check --branch"
		}
		return []Result{{Name: "fleet repository", Status: Fail, Detail: s, Fix: fix}}
	}
	return []Result{{Name: "fleet repository", Status: OK, Detail: fmt.Sprintf("%s: head %.12s", c.Repo, head)}}
}

func checkDisk(_ context.Context, c Config) []Result {
	r := Result{Name: "state directory space"}
	dir := c.StateDir
	for {
		if _, err := os.Stat(dir); err == nil || dir == "/" || dir == "." {
			break
		}
		dir = filepath.Dir(dir)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		r.Status, r.Detail, r.Fix = Fail, err.Error(), "create "+c.StateDir
		return []Result{r}
	}
	free := st.Bavail * uint64(st.Bsize)
	r.Detail = fmt.Sprintf("%s: %d MiB free", c.StateDir, free>>20)
	if free < c.MinFreeBytes {
		r.Status, r.Fix = Fail, fmt.Sprintf("the agent keeps a clone of the fleet repository and the last good configs there: free at least %d MiB", c.MinFreeBytes>>20)
		return []Result{r}
	}
	r.Status = OK
	return []Result{r}
}

func firstLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
