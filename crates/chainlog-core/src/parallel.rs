//! When a call is big enough to spread its per-record work (hashing, compression) over helper
//! threads: small batches get slower with a helper, large scans faster (docs/perf-notes.md).
use std::num::NonZeroUsize;

/// Work of one record beyond its payload bytes, in bytes hashed (about two hash blocks).
const PER_RECORD_COST: usize = 128;
/// Below about this much work (≈ 0.5 ms) a helper thread costs more than it saves.
const PARALLEL_MIN_WORK: usize = 1 << 20;
const MAX_THREADS: usize = 4;

/// Threads (the caller's included) for `records` records holding `bytes` bytes; at least 1.
pub(crate) fn threads_for(records: usize, bytes: usize) -> usize {
    let work = records
        .saturating_mul(PER_RECORD_COST)
        .saturating_add(bytes);
    if work < PARALLEL_MIN_WORK || records < 2 {
        return 1;
    }
    std::thread::available_parallelism()
        .map_or(1, NonZeroUsize::get)
        .min(MAX_THREADS)
        .min(records)
}
