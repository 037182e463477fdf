//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"time"
)

// apiToken logs in to the API at base as the lab's admin.
func (e *env) apiToken(base string) string {
	e.t.Helper()
	body, _ := json.Marshal(map[string]string{"username": e.info.AdminUser, "password": e.info.AdminPassword})
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := e.apiDo(http.MethodPost, base+"/api/v1/auth/token", "", body, &out); err != nil {
		e.t.Fatalf("logging in: %v", err)
	}
	if out.AccessToken == "" {
		e.t.Fatal("logging in: no access_token")
	}
	return out.AccessToken
}

// apiDo sends one API request and decodes a 2xx answer into out. A
// request that waits for its change to be applied (?wait=applied&timeout=T,
// T at most 60s in these tests) may take up to T, so it gets a client that
// waits longer than the lab's 5 s one.
func (e *env) apiDo(method, url, token string, body []byte, out any) error {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	client := e.client
	if req.URL.Query().Has("wait") {
		client = &http.Client{Timeout: 90 * time.Second, Transport: e.client.Transport}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, url, resp.Status, bytes.TrimSpace(b))
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: decoding %q: %w", method, url, b, err)
		}
	}
	return nil
}

// statsCSV fetches a zone's HAProxy stats CSV (through the forwarded stats
// port: the first VIP's holder) and returns its rows as header -> value.
func (e *env) statsCSV(statsURL string) ([]map[string]string, error) {
	resp, err := e.client.Get(statsURL + ";csv")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("stats: %s", resp.Status)
	}
	return parseCSV(b)
}

// hostStat runs `show stat` on host's admin socket and returns the rows.
func (e *env) hostStat(host string) ([]map[string]string, error) {
	var dir string
	for _, a := range e.info.Agents {
		if a.Host == host {
			dir = a.Dir
		}
	}
	c, err := net.DialTimeout("unix", filepath.Join(dir, "admin.sock"), 2*time.Second)
	if err != nil {
		return nil, fmt.Errorf("%s admin socket: %w", host, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := io.WriteString(c, "show stat\n"); err != nil {
		return nil, fmt.Errorf("%s: show stat: %w", host, err)
	}
	b, err := io.ReadAll(c)
	if err != nil {
		return nil, fmt.Errorf("%s: show stat: %w", host, err)
	}
	return parseCSV(b)
}

// parseCSV parses HAProxy's stats CSV.
func parseCSV(b []byte) ([]map[string]string, error) {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "# ") {
		return nil, fmt.Errorf("stats: no CSV header in %q", b)
	}
	head := strings.Split(strings.TrimPrefix(lines[0], "# "), ",")
	var rows []map[string]string
	for _, l := range lines[1:] {
		f := strings.Split(l, ",")
		row := map[string]string{}
		for i, h := range head {
			if i < len(f) {
				row[h] = f[i]
			}
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// hasServer reports whether rows list server sv in backend be.
func hasServer(rows []map[string]string, be, sv string) bool {
	for _, r := range rows {
		if r["pxname"] == be && r["svname"] == sv {
			return true
		}
	}
	return false
}
