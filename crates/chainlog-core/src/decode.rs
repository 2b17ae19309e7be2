//! decodeRecords (ts/core/scan-rules.md §5): payloads, metadata and recomputed hashes of records
//! at known positions, optionally checking that they link.
use crate::codec::decompress_into;
use crate::error::{corrupt, invalid, Error, Result};
use crate::format::*;
use crate::frame::{check_frame, stored_payload, Frame};
use crate::hash::{ChainHasher, Hash, RecordFields};

pub struct DecodeInput<'a> {
    pub hasher: &'a ChainHasher,
    pub data: &'a [u8],
    pub base: u64,
    /// Absolute positions (already checked to be safe integers).
    pub positions: &'a [u64],
    pub expect_prev_hash: Option<Hash>,
    pub payloads_from: u64,
    pub max_payload_bytes: u64,
}

#[derive(Debug, Default)]
pub struct DecodeOutput {
    pub offsets: Vec<u64>,
    pub timestamps: Vec<u64>,
    pub kinds: Vec<u8>,
    pub forms: Vec<u8>,
    pub prev_hashes: Vec<u8>,
    pub hashes: Vec<u8>,
    pub payloads: Vec<u8>,
    pub payload_ends: Vec<u64>,
}

pub fn decode_records(input: &DecodeInput<'_>) -> Result<DecodeOutput> {
    if input.max_payload_bytes > MAX_PAYLOAD_BYTES {
        return Err(invalid(format!(
            "maxPayloadBytes must be 0..{MAX_PAYLOAD_BYTES}, got {}",
            input.max_payload_bytes
        )));
    }
    let n = input.positions.len();
    let mut out = DecodeOutput {
        offsets: Vec::with_capacity(n),
        timestamps: Vec::with_capacity(n),
        kinds: Vec::with_capacity(n),
        forms: Vec::with_capacity(n),
        prev_hashes: Vec::with_capacity(n * HASH_BYTES),
        hashes: Vec::with_capacity(n * HASH_BYTES),
        payloads: Vec::new(),
        payload_ends: Vec::with_capacity(n),
    };
    let mut scratch = Vec::new();
    let mut expect = input.expect_prev_hash;
    let check_chain = input.expect_prev_hash.is_some();
    for (k, &pos) in input.positions.iter().enumerate() {
        let frame = match pos
            .checked_sub(input.base)
            .and_then(|i| usize::try_from(i).ok())
        {
            Some(i) => (i, check_frame(input.data, i)),
            None => (0, Frame::Invalid),
        };
        let (i, h) = match frame {
            (i, Frame::Valid(h)) => (i, h),
            _ => {
                return Err(corrupt(format!(
                    "no valid record at position {pos} (record {k} of {n})"
                )))
            }
        };
        let stored = stored_payload(input.data, i, &h);
        let wanted = (k as u64) >= input.payloads_from;
        let at_offset = |e: Error| {
            corrupt(format!(
                "record at position {pos} (offset {}): {}",
                h.offset,
                e.message()
            ))
        };
        let (length, commitment) = match h.form {
            FORM_REDACTED => {
                if stored.len() != CHECKPOINT_PAYLOAD_BYTES {
                    return Err(corrupt(format!(
                        "record at position {pos} (offset {}): redacted payload of {} bytes, not 40",
                        h.offset,
                        stored.len()
                    )));
                }
                let mut len = [0u8; 8];
                len.copy_from_slice(&stored[..8]);
                let len = u64::from_le_bytes(len);
                if len > input.max_payload_bytes {
                    return Err(corrupt(format!(
                        "record at position {pos} (offset {}): redacted payload claims {len} bytes, over the cap of {}",
                        h.offset, input.max_payload_bytes
                    )));
                }
                let mut c = [0u8; HASH_BYTES];
                c.copy_from_slice(&stored[8..]);
                (len, c)
            }
            FORM_NONE if !wanted => {
                if stored.len() as u64 > input.max_payload_bytes {
                    return Err(at_offset(corrupt(format!(
                        "{} bytes over the cap of {}",
                        stored.len(),
                        input.max_payload_bytes
                    ))));
                }
                (stored.len() as u64, input.hasher.commitment(stored))
            }
            form => {
                let buf = if wanted {
                    &mut out.payloads
                } else {
                    &mut scratch
                };
                if !wanted {
                    buf.clear();
                }
                let start = buf.len();
                decompress_into(form, stored, input.max_payload_bytes, buf).map_err(at_offset)?;
                (
                    buf.len().saturating_sub(start) as u64,
                    input.hasher.commitment(&buf[start..]),
                )
            }
        };
        let hash = input.hasher.record_hash(&RecordFields {
            prev_hash: &h.prev_hash,
            offset: h.offset,
            timestamp: h.timestamp,
            kind: h.kind,
            payload_length: length,
            commitment: &commitment,
        });
        if check_chain {
            if let Some(e) = expect.filter(|e| *e != h.prev_hash) {
                let _ = e;
                return Err(Error::ChainBroken(format!(
                    "record at position {pos} (offset {}) does not link to {}",
                    h.offset,
                    if k == 0 {
                        "the expected prev hash".to_string()
                    } else {
                        format!("the record at {}", input.positions[k - 1])
                    }
                )));
            }
            expect = Some(hash);
        }
        out.offsets.push(h.offset);
        out.timestamps.push(h.timestamp);
        out.kinds.push(h.kind);
        out.forms.push(h.form);
        out.prev_hashes.extend_from_slice(&h.prev_hash);
        out.hashes.extend_from_slice(&hash);
        out.payload_ends.push(out.payloads.len() as u64);
    }
    Ok(out)
}
