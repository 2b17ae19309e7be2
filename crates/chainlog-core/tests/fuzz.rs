//! Property tests (the fault suite's fuzzing, on stable Rust): scan, findValidRecord, decode and
//! decompress over encoded segments that are then flipped, cut, spliced and crafted, and over raw
//! bytes. No input may panic, take long, or make a single allocation beyond a bound that follows
//! from the input's size and the caller's cap (never from a size the input claims).
//!
//! Cases per property: 256 by default; CHAINLOG_FAULTS=long gives 250,000 each (1,000,000 in all) (PROPTEST_CASES
//! overrides both). Every run prints how many inputs it tried.
use chainlog_core::format::*;
use chainlog_core::frame::{check_frame, Frame};
use chainlog_core::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Records the largest single allocation made by the current thread since the last reset.
struct Counting;
thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let _ = LARGEST.try_with(|m| m.set(m.get().max(l.size())));
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        let _ = LARGEST.try_with(|m| m.set(m.get().max(n)));
        System.realloc(p, l, n)
    }
}
#[global_allocator]
static A: Counting = Counting;

/// Largest allocation any case may make: the scan/decode of a few KiB never needs more, and a
/// crafted length or count (up to 1 GiB claimed) must not reach it.
const ALLOC_BOUND: usize = 8 << 20;
/// A case taking longer than this is a hang for our purposes (inputs are a few KiB).
const CASE_TIME: Duration = Duration::from_secs(2);

fn cases() -> u32 {
    if let Ok(n) = std::env::var("PROPTEST_CASES") {
        return n.parse().expect("PROPTEST_CASES");
    }
    if std::env::var("CHAINLOG_FAULTS").as_deref() == Ok("long") {
        250_000
    } else {
        256
    }
}

fn run<S: Strategy>(name: &str, strategy: S, body: impl Fn(S::Value)) {
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    let tried = AtomicU64::new(0);
    runner
        .run(&strategy, |v| {
            tried.fetch_add(1, Ordering::Relaxed);
            LARGEST.with(|m| m.set(0));
            let t0 = Instant::now();
            body(v);
            let largest = LARGEST.with(|m| m.get());
            prop_assert!(
                largest <= ALLOC_BOUND,
                "{name}: one allocation of {largest} bytes"
            );
            prop_assert!(t0.elapsed() < CASE_TIME, "{name}: took {:?}", t0.elapsed());
            Ok(())
        })
        .unwrap();
    let n = tried.load(Ordering::Relaxed);
    println!("FUZZ {name}: {n} inputs");
}

const STREAM: &[u8] = b"orders";

/// A clean segment: N records of random payloads, one codec, either hash.
fn encoded(alg: HashAlgorithm, payloads: &[Vec<u8>], codec: u8, first: u64) -> (Vec<u8>, Vec<u64>) {
    if payloads.is_empty() {
        return (Vec::new(), Vec::new());
    }
    let lengths: Vec<u32> = payloads.iter().map(|p| p.len() as u32).collect();
    let all: Vec<u8> = payloads.concat();
    let ts: Vec<u64> = (0..payloads.len() as u64)
        .map(|i| 1_700_000_000_000 + i)
        .collect();
    let prev = if first == 0 { [0u8; 32] } else { [7u8; 32] };
    let out = encode_batch(&EncodeInput {
        hash: alg,
        stream: STREAM,
        first_offset: first,
        prev_hash: prev,
        kind: 0,
        codec,
        level: 1,
        dictionary: 0,
        payloads: &all,
        lengths: &lengths,
        timestamps: &ts,
        want_hashes: false,
        batch_ends: &[],
    })
    .unwrap();
    (out.bytes, out.positions)
}

#[derive(Debug, Clone)]
enum Damage {
    Xor(usize, u8),
    Set(usize, u8),
    Cut(usize),
    Insert(usize, Vec<u8>),
    /// Writes START at i (a fake record start) followed by a length field.
    FakeStart(usize, u32),
    /// Sets the length field of the record at i to a crafted value.
    Length(usize, u32),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        (any::<usize>(), 1..=255u8).prop_map(|(i, b)| Damage::Xor(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Damage::Set(i, b)),
        any::<usize>().prop_map(Damage::Cut),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..80))
            .prop_map(|(i, v)| Damage::Insert(i, v)),
        (
            any::<usize>(),
            prop_oneof![
                Just(0u32),
                Just(40),
                Just(1 << 30),
                Just(u32::MAX),
                any::<u32>()
            ]
        )
            .prop_map(|(i, l)| Damage::FakeStart(i, l)),
        (
            any::<usize>(),
            prop_oneof![
                Just((1u32 << 30) + 1),
                Just(1 << 30),
                Just(u32::MAX),
                0..200u32
            ]
        )
            .prop_map(|(i, l)| Damage::Length(i, l)),
    ]
}

