package main

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// pendingTestingImporters import a testing/... package (testing/fstest's
// MapFS) in production code; issue 12 (wt-12) removes them. The test fails
// for any other importer, and for "testing" itself from any package.
var pendingTestingImporters = []string{
	"github.com/ddc-gitops/ddc-gitops/reconciler", // dirsource.go
	"github.com/ddc-gitops/ddc-gitops/repo",       // edit.go
}

// TestNothingTestOnlyLinked checks that the shipped binary links nothing
// that exists for tests: not package testing (which also registers the
// test flags), not testing/..., not this module's ...test helper packages
// (netnstest, gitservertest, haproxytest, labtest).
func TestNothingTestOnlyLinked(t *testing.T) {
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	out, err := exec.Command(goBin, "list", "-deps", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	const module = "github.com/ddc-gitops/ddc-gitops/"
	testOnly := func(p string) bool {
		return p == "testing" || strings.HasPrefix(p, "testing/") ||
			(strings.HasPrefix(p, module) && strings.HasSuffix(p, "test"))
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 100 {
		t.Fatalf("go list -deps printed %d packages, want the binary's whole dependency graph:\n%s", len(lines), out)
	}
	linked := false
	for _, line := range lines {
		pkg, imports, _ := strings.Cut(line, " ")
		linked = linked || pkg == "testing"
		if testOnly(pkg) {
			continue // what a test-only package imports is reported at the edge into it
		}
		for _, imp := range strings.Fields(imports) {
			if !testOnly(imp) {
				continue
			}
			if imp == "testing/fstest" && slices.Contains(pendingTestingImporters, pkg) {
				t.Logf("%s imports %s (pending: issue 12)", pkg, imp)
				continue
			}
			t.Errorf("%s imports test-only package %s, which the shipped binary then links", pkg, imp)
		}
	}
	if linked {
		t.Error("the binary links package testing (go list -deps ./cmd/ddc-gitops | grep -x testing)")
	}
}
