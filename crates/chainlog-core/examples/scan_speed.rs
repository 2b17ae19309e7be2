//! Rough speed of the core's hot paths on this machine:
//!   cargo run --release -p chainlog-core --example scan_speed
use chainlog_core::format::*;
use chainlog_core::*;
use std::time::Instant;

fn main() {
    let n = 1000usize;
    let payloads: Vec<u8> = (0..n * 256).map(|i| (i * 31 + (i >> 8)) as u8).collect();
    let lengths = vec![256u32; n];
    let mut seg = Vec::new();
    let mut prev = ZERO_HASH;
    let t = Instant::now();
    let batches = 834;
    for b in 0..batches {
        let ts = vec![1_700_000_000_000u64 + (b * n) as u64; n];
        let r = encode_batch(&EncodeInput {
            hash: HashAlgorithm::Blake3,
            stream: b"bench",
            first_offset: (b * n) as u64,
            prev_hash: prev,
            kind: 0,
            codec: 0,
            level: 0,
            dictionary: 0,
            payloads: &payloads,
            lengths: &lengths,
            timestamps: &ts,
            want_hashes: false,
            batch_ends: &[],
        })
        .unwrap();
        prev = r.last_hash;
        seg.extend_from_slice(&r.bytes);
    }
    let s = t.elapsed().as_secs_f64();
    println!("encode: {:.2} M records/s", (batches * n) as f64 / s / 1e6);
    let hasher = ChainHasher::new(HashAlgorithm::Blake3, b"bench").unwrap();
    for verify in [true, false] {
        let t = Instant::now();
        let r = scan_segment(&ScanInput {
            hasher: &hasher,
            data: &seg,
            base: 0,
            first_offset: Some(0),
            prev_hash: Some(ZERO_HASH),
            prev_timestamp: None,
            verify_chain: verify,
            final_: true,
        });
        let s = t.elapsed().as_secs_f64();
        println!(
            "scan verify={verify}: {:?} {} records, {:.2} M records/s, {:.0} MB/s",
            r.stop,
            r.count(),
            r.count() as f64 / s / 1e6,
            seg.len() as f64 / s / 1e6
        );
    }
    let m = 1_000_000;
    let t = Instant::now();
    let mut acc = 0u8;
    for i in 0..m {
        acc ^= commitment(
            HashAlgorithm::Blake3,
            &payloads[(i % n) * 256..(i % n) * 256 + 256],
        )[0];
    }
    println!(
        "blake3 256 B: {:.0} ns",
        t.elapsed().as_nanos() as f64 / m as f64
    );
    let c = [1u8; 32];
    let t = Instant::now();
    for i in 0..m {
        acc ^= hasher.record_hash(&RecordFields {
            prev_hash: &c,
            offset: i as u64,
            timestamp: 5,
            kind: 0,
            payload_length: 256,
            commitment: &c,
        })[0];
    }
    println!(
        "record hash: {:.0} ns",
        t.elapsed().as_nanos() as f64 / m as f64
    );
    let t = Instant::now();
    for i in 0..m {
        acc ^= crc32fast::hash(
            &payloads[(i % n) * 256..(i % n) * 256 + 256 + 66.min(n * 256 - (i % n) * 256 - 256)],
        ) as u8;
    }
    println!(
        "crc32 322 B: {:.0} ns  ({acc})",
        t.elapsed().as_nanos() as f64 / m as f64
    );
}
