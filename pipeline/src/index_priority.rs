//! The search indexer yields the CPU to archiving.
//!
//! Under load the store's commit is the pipeline's one serial stage: every message waits for
//! it, and at 1M messages on two cores it spent about a third of its time ready to run but
//! waiting for a core, while the indexer and tantivy's threads took their fair share
//! (docs/performance.md, "Where the CPU goes"). The index is derived and its lag is bounded
//! by the writer's index gate (which holds commits while the index is far behind), so the
//! indexer thread runs at a lower priority; tantivy's indexing and merge threads, which it
//! starts, inherit it. Archiving then gets the cores first, and the index takes what is left
//! until the gate gives it its turn.

/// How much nicer than the rest of the process the indexer runs (Linux `nice`, 0–19).
pub const INDEXER_NICE: i32 = 10;

/// Lowers the calling thread's priority by [`INDEXER_NICE`]; on Linux a thread's nice value is
/// its own, and the threads it starts inherit it. Elsewhere (where `setpriority` would apply
/// to the whole process) it does nothing. Failing to lower one's own priority does not stop
/// the indexer: it is logged and the indexer runs as before.
pub fn lower_this_thread() {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::process::nice(INDEXER_NICE) {
        tracing::warn!(error = %e, "could not lower the search indexer's priority; it shares the CPU with archiving equally");
    }
}
