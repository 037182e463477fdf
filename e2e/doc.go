// Package e2e holds the end-to-end scenarios on the lab (package lab): real
// agents, haproxy, keepalived, node simulators, git server and APIs in
// network namespaces of this machine. The tests carry the build tag e2e and
// need root:
//
//	go test -tags e2e ./e2e/... -count=1
//
// Each test starts its own lab (fresh prefix, temporary state directory,
// free host-side ports) and checks at cleanup that no namespace of its
// prefix and no process of the lab survived. Lines starting with "BENCH "
// in the verbose output (and in $DDC_GITOPS_E2E_BENCH_OUT) are the
// measurements BENCHMARKS.md reports.
package e2e
