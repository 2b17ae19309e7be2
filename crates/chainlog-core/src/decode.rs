//! decodeRecords (docs/scan-rules.md §5): payloads, metadata and recomputed hashes of records
//! at known positions, optionally checking that they link.
//!
//! Two passes: each record is decoded and hashed on its own (steps 1-3; runs of a large call on
//! several threads), then the links are checked in order (step 4). The first record that fails
//! either way decides the error, as in a single sequential pass.
use crate::codec::decompress_into;
use crate::error::{corrupt_at, invalid, Detail, Error, Result};
use crate::format::*;
use crate::frame::{check_frame, stored_payload, Frame, Header};
use crate::hash::{ChainHasher, Hash, HashAlgorithm, RecordFields};
use crate::parallel::threads_for;

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

impl DecodeOutput {
    fn with_capacity(n: usize) -> Self {
        DecodeOutput {
            offsets: Vec::with_capacity(n),
            timestamps: Vec::with_capacity(n),
            kinds: Vec::with_capacity(n),
            forms: Vec::with_capacity(n),
            prev_hashes: Vec::with_capacity(n * HASH_BYTES),
            hashes: Vec::with_capacity(n * HASH_BYTES),
            payloads: Vec::new(),
            payload_ends: Vec::with_capacity(n),
        }
    }

    fn clear(&mut self) {
        self.offsets.clear();
        self.timestamps.clear();
        self.kinds.clear();
        self.forms.clear();
        self.prev_hashes.clear();
        self.hashes.clear();
        self.payloads.clear();
        self.payload_ends.clear();
    }

    fn hash(&self, j: usize) -> &[u8] {
        &self.hashes[j * HASH_BYTES..(j + 1) * HASH_BYTES]
    }

    fn prev_hash(&self, j: usize) -> &[u8] {
        &self.prev_hashes[j * HASH_BYTES..(j + 1) * HASH_BYTES]
    }
}

/// A stored-as-is record whose hashes are left to `hash_deferred`: its index in the part's output
/// and where its payload lies in `input.data`.
struct Deferred {
    j: usize,
    payload: std::ops::Range<usize>,
}

