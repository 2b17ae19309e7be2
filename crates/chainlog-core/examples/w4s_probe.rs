//! Timing probe, not a test (nothing is asserted about time): where W4s's time goes in the native
//! core — 256-byte structured log events compressed with a 16 KiB dictionary trained on the
//! stream's first 10,000 events, as `npm run bench -- --only W4s` does. Per record: compression
//! with the digested dictionary (CDict) at several levels, the hashes, and encode_batch of
//! 1000-record batches (what the engine calls), each the median of 5 passes over 100,000 events.
//! The events are the bench's own (bench/data.ts logEvents), written to a file first:
//!   node --import=tsx bench/w4s-events.ts .cache/w4s-events.bin
//!   cargo run --release -p chainlog-core --example w4s_probe -- .cache/w4s-events.bin
//! Negative levels are measured for comparison only: chainlog accepts levels 1..22 (SPEC §3).
use chainlog_core::dictionary;
use chainlog_core::format::ZERO_HASH;
use chainlog_core::*;
use std::hint::black_box;
use std::time::Instant;
use zstd_sys as zs;

const SIZE: usize = 256;
const HISTORY: usize = 10_000;
const MEASURED: usize = 100_000;
const BATCH: usize = 1000;
const PASSES: usize = 5;

/// Median over PASSES of `f`'s time, in ns per measured record.
fn ns_per_record(mut f: impl FnMut()) -> f64 {
    let mut t: Vec<f64> = (0..PASSES)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1e9 / MEASURED as f64
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[PASSES / 2]
}

struct Cctx(*mut zs::ZSTD_CCtx);
impl Cctx {
    fn new() -> Self {
        Cctx(unsafe { zs::ZSTD_createCCtx() })
    }
}
impl Drop for Cctx {
    fn drop(&mut self) {
        unsafe { zs::ZSTD_freeCCtx(self.0) };
    }
}

/// One frame of `data` with `cdict` through ZSTD_compress_usingCDict (form 4's call); its size.
fn using_cdict(cctx: &Cctx, cdict: *const zs::ZSTD_CDict, data: &[u8], out: &mut [u8]) -> usize {
    let n = unsafe {
        zs::ZSTD_compress_usingCDict(
            cctx.0,
            out.as_mut_ptr().cast(),
            out.len(),
            data.as_ptr().cast(),
            data.len(),
            cdict,
        )
    };
    assert_eq!(unsafe { zs::ZSTD_isError(n) }, 0);
    n
}

