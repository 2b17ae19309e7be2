//! SPEC §8: a stream's RFC 6962 Merkle tree, extended by each encoded batch in the same call that
//! computes its chain hashes (leaf i = SHA-256(0x00 ‖ chain hash of record i)). The tree is kept
//! as its compact range (the right frontier); a call also returns the leaf hashes and the nodes it
//! completes at tile levels ≥ 1 (heights 8, 16, …), so that the engine can write C2SP tiles
//! without hashing anything again.

use crate::error::{invalid, Result};
use crate::format::HASH_BYTES;
use crate::hash::Hash;

/// A compact range: u64 LE tree size, then the hashes of its complete subtrees, largest first,
/// zero-padded to 64 slots (one per bit of the size).
pub const TREE_FRONTIER_BYTES: usize = 8 + 64 * HASH_BYTES;
/// Levels of the tree one C2SP tile spans.
const TILE_HEIGHT: u32 = 8;

/// How many nodes at heights 8, 16, … complete when `n` leaves are appended to a tree of `size`.
pub fn tile_nodes(size: u64, n: u64) -> u64 {
    let end = size + n;
    (1..)
        .map(|k| k * TILE_HEIGHT)
        .take_while(|&h| h < 64)
        .map(|h| (end >> h) - (size >> h))
        .sum()
}

/// The bytes extend_tree writes for `n` leaves after a tree of `size`: the new compact range,
/// the n leaf hashes, then the completed tile-level nodes (height 8 in index order, then 16, …).
pub fn tree_out_bytes(size: u64, n: usize) -> usize {
    TREE_FRONTIER_BYTES + (n + tile_nodes(size, n as u64) as usize) * HASH_BYTES
}

/// SHA-256's initial state (FIPS 180-4 §5.3.3).
const SHA256_IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// The digest of a message whose padded blocks are `blocks`. Leaves and nodes have fixed sizes
/// (33 and 65 bytes), so their padding is written once here instead of by a streaming hasher:
/// per leaf this is most of the tree's cost besides the compressions themselves.
fn digest_blocks(blocks: &[[u8; 64]]) -> Hash {
    let mut state = SHA256_IV;
    for block in blocks {
        sha2::compress256(&mut state, &[(*block).into()]);
    }
    let mut out = [0u8; HASH_BYTES];
    for (o, w) in out.chunks_exact_mut(4).zip(state) {
        o.copy_from_slice(&w.to_be_bytes());
    }
    out
}

/// RFC 6962 leaf hash SHA-256(0x00 ‖ data) of a 32-byte chain hash: one block.
fn leaf_hash(data: &[u8]) -> Hash {
    let mut block = [0u8; 64];
    block[1..33].copy_from_slice(data);
    block[33] = 0x80;
    block[56..].copy_from_slice(&(33u64 * 8).to_be_bytes());
    digest_blocks(&[block])
}

/// RFC 6962 node hash SHA-256(0x01 ‖ left ‖ right): two blocks.
fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut blocks = [[0u8; 64]; 2];
    blocks[0][0] = 1;
    blocks[0][1..33].copy_from_slice(left);
    blocks[0][33..].copy_from_slice(&right[..31]);
    blocks[1][0] = right[31];
    blocks[1][1] = 0x80;
    blocks[1][56..].copy_from_slice(&(65u64 * 8).to_be_bytes());
    digest_blocks(&blocks)
}

/// Refuses a compact range that is malformed or not of `size` leaves (before anything is written).
pub fn check_frontier(frontier: &[u8], size: u64) -> Result<()> {
    read_frontier(frontier, size).map(|_| ())
}

/// The hashes of a compact range, its size checked to be `expected_size` (the batch's first offset).
fn read_frontier(frontier: &[u8], expected_size: u64) -> Result<Vec<Hash>> {
    if frontier.len() != TREE_FRONTIER_BYTES {
        return Err(invalid(format!(
            "treeFrontier must be {TREE_FRONTIER_BYTES} bytes, got {}",
            frontier.len()
        )));
    }
    let size = u64::from_le_bytes(frontier[..8].try_into().expect("8 bytes"));
    if size != expected_size {
        return Err(invalid(format!(
            "treeFrontier holds a tree of {size} leaves, the batch starts at offset {expected_size}"
        )));
    }
    let count = size.count_ones() as usize;
    Ok(frontier[8..8 + count * HASH_BYTES]
        .chunks_exact(HASH_BYTES)
        .map(|h| h.try_into().expect("32 bytes"))
        .collect())
}

