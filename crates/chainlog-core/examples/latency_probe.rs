//! Timing probes, not tests (nothing is asserted about time): the latency of one BLAKE3
//! compression per blake3 platform, and of a chain hash and a record CRC. They are why lanes.rs
//! runs dependent compressions through the portable one. Run:
//!   cargo run --release -p chainlog-core --example latency_probe
use chainlog_core::*;
fn record_hash_and_crc_latency() {
    let h = ChainHasher::new(HashAlgorithm::Blake3, b"bench").unwrap();
    let c = [3u8; 32];
    let mut prev = [0u8; 32];
    let t = std::time::Instant::now();
    for k in 0..1_000_000u64 {
        prev = h.record_hash(&RecordFields {
            prev_hash: &prev,
            offset: k,
            timestamp: 5,
            kind: 0,
            payload_length: 256,
            commitment: &c,
        });
    }
    println!(
        "record_hash: {:.1} ns",
        t.elapsed().as_secs_f64() * 1e9 / 1e6
    );
    let data = vec![5u8; 314];
    let t = std::time::Instant::now();
    let mut x = 0;
    for _ in 0..1_000_000u64 {
        x ^= crc32fast::hash(&data);
    }
    println!(
        "crc 314B: {:.1} ns {x}",
        t.elapsed().as_secs_f64() * 1e9 / 1e6
    );
}
fn one_compression_latency_per_platform() {
    use blake3::platform::Platform;
    let iv: [u32; 8] = [
        0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB,
        0x5BE0CD19,
    ];
    let block = [9u8; 64];
    for (name, p) in [
        ("detect", Some(Platform::detect())),
        ("sse41", Platform::sse41()),
        ("sse2", Platform::sse2()),
        ("portable", Some(Platform::portable())),
    ] {
        let Some(p) = p else { continue };
        let mut cv = iv;
        let t = std::time::Instant::now();
        for _ in 0..2_000_000 {
            p.compress_in_place(&mut cv, &block, 64, 0, 1);
        }
        println!(
            "{name}: {:.1} ns per dependent compress {:?}",
            t.elapsed().as_secs_f64() * 1e9 / 2e6,
            cv[0]
        );
    }
}

fn main() {
    one_compression_latency_per_platform();
    record_hash_and_crc_latency();
}