/// Steps 1-3 for record k, appended to `out` (payload_ends relative to `out.payloads`). With
/// `deferred`, a record stored as is gets a placeholder hash and is listed there instead.
fn decode_one(
    input: &DecodeInput<'_>,
    k: usize,
    out: &mut DecodeOutput,
    scratch: &mut Vec<u8>,
    deferred: Option<&mut Vec<Deferred>>,
) -> Result<()> {
    let pos = input.positions[k];
    let n = input.positions.len();
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
            return Err(corrupt_at(
                pos,
                None,
                format!("no valid record at position {pos} (record {k} of {n})"),
            ))
        }
    };
    let stored = stored_payload(input.data, i, &h);
    let wanted = (k as u64) >= input.payloads_from;
    if let (FORM_NONE, Some(list)) = (h.form, deferred) {
        let max = input.max_payload_bytes;
        if stored.len() as u64 > max {
            // The same words as the undeferred path below (decompress_into when wanted).
            let what = if wanted { "payload of " } else { "" };
            let is = if wanted { "is " } else { "" };
            return Err(corrupt_at(
                pos,
                Some(h.offset),
                format!(
                    "record at position {pos} (offset {}): {what}{} bytes {is}over the cap of {max}",
                    h.offset,
                    stored.len()
                ),
            ));
        }
        if wanted {
            out.payloads.extend_from_slice(stored);
        }
        let start = stored.as_ptr() as usize - input.data.as_ptr() as usize;
        list.push(Deferred {
            j: out.offsets.len(),
            payload: start..start + stored.len(),
        });
        push_record(out, &h, &[0u8; HASH_BYTES]);
        return Ok(());
    }
    let max = input.max_payload_bytes;
    let at = |what: String| {
        corrupt_at(
            pos,
            Some(h.offset),
            format!("record at position {pos} (offset {}): {what}", h.offset),
        )
    };
    let (length, commitment) = match h.form {
        FORM_REDACTED => {
            if stored.len() != CHECKPOINT_PAYLOAD_BYTES {
                return Err(at(format!(
                    "redacted payload of {} bytes, not 40",
                    stored.len()
                )));
            }
            let mut len = [0u8; 8];
            len.copy_from_slice(&stored[..8]);
            let len = u64::from_le_bytes(len);
            if len > max {
                return Err(at(format!(
                    "redacted payload claims {len} bytes, over the cap of {max}"
                )));
            }
            let mut c = [0u8; HASH_BYTES];
            c.copy_from_slice(&stored[8..]);
            (len, c)
        }
        FORM_NONE if !wanted => {
            if stored.len() as u64 > max {
                return Err(at(format!("{} bytes over the cap of {max}", stored.len())));
            }
            (stored.len() as u64, input.hasher.commitment(stored))
        }
        form => {
            let buf = if wanted {
                &mut out.payloads
            } else {
                &mut *scratch
            };
            if !wanted {
                buf.clear();
            }
            let start = buf.len();
            decompress_into(form, stored, max, buf).map_err(|e| at(e.message().to_string()))?;
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
    push_record(out, &h, &hash);
    Ok(())
}

fn push_record(out: &mut DecodeOutput, h: &Header, hash: &Hash) {
    out.offsets.push(h.offset);
    out.timestamps.push(h.timestamp);
    out.kinds.push(h.kind);
    out.forms.push(h.form);
    out.prev_hashes.extend_from_slice(&h.prev_hash);
    out.hashes.extend_from_slice(hash);
    out.payload_ends.push(out.payloads.len() as u64);
}

/// The commitments and chain hashes of the deferred records, each batch hashed together (BLAKE3
/// runs several messages through its SIMD lanes at once), written over their placeholders.
fn hash_deferred(input: &DecodeInput<'_>, out: &mut DecodeOutput, deferred: &[Deferred]) {
    if deferred.is_empty() {
        return;
    }
    let payloads: Vec<&[u8]> = deferred
        .iter()
        .map(|d| &input.data[d.payload.clone()])
        .collect();
    let mut commitments = Vec::with_capacity(deferred.len());
    input.hasher.commitments(&payloads, &mut commitments);
    let mut messages = Vec::new();
    let mut ends = Vec::with_capacity(deferred.len());
    for (d, commitment) in deferred.iter().zip(&commitments) {
        let prev_hash: &Hash = out.prev_hash(d.j).try_into().expect("32 bytes");
        input.hasher.append_message(
            &RecordFields {
                prev_hash,
                offset: out.offsets[d.j],
                timestamp: out.timestamps[d.j],
                kind: out.kinds[d.j],
                payload_length: d.payload.len() as u64,
                commitment,
            },
            &mut messages,
        );
        ends.push(messages.len());
    }
    let slices: Vec<&[u8]> = ends
        .iter()
        .scan(0, |start, &end| {
            let m = &messages[*start..end];
            *start = end;
            Some(m)
        })
        .collect();
    let mut hashes = Vec::with_capacity(deferred.len());
    input.hasher.hash_messages(&slices, &mut hashes);
    for (d, hash) in deferred.iter().zip(&hashes) {
        out.hashes[d.j * HASH_BYTES..(d.j + 1) * HASH_BYTES].copy_from_slice(hash);
    }
}

/// Records from..to decoded; stops at the first that fails (its index and error).
struct Part {
    first: usize,
    out: DecodeOutput,
    failure: Option<(usize, Error)>,
}

fn decode_part(input: &DecodeInput<'_>, first: usize, to: usize) -> Part {
    let mut part = Part {
        first,
        out: DecodeOutput::with_capacity(to - first),
        failure: None,
    };
    let mut scratch = Vec::new();
    // BLAKE3 hashes of records stored as is are computed together after the loop.
    let batch = input.hasher.algorithm() == HashAlgorithm::Blake3;
    let mut deferred = Vec::new();
    for k in first..to {
        let list = if batch { Some(&mut deferred) } else { None };
        if let Err(e) = decode_one(input, k, &mut part.out, &mut scratch, list) {
            part.failure = Some((k, e));
            break;
        }
    }
    hash_deferred(input, &mut part.out, &deferred);
    part
}

fn decode_parts(input: &DecodeInput<'_>) -> Vec<Part> {
    let n = input.positions.len();
    let threads = threads_for(n, input.data.len());
    if threads <= 1 {
        return vec![decode_part(input, 0, n)];
    }
    let per = n.div_ceil(threads);
    let runs: Vec<(usize, usize)> = (0..n).step_by(per).map(|a| (a, (a + per).min(n))).collect();
    std::thread::scope(|s| {
        // A run whose thread cannot be started is decoded here instead (no panic on spawn).
        let handles: Vec<_> = runs[1..]
            .iter()
            .map(|&(a, b)| {
                (
                    (a, b),
                    std::thread::Builder::new().spawn_scoped(s, move || decode_part(input, a, b)),
                )
            })
            .collect();
        let mut parts = vec![decode_part(input, runs[0].0, runs[0].1)];
        for ((a, b), h) in handles {
            parts.push(match h {
                Ok(h) => h.join().unwrap_or_else(|_| Part {
                    first: a,
                    out: DecodeOutput::default(),
                    failure: Some((a, Error::Unsupported("a decoding thread failed".into()))),
                }),
                Err(_) => decode_part(input, a, b),
            });
        }
        parts
    })
}

fn check_cap(input: &DecodeInput<'_>) -> Result<()> {
    if input.max_payload_bytes > MAX_PAYLOAD_BYTES {
        return Err(invalid(format!(
            "maxPayloadBytes must be 0..{MAX_PAYLOAD_BYTES}, got {}",
            input.max_payload_bytes
        )));
    }
    Ok(())
}

/// Step 4's error: record k (at `offset`) does not carry the hash expected before it.
fn link_error(input: &DecodeInput<'_>, k: usize, offset: u64) -> Error {
    Error::ChainBroken(Detail {
        message: format!(
            "record at position {} (offset {offset}) does not link to {}",
            input.positions[k],
            if k == 0 {
                "the expected prev hash".to_string()
            } else {
                format!("the record at {}", input.positions[k - 1])
            }
        ),
        position: Some(input.positions[k]),
        offset: Some(offset),
    })
}

/// decode_records of ONE record (`input.positions` holds one position) into `out`, whose
/// buffers are cleared and reused, with `scratch` for decompression: a random get decodes one
/// record, and there the batch machinery (its vectors, the deferred lane hashing) costs more
/// than the record. The same checks, results and errors as decode_records.
pub fn decode_one_record(
    input: &DecodeInput<'_>,
    out: &mut DecodeOutput,
    scratch: &mut Vec<u8>,
) -> Result<()> {
    check_cap(input)?;
    if input.positions.len() != 1 {
        return Err(invalid(format!(
            "one position expected, got {}",
            input.positions.len()
        )));
    }
    out.clear();
    decode_one(input, 0, out, scratch, None)?;
    match input.expect_prev_hash {
        Some(e) if out.prev_hash(0) != e => Err(link_error(input, 0, out.offsets[0])),
        _ => Ok(()),
    }
}

pub fn decode_records(input: &DecodeInput<'_>) -> Result<DecodeOutput> {
    check_cap(input)?;
    let parts = decode_parts(input);
    // Step 4, in order: each record's prev_hash against the hash before it.
    let mut expect = input.expect_prev_hash;
    for part in &parts {
        for j in 0..part.out.offsets.len() {
            if let Some(e) = expect {
                if part.out.prev_hash(j) != e {
                    return Err(link_error(input, part.first + j, part.out.offsets[j]));
                }
                let mut next = [0u8; HASH_BYTES];
                next.copy_from_slice(part.out.hash(j));
                expect = Some(next);
            }
        }
        if let Some((_, e)) = &part.failure {
            return Err(e.clone());
        }
    }
    let mut parts = parts.into_iter();
    let mut out = match parts.next() {
        Some(first) => first.out,
        None => DecodeOutput::default(),
    };
    for part in parts {
        let shift = out.payloads.len() as u64;
        let p = part.out;
        out.offsets.extend_from_slice(&p.offsets);
        out.timestamps.extend_from_slice(&p.timestamps);
        out.kinds.extend_from_slice(&p.kinds);
        out.forms.extend_from_slice(&p.forms);
        out.prev_hashes.extend_from_slice(&p.prev_hashes);
        out.hashes.extend_from_slice(&p.hashes);
        out.payloads.extend_from_slice(&p.payloads);
        out.payload_ends
            .extend(p.payload_ends.iter().map(|e| e + shift));
    }
    debug_assert_consistent(&out, input.positions.len());
    Ok(out)
}

/// One entry of each kind per record, and payload ends that never go back.
fn debug_assert_consistent(out: &DecodeOutput, n: usize) {
    debug_assert_eq!(out.offsets.len(), n, "one decoded record per position");
    debug_assert!(
        out.timestamps.len() == n
            && out.kinds.len() == n
            && out.forms.len() == n
            && out.payload_ends.len() == n
            && out.prev_hashes.len() == n * HASH_BYTES
            && out.hashes.len() == n * HASH_BYTES,
        "the per-record vectors of a decode have one entry per record"
    );
    debug_assert!(
        out.payload_ends.windows(2).all(|w| w[0] <= w[1])
            && out
                .payload_ends
                .last()
                .is_none_or(|&e| e == out.payloads.len() as u64),
        "payload ends rise to the payloads' length"
    );
}
