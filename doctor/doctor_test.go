package doctor

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/internal/gitserver"
	"github.com/ddc-gitops/ddc-gitops/internal/gitserver/gitservertest"
	"github.com/ddc-gitops/ddc-gitops/reconciler/source"
)

func one(t *testing.T, rs []Result) Result {
	t.Helper()
	if len(rs) != 1 {
		t.Fatalf("got %d results, want 1: %+v", len(rs), rs)
	}
	return rs[0]
}

func want(t *testing.T, r Result, st Status, detail string) {
	t.Helper()
	if r.Status != st || !strings.Contains(r.Detail, detail) {
		t.Errorf("%s: %s %q, want %s with %q", r.Name, r.Status, r.Detail, st, detail)
	}
	if st != OK && r.Fix == "" {
		t.Errorf("%s: %s without a fix", r.Name, r.Status)
	}
}

func script(t *testing.T, out string) string {
	p := filepath.Join(t.TempDir(), "bin")
	if err := os.WriteFile(p, []byte("#!/bin/sh\necho '"+out+"'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestHAProxyVersion(t *testing.T) {
	ctx := context.Background()
	want(t, one(t, checkHAProxy(ctx, Config{HAProxyBin: script(t, "HAProxy version 2.4.22-0 2023/02/14")})), Fail, "2.4.22")
	want(t, one(t, checkHAProxy(ctx, Config{HAProxyBin: script(t, "HAProxy version 2.8.3 2023/09/08")})), OK, "2.8.3")
	want(t, one(t, checkHAProxy(ctx, Config{HAProxyBin: "/nonexistent/haproxy"})), Fail, "/nonexistent/haproxy")
	if bin, err := exec.LookPath("haproxy"); err == nil {
		want(t, one(t, checkHAProxy(ctx, Config{HAProxyBin: bin})), OK, "HAProxy version")
	}
}

// TestMasterSocket runs a real haproxy master-worker with a master CLI.
func TestMasterSocket(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	dir := t.TempDir()
	sock := filepath.Join(dir, "master.sock")
	want(t, one(t, checkMasterSocket(ctx, Config{MasterSocket: sock})), Fail, "no such file")
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		t.Skip("haproxy not installed (make deps installs it)")
	}
	cfg := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte("global\n  maxconn 100\ndefaults\n  mode http\n  timeout client 1s\n  timeout server 1s\n  timeout connect 1s\nfrontend f\n  bind unix@"+filepath.Join(dir, "fe.sock")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-W", "-S", sock, "-f", cfg)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	var r Result
	for {
		r = one(t, checkMasterSocket(ctx, Config{MasterSocket: sock}))
		if r.Status == OK || ctx.Err() != nil {
			break
		}
		time.Sleep(50 * time.Millisecond) // polling for the socket, bounded by ctx
	}
	want(t, r, OK, "master with 1 worker(s)")
}

func TestNonlocalBind(t *testing.T) {
	for _, tt := range []struct {
		val string
		st  Status
	}{{"1\n", OK}, {"0\n", Fail}} {
		d := t.TempDir()
		if err := os.MkdirAll(filepath.Join(d, "net/ipv4"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "net/ipv4/ip_nonlocal_bind"), []byte(tt.val), 0o644); err != nil {
			t.Fatal(err)
		}
		want(t, one(t, checkNonlocalBind(context.Background(), Config{ProcSys: d})), tt.st, "is "+strings.TrimSpace(tt.val))
	}
}

func certPEM(t *testing.T, cn string, notAfter time.Time, withKey bool) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: notAfter.Add(-365 * 24 * time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if withKey {
		kb, _ := x509.MarshalPKCS8PrivateKey(key)
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb})...)
	}
	return out
}

func TestCertificates(t *testing.T) {
	now := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)
	dir := t.TempDir()
	files := map[string]struct {
		data []byte
		mode os.FileMode
	}{
		"good.pem":     {certPEM(t, "good", now.Add(90*24*time.Hour), true), 0o600},
		"soon.pem":     {certPEM(t, "soon", now.Add(5*24*time.Hour), true), 0o600},
		"expired.pem":  {certPEM(t, "expired", now.Add(-time.Hour), true), 0o600},
		"readable.pem": {certPEM(t, "readable", now.Add(90*24*time.Hour), true), 0o644},
		"junk.pem":     {[]byte("not a certificate"), 0o600},
	}
	for n, f := range files {
		if err := os.WriteFile(filepath.Join(dir, n), f.data, f.mode); err != nil {
			t.Fatal(err)
		}
	}
	c := Config{CrtBase: dir, CertMinValid: 21 * 24 * time.Hour, Now: func() time.Time { return now }}
	got := map[string]Result{}
	for _, r := range checkCertificates(context.Background(), c) {
		got[strings.TrimPrefix(r.Name, "certificate ")] = r
	}
	want(t, got["good.pem"], OK, "good, expires 2027-03-04 (90 days)")
	want(t, got["soon.pem"], Warn, "(5 days)")
	want(t, got["expired.pem"], Fail, "expired")
	want(t, got["readable.pem"], Warn, "readable")
	want(t, got["junk.pem"], Fail, "no certificate")
	want(t, one(t, checkCertificates(context.Background(), Config{CrtBase: t.TempDir()})), Warn, "is empty")
	want(t, one(t, checkCertificates(context.Background(), Config{CrtBase: filepath.Join(dir, "nope")})), Fail, "no such file")
}

func TestGit(t *testing.T) {
	ctx := context.Background()
	gs := gitservertest.New(t, gitserver.Options{Token: "right-token"})
	gitservertest.MustCommit(t, gs, map[string][]byte{"fleet.yaml": []byte("kind: Fleet\n")}, nil, "seed")
	head := func(token, branch string) func(context.Context) (string, error) {
		s := &source.Source{URL: gs.URL(), Branch: branch, Auth: source.Auth{Token: token}}
		return s.RemoteHead
	}
	r := one(t, checkGit(ctx, Config{Repo: gs.URL(), RemoteHead: head("right-token", "main")}))
	want(t, r, OK, "head ")
	r = one(t, checkGit(ctx, Config{Repo: gs.URL(), RemoteHead: head("wrong-token", "main")}))
	want(t, r, Fail, "")
	if !strings.Contains(r.Fix, "token") {
		t.Errorf("wrong token: fix %q does not name the token", r.Fix)
	}
	r = one(t, checkGit(ctx, Config{Repo: gs.URL(), RemoteHead: head("right-token", "nope")}))
	want(t, r, Fail, "no branch nope")
	want(t, one(t, checkGit(ctx, Config{})), Fail, "no --repo")
}

func TestDiskAndClock(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	want(t, one(t, checkDisk(ctx, Config{StateDir: filepath.Join(dir, "not/yet"), MinFreeBytes: 1})), OK, "MiB free")
	want(t, one(t, checkDisk(ctx, Config{StateDir: dir, MinFreeBytes: 1 << 62})), Fail, "MiB free")
	r := one(t, checkClock(ctx, Config{}))
	if r.Status == Fail || (r.Status == Warn && r.Fix == "") || r.Detail == "" {
		t.Errorf("clock: %+v", r)
	}
}
