//! encodeBatch (ts/core/scan-rules.md §6): frames a batch of payloads into consecutive records.
use crate::codec::{compress_into, zstd_level};
use crate::error::{invalid, Result};
use crate::format::*;
use crate::frame::{write_record, Header};
use crate::hash::{ChainHasher, Hash, HashAlgorithm, RecordFields};

pub struct EncodeInput<'a> {
    pub hash: HashAlgorithm,
    pub stream: &'a [u8],
    pub first_offset: u64,
    pub prev_hash: Hash,
    pub kind: u8,
    pub codec: u8,
    /// zstd level as given (0..22, 0 = default); checked only when codec is zstd.
    pub level: i64,
    pub payloads: &'a [u8],
    pub lengths: &'a [u32],
    /// Already checked to be safe integers by the caller.
    pub timestamps: &'a [u64],
    pub want_hashes: bool,
}

#[derive(Debug)]
pub struct EncodeOutput {
    pub bytes: Vec<u8>,
    /// Start of each record within `bytes`.
    pub positions: Vec<u64>,
    pub last_hash: Hash,
    /// N × 32 bytes when asked for.
    pub hashes: Option<Vec<u8>>,
}

fn check(input: &EncodeInput<'_>) -> Result<i32> {
    if input.stream.len() > MAX_STREAM_BYTES {
        return Err(invalid(format!("stream name must be at most {MAX_STREAM_BYTES} UTF-8 bytes, got {}", input.stream.len())));
    }
    let n = input.lengths.len();
    if n == 0 {
        return Err(invalid("a batch needs at least one payload"));
    }
    let mut sum: u64 = 0;
    for (k, &len) in input.lengths.iter().enumerate() {
        if len as u64 > MAX_PAYLOAD_BYTES {
            return Err(invalid(format!("payload {k} is {len} bytes, over the limit of {MAX_PAYLOAD_BYTES}")));
        }
        sum += len as u64;
    }
    if sum != input.payloads.len() as u64 {
        return Err(invalid(format!("lengths add up to {sum} but payloads has {} bytes", input.payloads.len())));
    }
    if input.timestamps.len() != n {
        return Err(invalid(format!("{n} payloads need {n} timestamps, got {}", input.timestamps.len())));
    }
    for k in 1..n {
        if input.timestamps[k] < input.timestamps[k - 1] {
            return Err(invalid(format!(
                "timestamps must not decrease: {} after {} at index {k}",
                input.timestamps[k],
                input.timestamps[k - 1]
            )));
        }
    }
    if input.first_offset > MAX_SAFE || input.first_offset + (n as u64 - 1) > MAX_SAFE {
        return Err(invalid(format!("offsets {}..+{n} would pass 2^53 - 1", input.first_offset)));
    }
    let zero_prev = input.prev_hash == ZERO_HASH;
    if zero_prev != (input.first_offset == 0) {
        return Err(invalid(if zero_prev {
            format!("prevHash is all zeros but firstOffset is {}", input.first_offset)
        } else {
            "prevHash must be all zeros at offset 0".to_string()
        }));
    }
    if input.kind > MAX_KIND {
        return Err(invalid(format!("kind must be 0..{MAX_KIND}, got {}", input.kind)));
    }
    if input.codec > CODEC_ZSTD {
        return Err(invalid(format!("codec must be 0 (none), 1 (lz4) or 2 (zstd), got {}", input.codec)));
    }
    if input.codec == CODEC_ZSTD {
        zstd_level(input.level)
    } else {
        Ok(DEFAULT_ZSTD_LEVEL)
    }
}

pub fn encode_batch(input: &EncodeInput<'_>) -> Result<EncodeOutput> {
    let level = check(input)?;
    let hasher = ChainHasher::new(input.hash, input.stream)?;
    let n = input.lengths.len();
    // Never larger: a compressed form is kept only when strictly smaller than the payload.
    let mut bytes = Vec::with_capacity(input.payloads.len() + n * RECORD_OVERHEAD);
    let mut positions = Vec::with_capacity(n);
    let mut hashes = if input.want_hashes { Some(Vec::with_capacity(n * HASH_BYTES)) } else { None };
    let mut scratch = Vec::new();
    let mut prev = input.prev_hash;
    let mut at = 0usize;
    for k in 0..n {
        let len = input.lengths[k] as usize;
        let payload = &input.payloads[at..at + len];
        at += len;
        let mut form = FORM_NONE;
        let mut stored = payload;
        if input.codec != CODEC_NONE && input.kind != KIND_CHECKPOINT {
            scratch.clear();
            compress_into(input.codec, level, payload, &mut scratch)?;
            if scratch.len() < payload.len() {
                form = input.codec;
                stored = &scratch;
            }
        }
        let header = Header {
            offset: input.first_offset + k as u64,
            timestamp: input.timestamps[k],
            prev_hash: prev,
            kind: input.kind,
            form,
            length: stored.len(),
        };
        positions.push(bytes.len() as u64);
        write_record(&mut bytes, &header, stored);
        let commitment = hasher.commitment(payload);
        prev = hasher.record_hash(&RecordFields {
            prev_hash: &header.prev_hash,
            offset: header.offset,
            timestamp: header.timestamp,
            kind: header.kind,
            payload_length: len as u64,
            commitment: &commitment,
        });
        if let Some(h) = hashes.as_mut() {
            h.extend_from_slice(&prev);
        }
    }
    Ok(EncodeOutput { bytes, positions, last_hash: prev, hashes })
}
