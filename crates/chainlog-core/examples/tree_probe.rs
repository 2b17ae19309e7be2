//! Timing probe, not a test (nothing is asserted about time): what the Merkle tree (SPEC §8)
//! costs per leaf in the native core — one leaf hash (one SHA-256 block) and one node hash (two)
//! through sha2's streaming hasher,
//! and extend_tree over 1M leaves in batches of 1000 (as W1 calls it). Whether sha2 uses the
//! CPU's SHA extensions (SHA-NI) is decided at run time; build with the `sha2/force-soft` feature
//! to compare against the portable code:
//!   cargo run --release -p chainlog-core --example tree_probe
//!   cargo run --release -p chainlog-core --example tree_probe --features sha2/force-soft
use chainlog_core::*;
use sha2::{Digest, Sha256};
use std::hint::black_box;
use std::time::Instant;

const N: usize = 1_000_000;

fn ns_per(n: usize, f: impl FnOnce()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_secs_f64() * 1e9 / n as f64
}

fn main() {
    #[cfg(target_arch = "x86_64")]
    println!(
        "CPU SHA extensions (sha_ni): {}",
        std::is_x86_feature_detected!("sha")
    );
    let data: Vec<u8> = (0..N as u32)
        .flat_map(|i| Sha256::digest(i.to_le_bytes()))
        .collect();
    let leaf = ns_per(N, || {
        for chunk in data.chunks_exact(32) {
            black_box(
                Sha256::new()
                    .chain_update([0u8])
                    .chain_update(chunk)
                    .finalize(),
            );
        }
    });
    let node = ns_per(N, || {
        for chunk in data.chunks_exact(64) {
            let h = Sha256::new()
                .chain_update([1u8])
                .chain_update(&chunk[..32])
                .chain_update(&chunk[32..])
                .finalize();
            black_box(h);
        }
        for chunk in data.chunks_exact(64) {
            black_box(
                Sha256::new()
                    .chain_update([1u8])
                    .chain_update(chunk)
                    .finalize(),
            );
        }
    });
    let mut runs = Vec::new();
    for _ in 0..5 {
        let mut frontier = vec![0u8; TREE_FRONTIER_BYTES];
        let mut size = 0u64;
        runs.push(ns_per(N, || {
            for chunk in data.chunks(32 * 1000) {
                let n = chunk.len() / 32;
                let mut out = vec![0u8; tree_out_bytes(size, n)];
                extend_tree(&frontier, size, chunk, &mut out).unwrap();
                frontier.copy_from_slice(&out[..TREE_FRONTIER_BYTES]);
                size += n as u64;
            }
        }));
    }
    runs.sort_by(f64::total_cmp);
    println!("leaf hash SHA-256(0x00 ‖ 32 B), streaming hasher: {leaf:.1} ns");
    println!("node hash SHA-256(0x01 ‖ 64 B), streaming hasher: {node:.1} ns");
    println!(
        "extend_tree, 1M leaves in batches of 1000: {:.1} ns per leaf (median of 5; runs {:?})",
        runs[2],
        runs.iter()
            .map(|r| (r * 10.0).round() / 10.0)
            .collect::<Vec<_>>()
    );
}
