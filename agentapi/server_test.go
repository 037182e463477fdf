package agentapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestNewHandler(t *testing.T) {
	status := Status{Host: "h1", LastResult: ResultFailed, LastError: "boom"}
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "ddc_gitops_test_total", Help: "t"}))
	sync := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusAccepted) })
	full := NewHandler(Endpoints{Sync: sync, Status: func() Status { return status }, Gatherer: reg,
		HostState: func(context.Context) any { return map[string]string{"host": "h1"} }})
	bare := NewHandler(Endpoints{Sync: sync, Status: func() Status { return status }})

	get := func(h http.Handler, method, path string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
		return rec.Code, rec.Body.String()
	}
	for _, tc := range []struct {
		name         string
		h            http.Handler
		method, path string
		code         int
		body         string
	}{
		{"healthz", full, http.MethodGet, PathHealthz, 200, `"ok"`},
		{"readyz before the first apply", full, http.MethodGet, PathReadyz, 503, `"lastError": "boom"`},
		{"status", full, http.MethodGet, PathStatus, 200, `"host": "h1"`},
		{"sync", full, http.MethodPost, PathSync, 202, ""},
		{"sync is POST only", full, http.MethodGet, PathSync, 405, ""},
		{"hoststate", full, http.MethodGet, PathHostState, 200, `"host": "h1"`},
		{"metrics", full, http.MethodGet, PathMetrics, 200, "ddc_gitops_test_total 0"},
		{"no hoststate without one", bare, http.MethodGet, PathHostState, 404, ""},
		{"no metrics without a gatherer", bare, http.MethodGet, PathMetrics, 404, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := get(tc.h, tc.method, tc.path)
			if code != tc.code || !strings.Contains(body, tc.body) {
				t.Fatalf("%s %s = %d %q, want %d containing %q", tc.method, tc.path, code, body, tc.code, tc.body)
			}
		})
	}

	status.AppliedRevision = "abc123"
	code, body := get(full, http.MethodGet, PathReadyz)
	var ready map[string]string
	if err := json.Unmarshal([]byte(body), &ready); err != nil || code != 200 || ready["appliedRevision"] != "abc123" {
		t.Fatalf("readyz after an apply = %d %q (%v), want 200 naming abc123", code, body, err)
	}
}
