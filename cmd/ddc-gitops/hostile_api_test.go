package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// apiProc is a running `ddc-gitops api` under the address-space limit.
type apiProc struct {
	t    *testing.T
	cmd  *exec.Cmd
	url  string
	logs *bytes.Buffer
	mu   *sync.Mutex
	done chan struct{}
}

type lockedBuffer struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// freePort returns a loopback port free at the time of the call.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// writeFile writes data to a new file in dir and returns its path.
func writeFile(t *testing.T, dir, name, data string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func randomSecret(t *testing.T) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// bareFleetRepo is a bare repository whose main branch holds dir.
func bareFleetRepo(t *testing.T, dir string) string {
	t.Helper()
	gitCommitAll(t, dir)
	bare := filepath.Join(t.TempDir(), "fleet.git")
	if out, err := exec.Command("git", "clone", "-q", "--bare", dir, bare).CombinedOutput(); err != nil {
		t.Fatalf("git clone --bare: %v\n%s", err, out)
	}
	return bare
}

// startAPI starts the API on repo with one operator (otto/otto-password)
// and the extra flags.
func startAPI(t *testing.T, repo string, extra ...string) *apiProc {
	t.Helper()
	if _, err := exec.LookPath("prlimit"); err != nil {
		t.Skip("prlimit (util-linux) not installed")
	}
	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte("otto-password"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	users := writeFile(t, dir, "users.yaml", fmt.Sprintf("users:\n  - username: otto\n    passwordHash: %q\n    role: operator\n", hash))
	jwt := writeFile(t, dir, "jwt", randomSecret(t))
	port := freePort(t)
	args := append([]string{"api", "--listen", "127.0.0.1:" + strconv.Itoa(port),
		"--repo", repo, "--repo-dir", filepath.Join(dir, "clone"), "--users-file", users, "--jwt-secret-file", jwt,
		"--default-zone", "eu", "--log-level", "warn"}, extra...)
	return startLimited(t, port, "/api/v1/health", args...)
}

// startLimited runs the binary with args under prlimit's address-space
// limit, stops it at cleanup, and waits (15 s at most) until it answers GET
// readyPath on 127.0.0.1:port.
func startLimited(t *testing.T, port int, readyPath string, args ...string) *apiProc {
	t.Helper()
	p := &apiProc{t: t, url: "http://127.0.0.1:" + strconv.Itoa(port), logs: &bytes.Buffer{}, mu: &sync.Mutex{}, done: make(chan struct{})}
	p.cmd = exec.Command("prlimit", append([]string{fmt.Sprintf("--as=%d", addressSpaceLimit), "--", bin}, args...)...)
	p.cmd.Stdout = lockedBuffer{p.mu, p.logs}
	p.cmd.Stderr = lockedBuffer{p.mu, p.logs}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(p.url + readyPath)
		if err == nil {
			resp.Body.Close()
			return p
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited at start:\n%s", args[0], p.log())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer %s within 15s:\n%s", args[0], readyPath, p.log())
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
}

func (p *apiProc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return tail(p.logs.String())
}

// alive fails the test when the process has exited.
func (p *apiProc) alive() {
	p.t.Helper()
	select {
	case <-p.done:
		p.t.Fatalf("the API died:\n%s", p.log())
	default:
	}
}

// peakRSS is the process's peak resident set (VmHWM) so far.
func (p *apiProc) peakRSS() int64 {
	p.t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		p.t.Fatalf("reading the API's status: %v (did it die?)\n%s", err, p.log())
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	p.t.Fatal("no VmHWM in /proc status")
	return 0
}

func (p *apiProc) token() string {
	p.t.Helper()
	resp, err := http.Post(p.url+"/api/v1/auth/token", "application/json", strings.NewReader(`{"username":"otto","password":"otto-password"}`))
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil || tr.AccessToken == "" {
		p.t.Fatalf("login: %d %v", resp.StatusCode, err)
	}
	return tr.AccessToken
}

func (p *apiProc) do(method, path, token, body string) (int, string) {
	p.t.Helper()
	req, err := http.NewRequest(method, p.url+path, strings.NewReader(body))
	if err != nil {
		p.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatalf("%s %s: %v\n%s", method, path, err, p.log())
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func gitHead(t *testing.T, bare string) string {
	t.Helper()
	out, err := exec.Command("git", "-C", bare, "rev-parse", "main").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// TestAPIAliasBombHead: with an alias bomb at the branch head, the API
// stays up in bounded memory, reads answer, and a write is refused with the
// bomb's position; the branch does not move.
func TestAPIAliasBombHead(t *testing.T) {
	bare := bareFleetRepo(t, bombFleet(t))
	head := gitHead(t, bare)
	p := startAPI(t, bare)
	tok := p.token()
	line := fmt.Sprintf(`"line": %d`, bombLine(t))
	code, body := p.do(http.MethodGet, "/api/v1/zones", tok, "")
	if code != http.StatusOK {
		t.Fatalf("zones at the bomb head: %d %s", code, body)
	}
	code, body = p.do(http.MethodGet, "/api/v1/config", tok, "")
	if code != http.StatusConflict || !strings.Contains(body, line) {
		t.Fatalf("config at the bomb head: %d %s", code, body)
	}
	// Servers cannot be rendered from an invalid head: 409 with the position.
	code, body = p.do(http.MethodGet, "/api/v1/backends/ddc_nodes_http/servers", tok, "")
	if code != http.StatusConflict || !strings.Contains(body, line) || !strings.Contains(body, "alias *l3 expands the file") {
		t.Fatalf("servers at the bomb head: %d %s", code, body)
	}
	code, body = p.do(http.MethodPost, "/api/v1/backends/ddc_nodes_http/servers", tok, `{"name":"x","address":"198.18.7.9:80","weight":1}`)
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, "alias *l3 expands the file beyond 100000 YAML nodes") || !strings.Contains(body, line) {
		t.Fatalf("write at the bomb head: %d %s", code, body)
	}
	// The API used to die about 15 s after start (a background load of the
	// head); stay with it past that, reading as a client would.
	until := time.Now().Add(17 * time.Second)
	for time.Now().Before(until) {
		p.alive()
		if code, body := p.do(http.MethodGet, "/api/v1/zones", tok, ""); code != http.StatusOK {
			t.Fatalf("zones: %d %s", code, body)
		}
		time.Sleep(500 * time.Millisecond) // a client's pace, not a wait for a condition
	}
	if rss := p.peakRSS(); rss > maxPeakRSS {
		t.Fatalf("peak RSS %d MiB, want at most %d MiB", rss>>20, maxPeakRSS>>20)
	} else {
		t.Logf("peak RSS %d MiB", rss>>20)
	}
	if h := gitHead(t, bare); h != head {
		t.Fatalf("the branch moved from %s to %s", head, h)
	}
}

// TestWebhookUnsignedFlood: 32 concurrent 25 MB deliveries with a bad
// signature and as many with none cost the API well under 100 MB.
func TestWebhookUnsignedFlood(t *testing.T) {
	bare := bareFleetRepo(t, exampleFleet(t))
	secret := writeFile(t, t.TempDir(), "hook", randomSecret(t))
	p := startAPI(t, bare, "--webhook-github-secret-file", secret, "--webhook-generic-secret-file", secret)
	base := p.peakRSS()
	body := bytes.Repeat([]byte("x"), 25<<20)
	var wg sync.WaitGroup
	codes := make(chan int, 64)
	for i := range 64 {
		wg.Go(func() {
			path, header := "/api/v1/webhooks/github", "X-Hub-Signature-256"
			if i%2 == 1 {
				path, header = "/api/v1/webhooks/generic", "X-Signature-256"
			}
			req, _ := http.NewRequest(http.MethodPost, p.url+path, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-GitHub-Event", "push")
			if i%4 < 2 {
				req.Header.Set(header, "sha256="+strings.Repeat("ab", 32))
			}
			if i%8 >= 4 {
				req.ContentLength = -1 // chunked: no declared length to refuse early
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				codes <- 0 // the server may close before reading a refused body
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		})
	}
	wg.Wait()
	close(codes)
	count := map[int]int{}
	for c := range codes {
		count[c]++
		if c == http.StatusAccepted || c == http.StatusOK {
			t.Errorf("an unsigned delivery was accepted (%d)", c)
		}
	}
	p.alive()
	peak := p.peakRSS()
	t.Logf("responses %v; peak RSS %d MiB (before the flood %d MiB)", count, peak>>20, base>>20)
	if peak-base > 100<<20 {
		t.Fatalf("unsigned deliveries raised the peak RSS by %d MiB, want under 100 MiB", (peak-base)>>20)
	}
}

// TestWeakSecretsRefused: empty and short shared secrets stop the API and
// the agent at start with a message on how to make a good one.
func TestWeakSecretsRefused(t *testing.T) {
	dir := t.TempDir()
	empty := writeFile(t, dir, "empty", "\n")
	short := writeFile(t, dir, "short", "x")
	fleet := exampleFleet(t)
	state := t.TempDir()
	agent := []string{"agent", "--watch", fleet, "--host", "eu-haproxy-1", "--state-dir", state,
		"--haproxy-config", filepath.Join(state, "haproxy.cfg"), "--master-socket", filepath.Join(state, "m.sock"),
		"--admin-socket", filepath.Join(state, "a.sock"), "--haproxy-pid", filepath.Join(state, "h.pid"),
		"--keepalived=false", "--listen", "127.0.0.1:" + strconv.Itoa(freePort(t))}
	users := writeFile(t, dir, "users.yaml", "users:\n  - username: otto\n    passwordHash: \"$2a$04$abcdefghijklmnopqrstuuAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"\n    role: operator\n")
	jwt := writeFile(t, dir, "jwt", randomSecret(t))
	api := []string{"api", "--listen", "127.0.0.1:" + strconv.Itoa(freePort(t)), "--repo", filepath.Join(dir, "none.git"),
		"--repo-dir", filepath.Join(dir, "clone"), "--users-file", users}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"api empty webhook secret", append(append([]string{}, api...), "--jwt-secret-file", jwt, "--webhook-github-secret-file", empty),
			"--webhook-github-secret-file " + empty + ": the secret is empty; use at least 32 random bytes, for example: umask 077; openssl rand -hex 32 > " + empty},
		{"api short jwt secret", append(append([]string{}, api...), "--jwt-secret-file", short),
			"--jwt-secret-file " + short + ": the secret is 1 bytes long"},
		{"api short generic secret", append(append([]string{}, api...), "--jwt-secret-file", jwt, "--webhook-generic-secret-file", short),
			"--webhook-generic-secret-file " + short + ": the secret is 1 bytes long"},
		{"agent short sync token", append(append([]string{}, agent...), "--sync-token-file", short),
			"--sync-token-file " + short + ": the secret is 1 bytes long; use at least 32 random bytes"},
		{"agent empty webhook secret", append(append([]string{}, agent...), "--webhook-secret-file", empty),
			"--webhook-secret-file " + empty + ": the secret is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, dir, tt.args...)
			if r.code != 2 || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("exit %d, want 2 with %q\nstderr:\n%s", r.code, tt.want, tail(r.stderr))
			}
		})
	}
}

// TestExposureWarnings: the API warns when it listens on every interface
// without TLS and when tokens live longer than a day.
func TestExposureWarnings(t *testing.T) {
	bare := bareFleetRepo(t, exampleFleet(t))
	dir := t.TempDir()
	hash, _ := bcrypt.GenerateFromPassword([]byte("otto-password"), bcrypt.MinCost)
	users := writeFile(t, dir, "users.yaml", fmt.Sprintf("users:\n  - username: otto\n    passwordHash: %q\n    role: operator\n", hash))
	jwt := writeFile(t, dir, "jwt", randomSecret(t))
	port := freePort(t)
	cmd := exec.Command(bin, "api", "--listen", ":"+strconv.Itoa(port), "--repo", bare, "--repo-dir", filepath.Join(dir, "clone"),
		"--users-file", users, "--jwt-secret-file", jwt, "--token-ttl", "720h")
	var logs bytes.Buffer
	mu := &sync.Mutex{}
	cmd.Stderr = lockedBuffer{mu, &logs}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	want := []string{"listens on every interface without TLS", "--token-ttl is longer than a day"}
	deadline := time.Now().Add(15 * time.Second)
	for {
		mu.Lock()
		s := logs.String()
		mu.Unlock()
		if strings.Contains(s, want[0]) && strings.Contains(s, want[1]) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the API did not warn %q within 15s:\n%s", want, s)
		}
		time.Sleep(20 * time.Millisecond) // polling the log
	}
}

// TestGitAuthSameForEveryCommand: the API, the bot and the agent build
// their git credentials with one builder, so an ssh:// (or scp-like) URL
// needs the same key and known_hosts file everywhere, and says so the same
// way.
func TestGitAuthSameForEveryCommand(t *testing.T) {
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		t.Skip("ssh-keygen not installed")
	}
	dir := t.TempDir()
	key := filepath.Join(dir, "id_ed25519")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	users := writeFile(t, dir, "users.yaml", "users:\n  - username: otto\n    passwordHash: \"$2a$04$abcdefghijklmnopqrstuuAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"\n    role: operator\n")
	jwt := writeFile(t, dir, "jwt", randomSecret(t))
	state := t.TempDir()
	commands := map[string]func(url string) []string{
		"api": func(url string) []string {
			return []string{"api", "--listen", "127.0.0.1:" + strconv.Itoa(freePort(t)), "--repo", url, "--repo-dir", filepath.Join(dir, "clone"),
				"--users-file", users, "--jwt-secret-file", jwt}
		},
		"bot": func(url string) []string {
			return []string{"bot", "--repo", url, "--rpc-url", "http://127.0.0.1:1", "--contract", "0x0000000000000000000000000000000000000001",
				"--state-dir", filepath.Join(dir, "bot")}
		},
		"agent": func(url string) []string {
			return []string{"agent", "--once", "--repo", url, "--host", "h1", "--state-dir", state,
				"--haproxy-config", filepath.Join(state, "haproxy.cfg"), "--master-socket", filepath.Join(state, "m.sock"),
				"--admin-socket", filepath.Join(state, "a.sock"), "--haproxy-pid", filepath.Join(state, "h.pid"),
				"--keepalived=false", "--listen", ""}
		},
	}
	for _, url := range []string{"ssh://git@127.0.0.1:1/fleet.git", "git@127.0.0.1:fleet.git"} {
		for _, c := range []struct {
			extra []string
			want  string
		}{
			{nil, "invalid git source configuration: an ssh URL needs an SSH key file"},
			{[]string{"--ssh-key", key}, "invalid git source configuration: an ssh URL needs a known_hosts file (host keys are never accepted blindly)"},
		} {
			for name, args := range commands {
				r := run(t, dir, append(args(url), c.extra...)...)
				if r.code == 0 || !strings.Contains(r.stderr, c.want) {
					t.Errorf("%s %s %v: exit %d, want an error with %q\nstderr:\n%s", name, url, c.extra, r.code, c.want, tail(r.stderr))
				}
			}
		}
	}
}

// TestAgentSyncUnsignedFlood: the agent's POST /v1/sync under 64
// concurrent 25 MB requests without a valid token or signature stays up
// and bounded; a valid token still syncs.
func TestAgentSyncUnsignedFlood(t *testing.T) {
	if _, err := exec.LookPath("prlimit"); err != nil {
		t.Skip("prlimit (util-linux) not installed")
	}
	dir := t.TempDir()
	token := randomSecret(t)
	tokenFile := writeFile(t, dir, "token", token)
	secretFile := writeFile(t, dir, "secret", randomSecret(t))
	fleet := exampleFleet(t)
	state := t.TempDir()
	port := freePort(t)
	p := startLimited(t, port, "/v1/status", "agent", "--watch", fleet, "--host", "eu-haproxy-1",
		"--state-dir", state, "--haproxy-config", filepath.Join(state, "haproxy.cfg"), "--master-socket", filepath.Join(state, "m.sock"),
		"--admin-socket", filepath.Join(state, "a.sock"), "--haproxy-pid", filepath.Join(state, "h.pid"), "--keepalived=false",
		"--listen", "127.0.0.1:"+strconv.Itoa(port), "--sync-token-file", tokenFile, "--webhook-secret-file", secretFile, "--log-level", "error")
	url := p.url
	base := p.peakRSS()
	body := bytes.Repeat([]byte("x"), 25<<20)
	var wg sync.WaitGroup
	var mu sync.Mutex
	count := map[int]int{}
	for i := range 64 {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodPost, url+"/v1/sync", bytes.NewReader(body))
			switch i % 4 {
			case 0:
				req.Header.Set("X-Hub-Signature-256", "sha256="+strings.Repeat("ab", 32))
			case 1:
				req.Header.Set("X-Hub-Signature-256", "sha256="+strings.Repeat("ab", 32))
				req.ContentLength = -1
			case 2:
				req.Header.Set("Authorization", "Bearer wrong")
			}
			code := 0
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
				code = resp.StatusCode
			}
			mu.Lock()
			count[code]++
			mu.Unlock()
		})
	}
	wg.Wait()
	p.alive()
	if count[http.StatusAccepted] > 0 {
		t.Fatalf("an unauthenticated sync was accepted: %v", count)
	}
	req, _ := http.NewRequest(http.MethodPost, url+"/v1/sync", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("a sync with the token: %d", resp.StatusCode)
	}
	peak := p.peakRSS()
	t.Logf("responses %v; peak RSS %d MiB (before the flood %d MiB)", count, peak>>20, base>>20)
	if peak-base > 100<<20 {
		t.Fatalf("unauthenticated syncs raised the peak RSS by %d MiB, want under 100 MiB", (peak-base)>>20)
	}
}