fn apply(data: &mut Vec<u8>, d: &Damage) {
    let n = data.len();
    match d {
        Damage::Xor(i, b) if n > 0 => data[i % n] ^= b,
        Damage::Set(i, b) if n > 0 => data[i % n] = *b,
        Damage::Cut(i) => data.truncate(i % (n + 1)),
        Damage::Insert(i, v) => {
            let at = i % (n + 1);
            data.splice(at..at, v.iter().copied());
        }
        Damage::FakeStart(i, l) => {
            let at = i % (n + 1);
            let mut h = RECORD_START.to_le_bytes().to_vec();
            h.extend_from_slice(&[0u8; 50]);
            h.extend_from_slice(&l.to_le_bytes());
            data.splice(at..at, h);
        }
        Damage::Length(i, l) if n >= 58 => {
            let at = i % (n - 57);
            data[at + 54..at + 58].copy_from_slice(&l.to_le_bytes());
        }
        _ => {}
    }
}

fn alg() -> impl Strategy<Value = HashAlgorithm> {
    prop_oneof![Just(HashAlgorithm::Blake3), Just(HashAlgorithm::Sha256)]
}

fn payloads() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..120),
            (0..600usize, any::<u8>()).prop_map(|(n, b)| vec![b; n]),
        ],
        0..8,
    )
}

/// A damaged segment: clean records, then 0–4 damages; or plain random bytes.
fn segment() -> impl Strategy<Value = (HashAlgorithm, Vec<u8>, bool)> {
    prop_oneof![
        4 => (alg(), payloads(), 0..3u8, prop::collection::vec(damage(), 0..5)).prop_map(|(a, p, c, ds)| {
            let (mut data, _) = encoded(a, &p, c, 0);
            for d in &ds {
                apply(&mut data, d);
            }
            (a, data, ds.is_empty())
        }),
        1 => (alg(), prop::collection::vec(any::<u8>(), 0..2048)).prop_map(|(a, d)| (a, d, false)),
    ]
}

fn scan_checked(
    hasher: &ChainHasher,
    data: &[u8],
    base: u64,
    verify: bool,
    final_: bool,
    first: Option<u64>,
) -> ScanOutput {
    let out = scan_segment(&ScanInput {
        hasher,
        data,
        base,
        first_offset: first,
        prev_hash: if first == Some(0) {
            Some([0u8; 32])
        } else {
            None
        },
        prev_timestamp: None,
        verify_chain: verify,
        final_,
    });
    let n = out.count();
    assert_eq!(out.positions.len(), n);
    assert_eq!(out.offsets.len(), n);
    assert_eq!(out.timestamps.len(), n);
    assert_eq!(out.kinds.len(), n);
    assert!(out.valid_length <= data.len() as u64);
    assert_eq!(out.stop_position, base + out.valid_length);
    for w in out.positions.windows(2) {
        assert!(w[0] + RECORD_OVERHEAD as u64 <= w[1]);
    }
    for &p in &out.positions {
        assert!(p >= base && p < base + out.valid_length.max(1));
    }
    match out.stop {
        ScanStop::End => assert_eq!(out.valid_length, data.len() as u64),
        ScanStop::Partial => {
            assert!(!final_);
            assert!(out.need_bytes >= RECORD_OVERHEAD as u64)
        }
        ScanStop::Torn => assert!(final_),
        ScanStop::Unresolved => {
            assert!(!final_);
            assert!(out.search_from.is_some())
        }
        ScanStop::Corrupt | ScanStop::Chain => {}
    }
    if let Some(p) = out.next_valid_position {
        assert!(p > out.stop_position && p < base + data.len() as u64);
        let at = (p - base) as usize;
        assert!(matches!(check_frame(data, at), Frame::Valid(_)));
    }
    out
}

#[test]
fn scan_never_panics_and_keeps_its_invariants() {
    run(
        "scan",
        (
            segment(),
            any::<bool>(),
            any::<bool>(),
            0..3u8,
            0..1u64 << 40,
        ),
        |((a, data, clean), verify, final_, first, base)| {
            let hasher = ChainHasher::new(a, STREAM).unwrap();
            let first = [None, Some(0), Some(5)][first as usize];
            let out = scan_checked(&hasher, &data, base, verify, final_, first);
            if clean && first != Some(5) && final_ {
                assert_eq!(out.stop, ScanStop::End, "{}", out.reason);
            }
            // Scanning in two pieces agrees with one pass on the records before any stop.
            if final_ && !data.is_empty() {
                let cut = (base as usize) % data.len();
                let head = scan_checked(&hasher, &data[..cut], base, verify, false, first);
                assert!(head.count() <= out.count() || out.stop != ScanStop::End);
                assert_eq!(
                    &out.positions[..head.count().min(out.count())],
                    &head.positions[..head.count().min(out.count())]
                );
            }
        },
    );
}

