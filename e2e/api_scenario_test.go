//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestAPICommitConverges adds a server through the EU API, checks it lands
// as a commit and then in every EU host's `show stat`, deletes it and checks
// it is gone, while a bounded keep-alive load on the EU load balancer sees
// no failed request.
func TestAPICommitConverges(t *testing.T) {
	e := startLab(t, labOptions{})
	eu := e.zone("eu")
	token := e.apiToken(eu.APIURL)
	ld := startLoad(eu.LBURL, 4, true, 20*time.Second)
	defer ld.stop()

	const be, name = "ddc_nodes_http", "e2e-dyn-1"
	body, _ := json.Marshal(map[string]any{"name": name, "address": "198.18.1.22:8080", "weight": 50})
	start := time.Now()
	var added struct {
		Revision string `json:"revision"`
		Changed  bool   `json:"changed"`
	}
	if err := e.apiDo(http.MethodPost, eu.APIURL+"/api/v1/backends/"+be+"/servers", token, body, &added); err != nil {
		t.Fatal(err)
	}
	if !added.Changed || len(added.Revision) != 40 {
		t.Fatalf("POST answered %+v, want a new revision", added)
	}
	head, err := e.ctl.Git().Head()
	if err != nil {
		t.Fatal(err)
	}
	if head != added.Revision {
		t.Fatalf("the repository's head is %s, the API answered revision %s", head, added.Revision)
	}
	applied := e.waitApplied(added.Revision, &start, 30*time.Second)
	for _, h := range e.hosts("eu") {
		e.waitFor(15*time.Second, h+" lists "+name, func() error {
			rows, err := e.hostStat(h)
			if err != nil {
				return err
			}
			if !hasServer(rows, be, name) {
				return fmt.Errorf("%s/%s not in show stat", be, name)
			}
			return nil
		})
		bench(t, "api_to_applied", "host", h, "ms", applied[h].Milliseconds())
	}
	// The revision's API view agrees.
	var rev map[string]any
	if err := e.apiDo(http.MethodGet, eu.APIURL+"/api/v1/revisions/"+added.Revision, token, nil, &rev); err != nil {
		t.Errorf("GET revision: %v", err)
	}

	start = time.Now()
	var deleted struct {
		Revision string `json:"revision"`
		Changed  bool   `json:"changed"`
	}
	if err := e.apiDo(http.MethodDelete, eu.APIURL+"/api/v1/backends/"+be+"/servers/"+name, token, nil, &deleted); err != nil {
		t.Fatal(err)
	}
	if !deleted.Changed {
		t.Fatalf("DELETE answered %+v, want a new revision", deleted)
	}
	e.waitApplied(deleted.Revision, &start, 30*time.Second)
	for _, h := range e.hosts("eu") {
		e.waitFor(15*time.Second, h+" drops "+name, func() error {
			rows, err := e.hostStat(h)
			if err != nil {
				return err
			}
			if hasServer(rows, be, name) {
				return fmt.Errorf("%s/%s still in show stat", be, name)
			}
			return nil
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if sts, err := e.statuses(ctx); err == nil {
		for _, h := range e.hosts("eu") {
			t.Logf("%s: counts %+v, last steps %v", h, sts[h].Counts, sts[h].Steps)
		}
	}
	ok, failed := ld.stop()
	t.Logf("keep-alive load on %s: %d ok, %d failed", eu.LBURL, ok, failed)
	bench(t, "failed_requests", "scenario", "api_add_delete", "ok", ok, "failed", failed)
	if ok == 0 {
		t.Error("the load loop made no successful request")
	}
	if failed > 0 {
		t.Errorf("%d requests failed during the API changes; first errors: %s", failed, strings.Join(ld.errs, "; "))
	}
}
