//! When a call is big enough to spread its per-record work (hashing, compression) over helper
//! threads: small batches get slower with a helper, large scans faster (docs/perf-notes.md).
use std::num::NonZeroUsize;

/// What one record costs beyond hashing its payload bytes, and per payload byte, in bytes hashed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecordCost {
    per_record: usize,
    per_byte: usize,
}

/// Hashing alone: about two hash blocks per record (commitment and chain hash) besides the bytes.
pub(crate) const HASHING: RecordCost = RecordCost {
    per_record: 128,
    per_byte: 1,
};
/// Hashing and one zstd frame per record. A frame has a fixed cost whatever its size (context
/// reset, entropy statistics): a 256 B event took 1.8–2.2 µs with a digested dictionary and 6–7 µs
/// without, against about 0.4–0.6 µs to hash it (examples/w4s_probe.rs), so a 1000-record batch
/// of small events is milliseconds of work, not the ~0.3 ms its bytes alone would say.
pub(crate) const HASHING_AND_ZSTD: RecordCost = RecordCost {
    per_record: 128 + 2048,
    per_byte: 1 + 4,
};
/// Hashing and one LZ4 block per record (about as fast per byte as hashing).
pub(crate) const HASHING_AND_LZ4: RecordCost = RecordCost {
    per_record: 128 + 128,
    per_byte: 1 + 1,
};

/// Below about this much work (≈ 0.5 ms) a helper thread costs more than it saves.
const PARALLEL_MIN_WORK: usize = 1 << 20;
const MAX_THREADS: usize = 4;

/// Threads (the caller's included) for hashing `records` records holding `bytes` bytes; at least 1.
pub(crate) fn threads_for(records: usize, bytes: usize) -> usize {
    threads_for_work(records, bytes, HASHING)
}

/// Threads (the caller's included) for `records` records holding `bytes` bytes, each costing
/// `cost`; at least 1.
pub(crate) fn threads_for_work(records: usize, bytes: usize, cost: RecordCost) -> usize {
    let work = records
        .saturating_mul(cost.per_record)
        .saturating_add(bytes.saturating_mul(cost.per_byte));
    if work < PARALLEL_MIN_WORK || records < 2 {
        return 1;
    }
    std::thread::available_parallelism()
        .map_or(1, NonZeroUsize::get)
        .min(MAX_THREADS)
        .min(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashing_alone_keeps_a_batch_of_small_records_on_one_thread() {
        assert_eq!(threads_for(1000, 256 * 1000), 1);
    }

    #[test]
    fn compressing_a_batch_of_small_records_spreads_it() {
        let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
        let expected = cores.min(MAX_THREADS);
        assert_eq!(
            threads_for_work(1000, 256 * 1000, HASHING_AND_ZSTD),
            expected
        );
        // A single small append stays on the caller's thread, compressed or not.
        assert_eq!(threads_for_work(1, 256, HASHING_AND_ZSTD), 1);
        assert_eq!(threads_for_work(10, 2560, HASHING_AND_ZSTD), 1);
    }
}