/// Appends one leaf per chain hash in `chain_hashes` to the tree `frontier` holds (its size must
/// be `size`); writes tree_out_bytes(size, n) bytes to `out` (checked by the caller).
pub fn extend_tree(frontier: &[u8], size: u64, chain_hashes: &[u8], out: &mut [u8]) -> Result<()> {
    let mut stack = read_frontier(frontier, size)?;
    let n = chain_hashes.len() / HASH_BYTES;
    let want = tree_out_bytes(size, n);
    if out.len() != want {
        return Err(invalid(format!(
            "treeOut must be {want} bytes, got {}",
            out.len()
        )));
    }
    // Where each tile level's completed nodes go, after the leaf hashes.
    let end = size + n as u64;
    let mut level_base = [0usize; 8];
    let mut at = TREE_FRONTIER_BYTES + n * HASH_BYTES;
    for (k, base) in level_base.iter_mut().enumerate().skip(1) {
        let h = k as u32 * TILE_HEIGHT;
        *base = at;
        if h < 64 {
            at += ((end >> h) - (size >> h)) as usize * HASH_BYTES;
        }
    }
    let leaves_at = TREE_FRONTIER_BYTES;
    for (i, data) in chain_hashes.chunks_exact(HASH_BYTES).enumerate() {
        let mut hash = leaf_hash(data);
        out[leaves_at + i * HASH_BYTES..leaves_at + (i + 1) * HASH_BYTES].copy_from_slice(&hash);
        let mut index = size + i as u64;
        let mut level = 0u32;
        while index & 1 == 1 {
            let left = stack
                .pop()
                .expect("an odd index has a left sibling in the range");
            hash = node_hash(&left, &hash);
            index >>= 1;
            level += 1;
            if level.is_multiple_of(TILE_HEIGHT) {
                let k = (level / TILE_HEIGHT) as usize;
                let first = size >> level;
                let p = level_base[k] + (index - first) as usize * HASH_BYTES;
                out[p..p + HASH_BYTES].copy_from_slice(&hash);
            }
        }
        stack.push(hash);
    }
    out[..8].copy_from_slice(&end.to_le_bytes());
    out[8..TREE_FRONTIER_BYTES].fill(0);
    for (j, h) in stack.iter().enumerate() {
        out[8 + j * HASH_BYTES..8 + (j + 1) * HASH_BYTES].copy_from_slice(h);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn block_hashes_are_the_streaming_hashes() {
        for seed in 0..200u32 {
            let a: Hash = Sha256::digest(seed.to_le_bytes()).into();
            let b: Hash = Sha256::digest((seed + 7).to_be_bytes()).into();
            let leaf: Hash = Sha256::new()
                .chain_update([0u8])
                .chain_update(a)
                .finalize()
                .into();
            let node: Hash = Sha256::new()
                .chain_update([1u8])
                .chain_update(a)
                .chain_update(b)
                .finalize()
                .into();
            assert_eq!(leaf_hash(&a), leaf);
            assert_eq!(node_hash(&a, &b), node);
        }
    }

    fn empty() -> Vec<u8> {
        vec![0u8; TREE_FRONTIER_BYTES]
    }

    /// RFC 6962 MTH, recursively, for checking.
    fn mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => Sha256::digest([]).into(),
            1 => leaves[0],
            n => {
                // The largest power of two below n.
                let k = 1usize << (usize::BITS - 1 - (n - 1).leading_zeros());
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    fn root(frontier: &[u8]) -> Hash {
        let size = u64::from_le_bytes(frontier[..8].try_into().unwrap());
        let hashes: Vec<Hash> = frontier[8..8 + size.count_ones() as usize * 32]
            .chunks_exact(32)
            .map(|h| h.try_into().unwrap())
            .collect();
        let mut it = hashes.iter().rev();
        let mut acc = *it.next().unwrap();
        for h in it {
            acc = node_hash(h, &acc);
        }
        acc
    }

    #[test]
    fn batches_give_the_rfc6962_root_and_tile_nodes() {
        let data: Vec<u8> = (0..70_000u32)
            .flat_map(|i| Sha256::digest(i.to_le_bytes()))
            .collect();
        let leaves: Vec<Hash> = data.chunks_exact(32).map(leaf_hash).collect();
        let mut frontier = empty();
        let mut size = 0u64;
        let mut level1 = Vec::new();
        for chunk in data.chunks(32 * 777) {
            let n = chunk.len() / 32;
            let mut out = vec![0u8; tree_out_bytes(size, n)];
            extend_tree(&frontier, size, chunk, &mut out).unwrap();
            assert_eq!(
                &out[TREE_FRONTIER_BYTES..TREE_FRONTIER_BYTES + 32],
                &leaves[size as usize][..]
            );
            let nodes = &out[TREE_FRONTIER_BYTES + n * 32..];
            let l1 = (((size + n as u64) >> 8) - (size >> 8)) as usize;
            level1.extend(
                nodes[..l1 * 32]
                    .chunks_exact(32)
                    .map(|h| <Hash>::try_from(h).unwrap()),
            );
            frontier = out[..TREE_FRONTIER_BYTES].to_vec();
            size += n as u64;
            assert_eq!(root(&frontier), mth(&leaves[..size as usize]));
        }
        assert_eq!(level1.len(), 70_000 / 256);
        for (i, h) in level1.iter().enumerate() {
            assert_eq!(*h, mth(&leaves[i * 256..(i + 1) * 256]));
        }
        assert_eq!(tile_nodes(65_535, 1), 2);
    }

    #[test]
    fn a_frontier_of_another_size_is_refused() {
        let mut out = vec![0u8; tree_out_bytes(1, 1)];
        assert!(extend_tree(&empty(), 1, &[0u8; 32], &mut out).is_err());
        assert!(extend_tree(&[0u8; 10], 0, &[0u8; 32], &mut out).is_err());
    }
}
