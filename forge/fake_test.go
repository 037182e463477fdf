package forge

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fakeGitHub imitates the GitHub REST endpoints the forge uses, under the
// /api-v3/ prefix, with pull requests kept in memory. Tests can make the
// next responses of an endpoint fail with failNext.
type fakeGitHub struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	requests []recorded
	prs      []map[string]any
	statuses []map[string]any
	comments map[int][]string
	fail     map[string][]func(http.ResponseWriter) // "METHOD /path" -> queued failures
	hook     func(r *http.Request)                  // called for every request, outside mu
}

type recorded struct {
	Method, Path, Query string
	Body                string
}

func newFakeGitHub(t *testing.T) *fakeGitHub {
	t.Helper()
	f := &fakeGitHub{t: t, comments: map[int][]string{}, fail: map[string][]func(http.ResponseWriter){}}
	f.srv = httptest.NewServer(http.StripPrefix("/api-v3", http.HandlerFunc(f.serve)))
	t.Cleanup(f.srv.Close)
	return f
}

// forge returns a GitHub forge talking to the fake as owner/repo "acme/fleet".
func (f *fakeGitHub) forge(t *testing.T, p RetryPolicy) *GitHub {
	t.Helper()
	g, err := NewGitHub(GitHubOptions{Token: "t0ken", BaseURL: f.srv.URL + "/api-v3/", Owner: "acme", Repo: "fleet", Retry: p})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func (f *fakeGitHub) failNext(route string, fn func(http.ResponseWriter)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail[route] = append(f.fail[route], fn)
}

func (f *fakeGitHub) recorded() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.requests...)
}

func (f *fakeGitHub) serve(w http.ResponseWriter, r *http.Request) {
	if f.hook != nil {
		f.hook(r)
	}
	body, _ := io.ReadAll(r.Body)
	if r.Header.Get("Authorization") != "Bearer t0ken" {
		http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, recorded{r.Method, r.URL.Path, r.URL.RawQuery, strings.TrimSpace(string(body))})
	route := r.Method + " " + r.URL.Path
	if q := f.fail[route]; len(q) > 0 {
		f.fail[route] = q[1:]
		q[0](w)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) < 4 || parts[0] != "repos" || parts[1] != "acme" || parts[2] != "fleet" {
		http.NotFound(w, r)
		return
	}
	var in map[string]any
	_ = json.Unmarshal(body, &in)
	switch {
	case r.Method == http.MethodGet && len(parts) == 4 && parts[3] == "pulls":
		head, state := r.URL.Query().Get("head"), r.URL.Query().Get("state")
		out := []map[string]any{}
		for i := len(f.prs) - 1; i >= 0; i-- { // newest first
			p := f.prs[i]
			if head != "" && "acme:"+p["head"].(map[string]any)["ref"].(string) != head {
				continue
			}
			if state != "all" && p["state"] != state {
				continue
			}
			out = append(out, p)
		}
		_ = json.NewEncoder(w).Encode(out)
	case r.Method == http.MethodPost && len(parts) == 4 && parts[3] == "pulls":
		n := len(f.prs) + 1
		p := map[string]any{
			"number": n, "state": "open", "title": in["title"], "body": in["body"],
			"html_url": "https://github.example/acme/fleet/pull/" + strconv.Itoa(n),
			"head":     map[string]any{"ref": in["head"], "sha": "0000000000000000000000000000000000000abc"},
			"base":     map[string]any{"ref": in["base"]},
		}
		f.prs = append(f.prs, p)
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(p)
	case r.Method == http.MethodPatch && len(parts) == 5 && parts[3] == "pulls":
		n, _ := strconv.Atoi(parts[4])
		if n < 1 || n > len(f.prs) {
			http.NotFound(w, r)
			return
		}
		p := f.prs[n-1]
		for k, v := range in {
			p[k] = v
		}
		_ = json.NewEncoder(w).Encode(p)
	case r.Method == http.MethodPost && len(parts) == 6 && parts[3] == "issues" && parts[5] == "labels":
		n, _ := strconv.Atoi(parts[4])
		var names []string
		_ = json.Unmarshal(body, &names)
		p := f.prs[n-1]
		labels, _ := p["labels"].([]any)
		for _, l := range names {
			labels = append(labels, map[string]any{"name": l})
		}
		p["labels"] = labels
		_ = json.NewEncoder(w).Encode(labels)
	case r.Method == http.MethodPost && len(parts) == 6 && parts[3] == "issues" && parts[5] == "comments":
		n, _ := strconv.Atoi(parts[4])
		f.comments[n] = append(f.comments[n], in["body"].(string))
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]any{"id": len(f.comments[n]), "body": in["body"]})
	case r.Method == http.MethodPost && len(parts) == 5 && parts[3] == "statuses":
		in["sha"] = parts[4]
		f.statuses = append(f.statuses, in)
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(in)
	default:
		http.NotFound(w, r)
	}
}

// secondaryLimit answers like GitHub's secondary rate limit.
func secondaryLimit(retryAfter string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		_ = json.NewEncoder(w).Encode(map[string]string{
			"message":           "You have exceeded a secondary rate limit.",
			"documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
		})
	}
}

// tooMany answers 429 with Retry-After.
func tooMany(retryAfter string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("Retry-After", retryAfter)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = io.WriteString(w, `{"message":"Too Many Requests"}`)
	}
}

func status(code int) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) { http.Error(w, `{"message":"boom"}`, code) }
}
