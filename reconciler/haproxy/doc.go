// Package haproxy is the agent's driver for one HAProxy 2.6 host: a client
// for the runtime API (the admin socket of the worker), a client for the
// master CLI (the -S socket of a master-worker haproxy) with verified
// reloads, health-gated admission of new servers, `haproxy -c` config checks
// and atomic config writes, and a supervisor that runs haproxy in
// master-worker mode in the foreground.
//
// The package holds primitives only: the agent decides what to change (it
// diffs ActualServers against the rendered desired state) and in which order.
//
// Facts about HAProxy 2.6.12 this package relies on (checked against the
// real binary by this package's tests):
//   - Runtime `add server` creates the server in maintenance; health checks
//     start disabled (`enable health`) and do not run while a server is in
//     maintenance, so AdmitServers validates new servers in drain state.
//   - A server with checks that leaves maintenance is UP at once (its check
//     health is set to `rise`) before any check ran: `set server state
//     ready` on a new server sends it traffic unchecked. AdmitServers
//     therefore waits for a completed, passed check in drain state.
//   - The master CLI `reload` is asynchronous; the outcome shows only in
//     `show proc`: the master's reload counter grows by one either way, a
//     successful reload adds a new worker and resets `[failed: N]` to 0, a
//     failed one increments N, keeps the old worker and the prompt reads
//     `master[ReloadFailed]>`.
package haproxy
