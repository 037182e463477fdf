// Package doctor checks a host against what the ddc-gitops agent needs,
// the production checklist as code: haproxy's version and master socket,
// keepalived, net.ipv4.ip_nonlocal_bind, the certificates in crt-base,
// clock synchronisation, the fleet repository's reachability with the
// agent's credentials, and free space for the state directory. Each check
// says what is wrong and how to fix it.
package doctor

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
)

// Status is a check's verdict.
type Status string

// Verdicts: a failed check stops the agent from working; a warning will
// (an expiring certificate) or might (an unsynchronised clock).
const (
	OK   Status = "ok"
	Warn Status = "warn"
	Fail Status = "FAIL"
)

// Result is one check's outcome.
type Result struct {
	Name   string
	Status Status
	Detail string
	// Fix says what to do when Status is not OK.
	Fix string
}

// Config is the host and the agent settings the checks look at.
type Config struct {
	Host string
	// HAProxyBin, MasterSocket: haproxy.service's binary and -S socket.
	HAProxyBin, MasterSocket string
	// Keepalived: whether the agent manages keepalived; its binary and
	// pid file.
	Keepalived                bool
	KeepalivedBin, KeepaliveP string
	// CrtBase is the certificates directory ("" skips the check);
	// CertMinValid how long each certificate must stay valid.
	CrtBase      string
	CertMinValid time.Duration
	// ProcSys is /proc/sys (tests point it elsewhere).
	ProcSys string
	// Repo, with RemoteHead asking it for the branch head (nil skips).
	Repo       string
	RemoteHead func(ctx context.Context) (string, error)
	// StateDir and the free space it needs.
	StateDir     string
	MinFreeBytes uint64
	Now          func() time.Time
}

// Run runs every check, in order, each bounded by timeout.
func Run(ctx context.Context, c Config, timeout time.Duration) []Result {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.ProcSys == "" {
		c.ProcSys = "/proc/sys"
	}
	checks := []func(context.Context, Config) []Result{
		checkHAProxy, checkMasterSocket, checkKeepalived, checkNonlocalBind,
		checkCertificates, checkClock, checkGit, checkDisk,
	}
	var out []Result
	for _, ch := range checks {
		cctx, cancel := context.WithTimeout(ctx, timeout)
		out = append(out, ch(cctx, c)...)
		cancel()
	}
	return out
}

// Failed reports whether any result failed.
func Failed(rs []Result) bool {
	for _, r := range rs {
		if r.Status == Fail {
			return true
		}
	}
	return false
}

// Print writes the results, one a line, with the fix under each problem.
func Print(w io.Writer, rs []Result) {
	for _, r := range rs {
		fmt.Fprintf(w, "%-4s  %-26s %s\n", r.Status, r.Name, r.Detail)
		if r.Status != OK && r.Fix != "" {
			for _, l := range strings.Split(r.Fix, "\n") {
				fmt.Fprintf(w, "      %-26s fix: %s\n", "", l)
			}
		}
	}
}
