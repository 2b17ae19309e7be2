//! BLAKE3 commitments of many payloads at once. `blake3::hash` runs one input through one
//! compression at a time, so a 256 B payload costs four sequential compressions. Here payloads of
//! one chunk (65..=1024 bytes) that have the same number of leading full blocks go through
//! blake3's SIMD lanes together (`hash_many`: 8 inputs per step with AVX2, 4 with SSE4.1), and
//! each is then finished with its own last block, exactly as the reference does it. A payload of
//! a whole number of blocks (128, 256, … 1024 bytes) needs no finishing: its last block is full,
//! so it goes through the lanes with the end flags too, and the lanes give its hash directly (one
//! sequential compression fewer per record; for 256 B events that was a quarter of the hashing).
//! The result is the same hash, bit for bit (tests compare with `blake3::hash` at every length).
//!
//! `blake3::platform` is blake3's hidden, unstable API: the workspace pins blake3 to one exact
//! version for it, and a bump must pass this module's tests.
use crate::hash::Hash;
use blake3::platform::Platform;
use blake3::IncrementCounter;

const BLOCK: usize = 64;
pub(crate) const CHUNK: usize = 1024;
/// BLAKE3's IV (the key words of an unkeyed hash) and the block flags of the spec.
const IV: [u32; 8] = [
    0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19,
];
const CHUNK_START: u8 = 1 << 0;
const CHUNK_END: u8 = 1 << 1;
const ROOT: u8 = 1 << 3;
/// Leading full blocks of a one-chunk input longer than one block: 1..=15.
const MAX_LEAD: usize = CHUNK / BLOCK - 1;

/// BLAKE3 of each payload, in order, appended to `out`.
pub fn blake3_commitments(payloads: &[&[u8]], out: &mut Vec<Hash>) {
    let start = out.len();
    out.resize(start + payloads.len(), [0u8; 32]);
    let out = &mut out[start..];
    // Payload indexes by their count of leading full blocks (index 0 unused), and by their count
    // of blocks for the payloads of whole blocks (index 0 and 1 unused).
    let mut by_lead: [Vec<usize>; MAX_LEAD + 1] = Default::default();
    let mut by_blocks: [Vec<usize>; MAX_LEAD + 2] = Default::default();
    for (i, p) in payloads.iter().enumerate() {
        if p.len() <= BLOCK {
            out[i] = blake3_one_chunk(p);
        } else if p.len() > CHUNK {
            out[i] = *blake3::hash(p).as_bytes();
        } else if p.len() % BLOCK == 0 {
            by_blocks[p.len() / BLOCK].push(i);
        } else {
            by_lead[(p.len() - 1) / BLOCK].push(i);
        }
    }
    let platform = Platform::detect();
    let mut cvs = Vec::new();
    for (blocks, members) in by_blocks.iter().enumerate() {
        if members.is_empty() {
            continue;
        }
        cvs.clear();
        cvs.resize(members.len() * 32, 0u8);
        // The whole chunk, its last block flagged as the chunk's end and the root: the hash itself.
        lanes(
            platform,
            blocks,
            members,
            payloads,
            CHUNK_END | ROOT,
            &mut cvs,
        );
        for (k, &i) in members.iter().enumerate() {
            out[i].copy_from_slice(&cvs[k * 32..k * 32 + 32]);
        }
    }
    for (lead, members) in by_lead.iter().enumerate() {
        if members.is_empty() {
            continue;
        }
        cvs.clear();
        cvs.resize(members.len() * 32, 0u8);
        // No end flag: the last block is compressed separately.
        lanes(platform, lead, members, payloads, 0, &mut cvs);
        for (k, &i) in members.iter().enumerate() {
            let mut cv = [0u32; 8];
            for (w, bytes) in cv.iter_mut().zip(cvs[k * 32..k * 32 + 32].chunks_exact(4)) {
                *w = u32::from_le_bytes(bytes.try_into().unwrap());
            }
            // The last block (1..=64 bytes, zero-padded) ends the chunk, which is the root.
            let tail = &payloads[i][lead * BLOCK..];
            let mut block = [0u8; BLOCK];
            block[..tail.len()].copy_from_slice(tail);
            Platform::portable().compress_in_place(
                &mut cv,
                &block,
                tail.len() as u8,
                0,
                CHUNK_END | ROOT,
            );
            for (bytes, w) in out[i].chunks_exact_mut(4).zip(cv) {
                bytes.copy_from_slice(&w.to_le_bytes());
            }
        }
    }
}

