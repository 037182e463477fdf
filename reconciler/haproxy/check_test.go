package haproxy_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/reconciler/haproxy"
	"github.com/ddc-gitops/ddc-gitops/reconciler/haproxy/haproxytest"
)

const validConfig = `global
    maxconn 100
    default-path config
defaults
    mode http
    timeout connect 1s
    timeout client 1s
    timeout server 1s
frontend fe
    bind 127.0.0.1:1
    default_backend be
backend be
    balance roundrobin
    errorfile 503 errors/503.http
`

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "haproxy.cfg")
	// With `default-path config` the relative errorfile resolves against the
	// config's directory: the check must run on a file in that directory.
	if err := os.Mkdir(filepath.Join(dir, "errors"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "errors", "503.http"), []byte("HTTP/1.0 503 Service Unavailable\r\n\r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t, 30*time.Second)

	for _, tc := range []struct {
		name    string
		cfg     string
		wantErr []string // substrings of the error; nil: valid
	}{
		{"valid with a relative path", validConfig, nil},
		{"unknown keyword", validConfig + "    bogus_keyword 1\n", []string{target + ":15", "bogus_keyword"}},
		{"missing errorfile", strings.Replace(validConfig, "503.http", "404.http", 1), []string{"errors/404.http"}},
		{"no listener", strings.Replace(validConfig, "    bind 127.0.0.1:1\n", "", 1), []string{"no listener"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := haproxy.Check(ctx, haproxytest.Bin(), target, []byte(tc.cfg))
			if tc.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var ce *haproxy.CheckError
			if !errors.Is(err, haproxy.ErrInvalidConfig) || !errors.As(err, &ce) || ce.ExitCode == 0 {
				t.Fatalf("err = %v, want a CheckError", err)
			}
			for _, s := range tc.wantErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error does not mention %q:\n%v", s, err)
				}
			}
		})
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("Check left files behind: %v", entries)
	}
	if _, err := os.Stat(target); !os.IsNotExist(err) {
		t.Fatal("Check must not create the target")
	}

	err := haproxy.Check(ctx, filepath.Join(dir, "no-such-haproxy"), target, []byte(validConfig))
	if err == nil || errors.Is(err, haproxy.ErrInvalidConfig) {
		t.Fatalf("a missing binary is not an invalid config: %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := haproxy.Check(cancelled, haproxytest.Bin(), target, []byte(validConfig)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled check: %v", err)
	}
}

func TestWriteConfig(t *testing.T) {
	p := filepath.Join(t.TempDir(), "haproxy.cfg")
	for i, tc := range []struct {
		data    string
		changed bool
	}{{"a\n", true}, {"a\n", false}, {"b\n", true}} {
		changed, err := haproxy.WriteConfig(p, []byte(tc.data))
		if err != nil || changed != tc.changed {
			t.Fatalf("write %d: changed=%v err=%v, want changed=%v", i, changed, err, tc.changed)
		}
		if got, _ := os.ReadFile(p); string(got) != tc.data {
			t.Fatalf("write %d: content %q", i, got)
		}
	}
	if _, err := haproxy.WriteConfig(filepath.Join(t.TempDir(), "missing", "x.cfg"), []byte("x")); err == nil {
		t.Fatal("want an error for a missing directory")
	}
}

func TestProcessExitsOnBadConfig(t *testing.T) {
	dir, err := os.MkdirTemp("", "hxbad")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	cfg := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte(validConfig+"    bogus_keyword 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &haproxy.Process{Bin: haproxytest.Bin(), ConfigPath: cfg, MasterSocket: filepath.Join(dir, "m.sock")}
	ctx := testCtx(t, 30*time.Second)
	runErr := make(chan error, 1)
	go func() { runErr <- p.Run(ctx) }()
	if err := p.Ready(ctx); err == nil || !strings.Contains(err.Error(), "exited before it was ready") {
		t.Fatalf("Ready = %v, want an early exit", err)
	}
	err = <-runErr
	if err == nil || !strings.Contains(err.Error(), "bogus_keyword") {
		t.Fatalf("Run = %v, want haproxy's output in the error", err)
	}
	if err := p.Run(ctx); err == nil {
		t.Fatal("a second Run must fail")
	}
}