fn main() {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| ".cache/w4s-events.bin".into());
    let all = std::fs::read(&path).expect("the events file (see the header comment)");
    assert!(
        all.len() >= (HISTORY + MEASURED) * SIZE,
        "need 110,000 events"
    );
    let history = &all[..HISTORY * SIZE];
    let measured = &all[HISTORY * SIZE..(HISTORY + MEASURED) * SIZE];
    let events: Vec<&[u8]> = measured.chunks(SIZE).collect();
    let dict = dictionary::train(history, &vec![SIZE as u32; HISTORY], 16 * 1024).unwrap();
    let id = dictionary::load(&dict).unwrap();
    println!(
        "{MEASURED} W4s events of {SIZE} B, dictionary {id} of {} B; threads available: {}",
        dict.len(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );

    println!("\n-- compression alone, one thread, one reused context --");
    let mut out = vec![0u8; 1024];
    let cctx = Cctx::new();
    for level in [-5, -3, -1, 1, 3] {
        let cdict = unsafe { zs::ZSTD_createCDict(dict.as_ptr().cast(), dict.len(), level) };
        let mut stored = 0usize;
        let ns = ns_per_record(|| {
            stored = 0;
            for e in &events {
                stored += using_cdict(&cctx, cdict, e, &mut out).min(SIZE);
            }
        });
        println!(
            "usingCDict level {level:>2}: {ns:7.0} ns/record, payload ratio {:.2}×{}",
            measured.len() as f64 / stored as f64,
            if level < 1 {
                " (not an allowed level)"
            } else {
                ""
            }
        );
        unsafe { zs::ZSTD_freeCDict(cdict) };
    }
    let cdict3 = unsafe { zs::ZSTD_createCDict(dict.as_ptr().cast(), dict.len(), 3) };
    let ns = ns_per_record(|| {
        for e in &events {
            let fresh = Cctx::new();
            black_box(using_cdict(&fresh, cdict3, e, &mut out));
        }
    });
    println!("usingCDict level  3, a new context per record: {ns:7.0} ns/record");
    let (mut same, mut out2) = (0usize, vec![0u8; 1024]);
    let ns = ns_per_record(|| {
        same = 0;
        for e in &events {
            let a = using_cdict(&cctx, cdict3, e, &mut out);
            let b = unsafe {
                zs::ZSTD_CCtx_reset(
                    cctx.0,
                    zs::ZSTD_ResetDirective::ZSTD_reset_session_and_parameters,
                );
                zs::ZSTD_CCtx_refCDict(cctx.0, cdict3);
                zs::ZSTD_compress2(
                    cctx.0,
                    out2.as_mut_ptr().cast(),
                    out2.len(),
                    e.as_ptr().cast(),
                    e.len(),
                )
            };
            same += usize::from(out[..a] == out2[..b]);
        }
    });
    println!(
        "usingCDict + (refCDict, compress2) on each record: {ns:7.0} ns/record together; same bytes for {same} of {MEASURED}"
    );
    unsafe {
        zs::ZSTD_CCtx_reset(
            cctx.0,
            zs::ZSTD_ResetDirective::ZSTD_reset_session_and_parameters,
        )
    };
    let ns = ns_per_record(|| {
        for e in &events {
            black_box(using_cdict(&cctx, cdict3, e, &mut out));
        }
    });
    println!("usingCDict level  3 alone, same loop:              {ns:7.0} ns/record");
    let ns = ns_per_record(|| {
        for e in &events {
            black_box(compress(2, 3, e).unwrap());
        }
    });
    println!("zstd level 3 without a dictionary (form 2):       {ns:7.0} ns/record");
    let ns = ns_per_record(|| {
        for e in &events {
            black_box(compress_with_dictionary(id, 3, e).unwrap());
        }
    });
    println!("core compress_with_dictionary level 3 (new Vec):  {ns:7.0} ns/record");

    println!("\n-- compression split over 2 threads per 1000-record batch (scoped threads) --");
    let ns = ns_per_record(|| {
        for batch in events.chunks(BATCH) {
            let (a, b) = batch.split_at(batch.len() / 2);
            std::thread::scope(|s| {
                // A CDict is read-only once made: threads may share it (the address crosses over).
                let shared = cdict3 as usize;
                let h = s.spawn(move || {
                    let cdict3 = shared as *const zs::ZSTD_CDict;
                    let c = Cctx::new();
                    let mut o = vec![0u8; 1024];
                    for e in b {
                        black_box(using_cdict(&c, cdict3, e, &mut o));
                    }
                });
                let mut o = vec![0u8; 1024];
                for e in a {
                    black_box(using_cdict(&cctx, cdict3, e, &mut o));
                }
                h.join().unwrap();
            });
        }
    });
    println!("usingCDict level 3, 2 threads (spawned per batch): {ns:7.0} ns/record wall");

    println!("\n-- hashing (BLAKE3) --");
    let hasher = ChainHasher::new(HashAlgorithm::Blake3, b"events").unwrap();
    let ns = ns_per_record(|| {
        for e in &events {
            black_box(hasher.commitment(e));
        }
    });
    println!("commitment of a 256 B payload: {ns:7.0} ns/record");
    let c = [3u8; 32];
    let ns = ns_per_record(|| {
        let mut prev = ZERO_HASH;
        for k in 0..MEASURED as u64 {
            prev = hasher.record_hash(&RecordFields {
                prev_hash: &prev,
                offset: k,
                timestamp: 5,
                kind: 0,
                payload_length: SIZE as u64,
                commitment: &c,
            });
        }
        black_box(prev);
    });
    println!("chain hash of a record:        {ns:7.0} ns/record");

    println!("\n-- encode_batch, 1000-record batches (the engine's call; threads as threads_for decides) --");
    let lengths = vec![SIZE as u32; BATCH];
    let ts = vec![1_764_000_000_000u64; BATCH];
    for (name, codec, dictionary, level) in [
        ("none", 0u8, 0u32, 0i64),
        ("lz4", 1, 0, 0),
        ("zstd", 2, 0, 0),
        ("zstd + dictionary, level 1", 2, id, 1),
        ("zstd + dictionary, level 3 (default)", 2, id, 0),
    ] {
        let mut stored = 0usize;
        let ns = ns_per_record(|| {
            let mut prev = ZERO_HASH;
            stored = 0;
            for (b, batch) in measured.chunks(BATCH * SIZE).enumerate() {
                let r = encode_batch(&EncodeInput {
                    hash: HashAlgorithm::Blake3,
                    stream: b"events",
                    first_offset: 1 + (b * BATCH) as u64,
                    prev_hash: if prev == ZERO_HASH { [1; 32] } else { prev },
                    kind: 0,
                    codec,
                    level,
                    dictionary,
                    payloads: batch,
                    lengths: &lengths,
                    timestamps: &ts,
                    want_hashes: false,
                    batch_ends: &[],
                })
                .unwrap();
                prev = r.last_hash;
                stored += r.bytes.len();
            }
        });
        println!(
            "{name:<38} {ns:7.0} ns/record = {:5.0}k records/s, framed bytes {:.2}× smaller",
            1e6 / ns,
            measured.len() as f64 / stored as f64
        );
    }
    unsafe { zs::ZSTD_freeCDict(cdict3) };
}
