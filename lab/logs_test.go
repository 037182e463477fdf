package lab

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func writeLogs(t *testing.T, state string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(state, "logs", name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteString(body); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
}

func TestLogsMergeAndFilter(t *testing.T) {
	state := t.TempDir()
	if err := os.MkdirAll(filepath.Join(state, "hosts", "eu-haproxy-1"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeLogs(t, state, map[string]string{
		"eu-haproxy-1.log": `{"time":"2026-12-04T10:00:01Z","level":"INFO","msg":"reconcile","component":"agent","host":"eu-haproxy-1","revision":"abc"}
{"time":"2026-12-04T10:00:04Z","level":"INFO","msg":"sync","component":"git-source","host":"eu-haproxy-1"}
`,
		"api-eu.log": `{"time":"2026-12-04T10:00:02Z","level":"INFO","msg":"request","component":"api","zone":"eu","request_id":"r1"}
`,
		"prometheus.log": `ts=2026-12-04T10:00:03Z caller=main.go:1 level=info msg="Server is ready"
panic: a continuation line without a time
ts=2026-12-04T10:00:00Z caller=main.go:1 level=info msg="Starting Prometheus"
`,
		"bot.log": `time=2026-12-04T10:00:02.5Z level=INFO msg="full sync done" component=bot host=none
partial line without newline`,
	})
	var out bytes.Buffer
	if err := Logs(context.Background(), LogsOptions{StateDir: state}, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	// Lines sort by time; a line without one keeps its predecessor's.
	want := []string{"prometheus   | ts=2026-12-04T10:00:00Z", "eu-haproxy-1 | {\"time\":\"2026-12-04T10:00:01Z\"", "api-eu       | ",
		"bot          | time=", "prometheus   | ts=2026-12-04T10:00:03Z", "prometheus   | panic:", "eu-haproxy-1 | {\"time\":\"2026-12-04T10:00:04Z\""}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want), out.String())
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d = %q, want prefix %q", i, lines[i], w)
		}
	}
	for _, tc := range []struct {
		o    LogsOptions
		want int
	}{
		{LogsOptions{Component: "agent"}, 2},      // the agent host's file
		{LogsOptions{Component: "git-source"}, 1}, // a component field
		{LogsOptions{Component: "api"}, 1},
		{LogsOptions{Host: "eu-haproxy-1"}, 2},
		{LogsOptions{Host: "none"}, 1}, // a host field
		{LogsOptions{Component: "agent", Host: "bot"}, 0},
	} {
		tc.o.StateDir = state
		var b bytes.Buffer
		if err := Logs(context.Background(), tc.o, &b); err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(b.String(), "\n"); n != tc.want {
			t.Errorf("%+v: %d lines, want %d:\n%s", tc.o, n, tc.want, b.String())
		}
	}
	if err := Logs(context.Background(), LogsOptions{StateDir: filepath.Join(state, "nope")}, &out); err == nil {
		t.Error("a state dir without logs/: no error")
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestLogsFollow(t *testing.T) {
	state := t.TempDir()
	writeLogs(t, state, map[string]string{"bot.log": "time=2026-12-04T10:00:00Z msg=one\n"})
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- Logs(ctx, LogsOptions{StateDir: state, Follow: true, Poll: 10 * time.Millisecond}, out)
	}()
	waitOut := func(want string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(out.String(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("no %q in:\n%s", want, out.String())
			}
			time.Sleep(5 * time.Millisecond) // polling the follower's output with a deadline
		}
	}
	waitOut("msg=one")
	writeLogs(t, state, map[string]string{"bot.log": "time=2026-12-04T10:00:01Z msg=two\n", "eu-node-1.log": `{"time":"2026-12-04T10:00:02Z","msg":"three"}` + "\n"})
	waitOut(`"three"`)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if s := out.String(); strings.Count(s, "msg=one") != 1 || strings.Index(s, "msg=two") > strings.Index(s, "three") {
		t.Errorf("follow output:\n%s", s)
	}
}
