// Package chain turns the on-chain DDC node registry into a stream of
// admission events for the bot.
//
// A [Source] emits three kinds of [Event]: [NodeAdmitted] when a node is both
// in its cluster and validated (whichever of ClusterNodeAdded and
// ClusterNodeValidated comes last), [NodeUpdated] when an admitted node's
// record changes, and [NodeRemoved] when an admitted node leaves its cluster
// or is deleted. Creating a node, or changing a node that is not admitted,
// emits nothing: it only updates the watcher's state, so that a later
// admission carries the latest record.
//
// [EVMWatcher] is the Source for the EVM NodeRegistry contract
// (contracts/NodeRegistry.sol, bindings in bot/contract). Its behaviour:
//
//   - Confirmation. Only blocks at or below the target are processed: the
//     head minus Config.Confirmations, or the chain's `finalized` block when
//     Config.Finalized is set. Logs are read with FilterLogs in ranges of at
//     most Config.MaxRange (2,000) blocks, never past the target; a range the
//     node refuses as too large or too many results is halved (down to one
//     block) and the smaller size is kept for the rest of the run.
//   - Wake-ups. A new-head subscription (WebSocket, IPC, in-process) only
//     triggers a poll; polling every Config.PollInterval is the backstop and
//     the only mechanism over HTTP. Log contents from subscriptions are never
//     used, so a gap after a reconnect cannot lose events.
//   - Checkpoint. After each range the watcher writes, atomically, a JSON file
//     in Config.StateDir with the last processed block (number and hash), the
//     state of every node it has seen, and a journal of the blocks processed
//     within Config.ReorgWindow blocks of the checkpoint (hash, and for each
//     applied log: tx hash, log index, the node's previous state and the event
//     emitted). A restart resumes after the checkpoint. Logs already applied
//     (same tx hash, log index and block hash) are skipped, so a run stopped in
//     the middle of a block resumes without duplicates. Events are sent before
//     they are written down: after a crash (not a cancel) between the two, the
//     events since the last write are sent again, so consumers must be
//     idempotent.
//   - Reorgs. Before each poll the newest journal block is compared with the
//     canonical block at that number. On a mismatch the watcher walks back
//     through the journal to the newest block that is still canonical, then
//     undoes every log applied after it, newest first: each event emitted for
//     those logs is sent again with Removed set (an undo), and the node's
//     previous state is restored. It then processes the new canonical blocks
//     and emits their events normally (same tx hash and log index, a new block
//     hash). A reorg above the target (shallower than the confirmation depth)
//     is never seen. If no journal block is canonical any more (a reorg deeper
//     than ReorgWindow), the watcher re-reads the whole registry at the target
//     block (see Registry) and emits the difference with its state as plain
//     events with an empty TxHash. While the target is below the newest
//     journal block (a lagging node, or a fork that is still shorter) the
//     watcher waits instead of rewinding.
//   - Removed logs. FilterLogs over confirmed blocks does not return removed
//     logs; if a node returns one anyway, the range is dropped and the poll
//     starts over from the reorg check. Undo events come only from the
//     journal, so an undo always matches an event the watcher emitted.
//   - Untrusted data. Records are emitted as decoded, without validation (the
//     bot checks them with package desired's rules). A log that does not
//     decode, comes from another address or lies outside the queried range is
//     skipped and counted as an error. Mode numbers other than 1 to 4 become
//     "mode(N)".
//   - Errors. Any RPC error ends the session: the watcher logs it, calls
//     Metrics.OnError, waits with exponential backoff and jitter, reconnects
//     (when built with DialEVMWatcher) and resumes from its state. Only a
//     state file that cannot be read or belongs to another chain or contract,
//     or a node that changes chain ID under a running watcher, ends Run with
//     an error.
package chain