/// BLAKE3 of an input of one chunk (1024 bytes) at most, block by block: the same hash as
/// `blake3::hash` (which longer inputs go to), without its general chunk-state machinery. Each
/// block waits for the one before it, so what counts is a compression's latency, and there
/// blake3's portable (scalar) compression wins: 52 ns against 86 ns for its AVX-512 one and
/// 102 ns for SSE4.1 on this project's machine (AMD EPYC; examples/latency_probe.rs). The SIMD
/// lanes stay for many inputs at once.
pub fn blake3_one_chunk(input: &[u8]) -> Hash {
    if input.len() > CHUNK {
        return *blake3::hash(input).as_bytes(); // several chunks: a tree, not one chain
    }
    let platform = Platform::portable();
    let mut cv = IV;
    let blocks = input.len().div_ceil(BLOCK).max(1);
    for b in 0..blocks {
        let part = &input[b * BLOCK..input.len().min((b + 1) * BLOCK)];
        let mut flags = if b == 0 { CHUNK_START } else { 0 };
        if b + 1 == blocks {
            flags |= CHUNK_END | ROOT;
        }
        if part.len() == BLOCK {
            platform.compress_in_place(&mut cv, part.try_into().unwrap(), BLOCK as u8, 0, flags);
        } else {
            let mut block = [0u8; BLOCK];
            block[..part.len()].copy_from_slice(part);
            platform.compress_in_place(&mut cv, &block, part.len() as u8, 0, flags);
        }
    }
    let mut out = [0u8; 32];
    for (bytes, w) in out.chunks_exact_mut(4).zip(cv) {
        bytes.copy_from_slice(&w.to_le_bytes());
    }
    out
}

/// Chaining values after the first `blocks` blocks of each member payload, 32 bytes each, into
/// `cvs`; `flags_end` goes on the last of those blocks.
fn lanes(
    platform: Platform,
    blocks: usize,
    members: &[usize],
    payloads: &[&[u8]],
    flags_end: u8,
    cvs: &mut [u8],
) {
    // hash_many takes inputs of a length fixed at compile time: one instance per block count.
    macro_rules! many {
        ($($n:literal),*) => {
            match blocks {
                $($n => {
                    let inputs: Vec<&[u8; $n * BLOCK]> = members
                        .iter()
                        .map(|&i| payloads[i][..$n * BLOCK].try_into().unwrap())
                        .collect();
                    // Chunk counter 0 for every input (each is its own one-chunk tree).
                    platform.hash_many(&inputs, &IV, 0, IncrementCounter::No, 0, CHUNK_START, flags_end, cvs);
                })*
                _ => unreachable!("blocks is 1..=16"),
            }
        };
    }
    many!(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(len: usize, seed: u32) -> Vec<u8> {
        let mut s = seed;
        (0..len)
            .map(|_| {
                s = s.wrapping_mul(1664525).wrapping_add(1013904223);
                (s >> 24) as u8
            })
            .collect()
    }

    #[test]
    fn same_hash_as_blake3_at_every_length() {
        // Every length up to past two chunks, in one call (mixed lead counts) and one at a time.
        let data: Vec<Vec<u8>> = (0..2200).map(|len| bytes(len, len as u32)).collect();
        let refs: Vec<&[u8]> = data.iter().map(|d| d.as_slice()).collect();
        let mut out = Vec::new();
        blake3_commitments(&refs, &mut out);
        for (d, h) in data.iter().zip(&out) {
            assert_eq!(h, blake3::hash(d).as_bytes(), "length {}", d.len());
        }
        for d in &data[..1100] {
            let mut one = vec![[7u8; 32]];
            blake3_commitments(&[d.as_slice()], &mut one);
            assert_eq!(one[0], [7u8; 32], "appends, keeps what was there");
            assert_eq!(&one[1], blake3::hash(d).as_bytes(), "length {}", d.len());
        }
    }

    #[test]
    fn one_chunk_hash_is_blake3_at_every_length() {
        for len in (0..=CHUNK).chain([CHUNK + 1, 3000]) {
            let d = bytes(len, 77 + len as u32);
            assert_eq!(
                &blake3_one_chunk(&d),
                blake3::hash(&d).as_bytes(),
                "length {len}"
            );
        }
    }

    #[test]
    fn many_payloads_of_one_length_across_the_lanes() {
        for len in [65, 128, 200, 256, 257, 1000, 1024] {
            let data: Vec<Vec<u8>> = (0..37).map(|k| bytes(len, 1000 + k)).collect();
            let refs: Vec<&[u8]> = data.iter().map(|d| d.as_slice()).collect();
            let mut out = Vec::new();
            blake3_commitments(&refs, &mut out);
            for (d, h) in data.iter().zip(&out) {
                assert_eq!(h, blake3::hash(d).as_bytes(), "length {len}");
            }
        }
    }
}