#[test]
fn find_valid_record_finds_only_valid_frames() {
    run(
        "findValidRecord",
        (segment(), any::<bool>(), 0..1u64 << 40),
        |((_, data, _), final_, base)| {
            let r = find_valid_record(&data, base, final_);
            assert!(r.position >= base && r.position <= base + data.len() as u64);
            let at = (r.position - base) as usize;
            match r.state {
                FindState::Found => assert!(matches!(check_frame(&data, at), Frame::Valid(_))),
                FindState::More => {
                    assert!(!final_);
                    assert!(r.need_bytes >= RECORD_OVERHEAD as u64);
                }
                FindState::None => assert_eq!(at, data.len()),
            }
            // Nothing valid is skipped before the answer.
            for j in 0..at.min(data.len()) {
                assert!(
                    !matches!(check_frame(&data, j), Frame::Valid(_)),
                    "valid frame at {j} skipped"
                );
            }
        },
    );
}

#[test]
fn decode_rejects_bad_positions_and_round_trips_clean_data() {
    run(
        "decode",
        (
            alg(),
            payloads(),
            0..3u8,
            prop::collection::vec(damage(), 0..3),
            prop::collection::vec(0..4096u64, 0..6),
            any::<bool>(),
        ),
        |(a, p, codec, ds, extra, chain)| {
            let hasher = ChainHasher::new(a, STREAM).unwrap();
            let (clean, positions) = encoded(a, &p, codec, 0);
            if !ds.is_empty() || !extra.is_empty() {
                let mut data = clean.clone();
                for d in &ds {
                    apply(&mut data, d);
                }
                let mut pos = positions.clone();
                pos.extend(extra.iter().copied());
                let _ = decode_records(&DecodeInput {
                    hasher: &hasher,
                    data: &data,
                    base: 0,
                    positions: &pos,
                    expect_prev_hash: if chain { Some([0u8; 32]) } else { None },
                    payloads_from: 0,
                    max_payload_bytes: MAX_PAYLOAD_BYTES,
                });
                return;
            }
            let out = decode_records(&DecodeInput {
                hasher: &hasher,
                data: &clean,
                base: 0,
                positions: &positions,
                expect_prev_hash: Some([0u8; 32]),
                payloads_from: 0,
                max_payload_bytes: MAX_PAYLOAD_BYTES,
            })
            .unwrap();
            assert_eq!(out.payloads, p.concat());
        },
    );
}

fn crafted_compressed() -> impl Strategy<Value = (u8, Vec<u8>)> {
    prop_oneof![
        // lz4: a length prefix (often huge) and a random or real block
        (any::<u32>(), prop::collection::vec(any::<u8>(), 0..300)).prop_map(|(n, b)| {
            let mut v = n.to_le_bytes().to_vec();
            v.extend(b);
            (1u8, v)
        }),
        // zstd: a real frame for random data, then damaged
        (
            prop::collection::vec(any::<u8>(), 0..800),
            prop::collection::vec(damage(), 0..3),
            1..3u8
        )
            .prop_map(|(d, ds, codec)| {
                let mut v = compress(codec, 1, &d).unwrap();
                for x in &ds {
                    apply(&mut v, x);
                }
                (codec, v)
            }),
        // zstd magic followed by random header bytes (frame content sizes of any width)
        prop::collection::vec(any::<u8>(), 0..64).prop_map(|b| {
            let mut v = 0xFD2F_B528u32.to_le_bytes().to_vec();
            v.extend(b);
            (2u8, v)
        }),
        (0..5u8, prop::collection::vec(any::<u8>(), 0..300)),
    ]
}

#[test]
fn decompress_is_capped_and_round_trips() {
    run(
        "decompress",
        (
            crafted_compressed(),
            prop_oneof![Just(MAX_PAYLOAD_BYTES), Just(1u64 << 20), 0..5000u64],
            prop::collection::vec(any::<u8>(), 0..2000),
            0..3u8,
        ),
        |((form, stored), cap, plain, codec)| {
            if let Ok(out) = decompress(form, &stored, cap) {
                assert!(out.len() as u64 <= cap);
            }
            let c = compress(codec, 1, &plain).unwrap();
            assert_eq!(decompress(codec, &c, MAX_PAYLOAD_BYTES).unwrap(), plain);
            if !plain.is_empty() {
                assert!(decompress(codec, &c, plain.len() as u64 - 1).is_err());
            }
        },
    );
}
