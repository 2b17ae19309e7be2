//! Commitment and chain hash of SPEC §2, with BLAKE3 or SHA-256.
use crate::error::{invalid, Result};
use crate::format::{HASH_BYTES, HASH_DOMAIN, MAX_STREAM_BYTES};
use sha2::{Digest, Sha256};

pub type Hash = [u8; HASH_BYTES];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlgorithm {
    Blake3,
    Sha256,
}

impl HashAlgorithm {
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "blake3" => Ok(HashAlgorithm::Blake3),
            "sha256" => Ok(HashAlgorithm::Sha256),
            _ => Err(invalid(format!(
                "hash must be 'blake3' or 'sha256', got '{name}'"
            ))),
        }
    }
}

/// H(payload): the commitment to the uncompressed payload.
pub fn commitment(alg: HashAlgorithm, payload: &[u8]) -> Hash {
    match alg {
        // One chunk is a chain of dependent compressions: the latency-friendly path (lanes.rs).
        HashAlgorithm::Blake3 if payload.len() <= crate::lanes::CHUNK => {
            crate::lanes::blake3_one_chunk(payload)
        }
        HashAlgorithm::Blake3 => *blake3::hash(payload).as_bytes(),
        HashAlgorithm::Sha256 => Sha256::digest(payload).into(),
    }
}

/// The fields of one record that its chain hash covers, besides the stream.
#[derive(Debug, Clone, Copy)]
pub struct RecordFields<'a> {
    pub prev_hash: &'a Hash,
    pub offset: u64,
    pub timestamp: u64,
    pub kind: u8,
    pub payload_length: u64,
    pub commitment: &'a Hash,
}

/// Chain hashes of one stream. The domain tag and stream name are laid out once, so each record
/// costs two hasher updates and no allocation.
pub struct ChainHasher {
    alg: HashAlgorithm,
    /// "chainlog:record:v1" ‖ u16 len(stream) ‖ stream
    prefix: Vec<u8>,
}

/// Prefixes up to this long (stream names up to 128 bytes, all the engine allows) are hashed
/// from a message laid out on the stack.
const SHORT_PREFIX_BYTES: usize = HASH_DOMAIN.len() + 2 + 128;
/// prev_hash ‖ offset ‖ timestamp ‖ kind ‖ u64 len(payload) ‖ commitment
const TAIL_BYTES: usize = HASH_BYTES + 8 + 8 + 1 + 8 + HASH_BYTES;

fn tail(r: &RecordFields<'_>) -> [u8; TAIL_BYTES] {
    let mut tail = [0u8; TAIL_BYTES];
    tail[0..32].copy_from_slice(r.prev_hash);
    tail[32..40].copy_from_slice(&r.offset.to_le_bytes());
    tail[40..48].copy_from_slice(&r.timestamp.to_le_bytes());
    tail[48] = r.kind;
    tail[49..57].copy_from_slice(&r.payload_length.to_le_bytes());
    tail[57..89].copy_from_slice(r.commitment);
    tail
}

impl ChainHasher {
    pub fn new(alg: HashAlgorithm, stream: &[u8]) -> Result<Self> {
        if stream.len() > MAX_STREAM_BYTES {
            return Err(invalid(format!(
                "stream name must be at most {MAX_STREAM_BYTES} UTF-8 bytes, got {}",
                stream.len()
            )));
        }
        let mut prefix = Vec::with_capacity(HASH_DOMAIN.len() + 2 + stream.len());
        prefix.extend_from_slice(HASH_DOMAIN);
        prefix.extend_from_slice(&(stream.len() as u16).to_le_bytes());
        prefix.extend_from_slice(stream);
        Ok(ChainHasher { alg, prefix })
    }

    pub fn algorithm(&self) -> HashAlgorithm {
        self.alg
    }

    pub fn commitment(&self, payload: &[u8]) -> Hash {
        commitment(self.alg, payload)
    }

    /// The commitment of each payload, in order, appended to `out` (BLAKE3: several at a time).
    pub fn commitments(&self, payloads: &[&[u8]], out: &mut Vec<Hash>) {
        match self.alg {
            HashAlgorithm::Blake3 => crate::lanes::blake3_commitments(payloads, out),
            HashAlgorithm::Sha256 => out.extend(payloads.iter().map(|p| commitment(self.alg, p))),
        }
    }

    /// The whole message a chain hash hashes, appended to `out`: hashing it gives `record_hash`.
    pub fn append_message(&self, r: &RecordFields<'_>, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.prefix);
        out.extend_from_slice(&tail(r));
    }

    /// Hashes of whole messages (from `append_message`), appended to `out`; BLAKE3 several at a time.
    pub fn hash_messages(&self, messages: &[&[u8]], out: &mut Vec<Hash>) {
        self.commitments(messages, out)
    }

    pub fn record_hash(&self, r: &RecordFields<'_>) -> Hash {
        let tail = tail(r);
        match self.alg {
            HashAlgorithm::Blake3 if self.prefix.len() <= SHORT_PREFIX_BYTES => {
                // One contiguous message, hashed block by block (lanes::blake3_one_chunk): an
                // incremental Hasher sets up state for inputs of any size, which cost about as
                // much as hashing these few bytes.
                let mut message = [0u8; SHORT_PREFIX_BYTES + TAIL_BYTES];
                let n = self.prefix.len();
                message[..n].copy_from_slice(&self.prefix);
                message[n..n + TAIL_BYTES].copy_from_slice(&tail);
                crate::lanes::blake3_one_chunk(&message[..n + TAIL_BYTES])
            }
            HashAlgorithm::Blake3 => {
                let mut h = blake3::Hasher::new();
                h.update(&self.prefix);
                h.update(&tail);
                *h.finalize().as_bytes()
            }
            HashAlgorithm::Sha256 => {
                let mut h = Sha256::new();
                h.update(&self.prefix);
                h.update(tail);
                h.finalize().into()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_hash_is_the_hash_of_the_whole_message_for_short_and_long_stream_names() {
        // The stack-laid message serves names up to 128 bytes; longer ones take the incremental
        // hasher. Both must hash exactly prefix ‖ tail.
        let payload_commitment = [7u8; 32];
        let prev = [9u8; 32];
        let r = RecordFields {
            prev_hash: &prev,
            offset: 5,
            timestamp: 1_700_000_000_000,
            kind: 0,
            payload_length: 256,
            commitment: &payload_commitment,
        };
        for len in [0usize, 1, 45, 46, 127, 128, 129, 300, 65535] {
            let stream = vec![b's'; len];
            for alg in [HashAlgorithm::Blake3, HashAlgorithm::Sha256] {
                let h = ChainHasher::new(alg, &stream).unwrap();
                let mut message = Vec::new();
                h.append_message(&r, &mut message);
                assert_eq!(
                    h.record_hash(&r),
                    commitment(alg, &message),
                    "stream of {len} bytes"
                );
            }
        }
    }
}
