//! encodeBatch (docs/scan-rules.md §6): frames a batch of payloads into consecutive records.
use crate::codec::{compress_into, loaded_dictionary, zstd_dict_compress_into, zstd_level};
use crate::dictionary::CDict;
use crate::error::{invalid, Error, Result};
use crate::format::*;
use crate::frame::{write_record, write_record_at, Header};
use crate::hash::{ChainHasher, Hash, HashAlgorithm, RecordFields};
use crate::parallel::threads_for;

#[derive(Debug, Clone, Copy)]
pub struct EncodeInput<'a> {
    pub hash: HashAlgorithm,
    pub stream: &'a [u8],
    pub first_offset: u64,
    pub prev_hash: Hash,
    pub kind: u8,
    pub codec: u8,
    /// zstd level as given (0..22, 0 = default); checked only when codec is zstd.
    pub level: i64,
    /// With codec zstd: the ID of a loaded dictionary to compress with (form 4); 0 for none.
    pub dictionary: u32,
    pub payloads: &'a [u8],
    pub lengths: &'a [u32],
    /// Already checked to be safe integers by the caller.
    pub timestamps: &'a [u64],
    pub want_hashes: bool,
    /// Where each append call's batch ends: strictly increasing record counts, the last = N.
    /// Every record but the last of each batch gets the batch bit (SPEC §2). Empty: every
    /// record is a batch of its own.
    pub batch_ends: &'a [u32],
}

/// The most bytes `n` records holding `payload_bytes` bytes can take once framed.
pub fn encoded_bound(payload_bytes: usize, n: usize) -> usize {
    payload_bytes + n * RECORD_OVERHEAD
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

/// How a checked batch compresses: the resolved zstd level, and the dictionary for form 4.
struct Compression {
    level: i32,
    cdict: Option<std::sync::Arc<CDict>>,
}

fn check(input: &EncodeInput<'_>) -> Result<Compression> {
    if input.stream.len() > MAX_STREAM_BYTES {
        return Err(invalid(format!(
            "stream name must be at most {MAX_STREAM_BYTES} UTF-8 bytes, got {}",
            input.stream.len()
        )));
    }
    let n = input.lengths.len();
    if n == 0 {
        return Err(invalid("a batch needs at least one payload"));
    }
    let mut sum: u64 = 0;
    for (k, &len) in input.lengths.iter().enumerate() {
        if len as u64 > MAX_PAYLOAD_BYTES {
            return Err(invalid(format!(
                "payload {k} is {len} bytes, over the limit of {MAX_PAYLOAD_BYTES}"
            )));
        }
        sum += len as u64;
    }
    if sum != input.payloads.len() as u64 {
        return Err(invalid(format!(
            "lengths add up to {sum} but payloads has {} bytes",
            input.payloads.len()
        )));
    }
    if input.timestamps.len() != n {
        return Err(invalid(format!(
            "{n} payloads need {n} timestamps, got {}",
            input.timestamps.len()
        )));
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
        return Err(invalid(format!(
            "offsets {}..+{n} would pass 2^53 - 1",
            input.first_offset
        )));
    }
    let zero_prev = input.prev_hash == ZERO_HASH;
    if zero_prev != (input.first_offset == 0) {
        return Err(invalid(if zero_prev {
            format!(
                "prevHash is all zeros but firstOffset is {}",
                input.first_offset
            )
        } else {
            "prevHash must be all zeros at offset 0".to_string()
        }));
    }
    if input.kind > MAX_KIND {
        return Err(invalid(format!(
            "kind must be 0..{MAX_KIND}, got {}",
            input.kind
        )));
    }
    if !input.batch_ends.is_empty() {
        if input.kind != KIND_DATA {
            return Err(invalid("batchEnds is for data records only"));
        }
        let mut before = 0u32;
        for &end in input.batch_ends {
            if end <= before || end as usize > n {
                return Err(invalid(format!(
                    "batchEnds must increase strictly within 1..{n}, got {end} after {before}"
                )));
            }
            before = end;
        }
        if before as usize != n {
            return Err(invalid(format!(
                "batchEnds must end at the batch's {n} records, ends at {before}"
            )));
        }
    }
    if input.codec > CODEC_ZSTD {
        return Err(invalid(format!(
            "codec must be 0 (none), 1 (lz4) or 2 (zstd), got {}",
            input.codec
        )));
    }
    if input.dictionary != 0 && input.codec != CODEC_ZSTD {
        return Err(invalid(format!(
            "a dictionary compresses with codec 2 (zstd), got codec {}",
            input.codec
        )));
    }
    let level = if input.codec == CODEC_ZSTD {
        zstd_level(input.level)?
    } else {
        DEFAULT_ZSTD_LEVEL
    };
    let cdict = match input.dictionary {
        0 => None,
        id => Some(loaded_dictionary(id)?.cdict(level)?),
    };
    Ok(Compression { level, cdict })
}

/// The per-record work that does not depend on the chain: commitments and stored forms of a run
/// of consecutive records. Runs of a large batch are prepared on several threads.
struct Prepared {
    commitments: Vec<Hash>,
    forms: Vec<u8>,
    /// Compressed payloads of the records whose form is not 0, end to end.
    compressed: Vec<u8>,
    /// Per record: end of its bytes in `compressed` (the previous end when it is stored as is).
    compressed_ends: Vec<usize>,
}

/// Room past a run's payload bytes for the frame being written (zstd's and LZ4's bound for a
/// small payload exceeds it by less; a larger payload makes its own room).
const COMPRESS_SLACK: usize = 1024;

/// Prepares the records whose lengths are `lengths`, their payloads starting at `start`.
fn prepare(
    input: &EncodeInput<'_>,
    hasher: &ChainHasher,
    how: &Compression,
    lengths: &[u32],
    start: usize,
) -> Result<Prepared> {
    let n = lengths.len();
    let mut p = Prepared {
        commitments: Vec::with_capacity(n),
        forms: Vec::with_capacity(n),
        compressed: Vec::new(),
        compressed_ends: Vec::with_capacity(n),
    };
    let compress = input.codec != CODEC_NONE && input.kind != KIND_CHECKPOINT;
    if compress {
        // Compressed forms are kept only when smaller than their payloads: this is enough but
        // for the slack one frame needs while it is written.
        let run_bytes = lengths.iter().map(|&len| len as usize).sum::<usize>();
        p.compressed.reserve(run_bytes + COMPRESS_SLACK);
    }
    let mut at = start;
    let payloads: Vec<&[u8]> = lengths
        .iter()
        .map(|&len| {
            let payload = &input.payloads[at..at + len as usize];
            at += len as usize;
            payload
        })
        .collect();
    hasher.commitments(&payloads, &mut p.commitments);
    for payload in payloads {
        let mut form = FORM_NONE;
        if compress {
            // Written in place at the end of `compressed`, dropped again when not smaller.
            let before = p.compressed.len();
            let compressed_form = match &how.cdict {
                Some(cdict) => {
                    zstd_dict_compress_into(cdict, payload, &mut p.compressed)?;
                    FORM_ZSTD_DICT
                }
                None => {
                    compress_into(input.codec, how.level, payload, &mut p.compressed)?;
                    input.codec
                }
            };
            if p.compressed.len() - before < payload.len() {
                form = compressed_form;
            } else {
                p.compressed.truncate(before);
            }
        }
        p.forms.push(form);
        p.compressed_ends.push(p.compressed.len());
    }
    Ok(p)
}

fn prepare_all(
    input: &EncodeInput<'_>,
    hasher: &ChainHasher,
    how: &Compression,
) -> Result<Vec<Prepared>> {
    let n = input.lengths.len();
    let threads = threads_for(n, input.payloads.len());
    if threads <= 1 {
        return Ok(vec![prepare(input, hasher, how, input.lengths, 0)?]);
    }
    // Runs of about equal payload bytes, each at least one record.
    let per = (input.payloads.len() / threads).max(1);
    let mut runs = Vec::with_capacity(threads);
    let (mut first, mut start, mut bytes) = (0usize, 0usize, 0usize);
    for (k, &len) in input.lengths.iter().enumerate() {
        bytes += len as usize;
        if (bytes >= per && runs.len() + 1 < threads) || k + 1 == n {
            runs.push((first, k + 1, start));
            first = k + 1;
            start += bytes;
            bytes = 0;
        }
    }
    std::thread::scope(|s| {
        // A run whose thread cannot be started is prepared here instead (no panic on spawn).
        let handles: Vec<_> = runs[1..]
            .iter()
            .map(|&(a, b, start)| {
                let job = move || prepare(input, hasher, how, &input.lengths[a..b], start);
                std::thread::Builder::new()
                    .spawn_scoped(s, job)
                    .map_err(|_| (a, b, start))
            })
            .collect();
        let (a, b, start) = runs[0];
        let mut parts = vec![prepare(input, hasher, how, &input.lengths[a..b], start)?];
        for h in handles {
            parts.push(match h {
                Ok(h) => h.join().unwrap_or_else(|_| {
                    Err(Error::Unsupported("an encoding thread failed".into()))
                })?,
                Err((a, b, start)) => prepare(input, hasher, how, &input.lengths[a..b], start)?,
            });
        }
        Ok(parts)
    })
}

pub fn encode_batch(input: &EncodeInput<'_>) -> Result<EncodeOutput> {
    let how = check(input)?;
    // Never larger: a compressed form is kept only when strictly smaller than the payload.
    let mut bytes = Vec::with_capacity(encoded_bound(input.payloads.len(), input.lengths.len()));
    let records = encode_records(input, &how, &mut bytes)?;
    Ok(EncodeOutput {
        bytes,
        positions: records.positions,
        last_hash: records.last_hash,
        hashes: records.hashes,
    })
}

/// What encode_batch_into wrote at the start of its buffer.
#[derive(Debug)]
pub struct EncodedInto {
    pub len: usize,
    pub positions: Vec<u64>,
    pub last_hash: Hash,
    pub hashes: Option<Vec<u8>>,
}

/// The checks encode_batch makes before it writes anything: a caller with several outputs to
/// size can refuse a bad batch first, then its outputs, and write nothing on either failure.
pub fn check_batch(input: &EncodeInput<'_>) -> Result<()> {
    check(input).map(|_| ())
}

/// encode_batch straight into `out`, the caller's buffer (no copy out of an intermediate one);
/// None when `out` is shorter than `encoded_bound`. Bad input fails exactly as in encode_batch.
pub fn encode_batch_into(input: &EncodeInput<'_>, out: &mut [u8]) -> Result<Option<EncodedInto>> {
    let how = check(input)?;
    if out.len() < encoded_bound(input.payloads.len(), input.lengths.len()) {
        return Ok(None);
    }
    let bound = encoded_bound(input.payloads.len(), input.lengths.len());
    let mut sink = SliceSink { out, len: 0 };
    let records = encode_records(input, &how, &mut sink)?;
    debug_assert!(sink.len <= bound, "records never outgrow their bound");
    debug_assert_eq!(records.positions.len(), input.lengths.len());
    Ok(Some(EncodedInto {
        len: sink.len,
        positions: records.positions,
        last_hash: records.last_hash,
        hashes: records.hashes,
    }))
}

/// Where encode_records puts the records, end to end.
trait RecordSink {
    fn len(&self) -> usize;
    fn put(&mut self, header: &Header, stored: &[u8]);
}

impl RecordSink for Vec<u8> {
    fn len(&self) -> usize {
        Vec::len(self)
    }
    fn put(&mut self, header: &Header, stored: &[u8]) {
        write_record(self, header, stored)
    }
}

/// A caller's buffer, checked by the caller to hold encoded_bound bytes.
struct SliceSink<'a> {
    out: &'a mut [u8],
    len: usize,
}

impl RecordSink for SliceSink<'_> {
    fn len(&self) -> usize {
        self.len
    }
    fn put(&mut self, header: &Header, stored: &[u8]) {
        self.len += write_record_at(&mut self.out[self.len..], header, stored);
    }
}

struct Records {
    positions: Vec<u64>,
    last_hash: Hash,
    hashes: Option<Vec<u8>>,
}

/// The records of a checked batch, framed and chained into `sink`.
fn encode_records(
    input: &EncodeInput<'_>,
    how: &Compression,
    sink: &mut impl RecordSink,
) -> Result<Records> {
    let hasher = ChainHasher::new(input.hash, input.stream)?;
    let n = input.lengths.len();
    let parts = prepare_all(input, &hasher, how)?;
    let start = sink.len();
    let mut positions = Vec::with_capacity(n);
    let mut hashes = if input.want_hashes {
        Some(Vec::with_capacity(n * HASH_BYTES))
    } else {
        None
    };
    let mut prev = input.prev_hash;
    let mut at = 0usize;
    let mut k = 0usize;
    let mut ends = input.batch_ends.iter().peekable();
    for part in &parts {
        let mut c_at = 0usize;
        for ((commitment, &form), &c_end) in part
            .commitments
            .iter()
            .zip(&part.forms)
            .zip(&part.compressed_ends)
        {
            let len = input.lengths[k] as usize;
            let payload = &input.payloads[at..at + len];
            at += len;
            let stored = if form == FORM_NONE {
                payload
            } else {
                &part.compressed[c_at..c_end]
            };
            c_at = c_end;
            let mut kind = input.kind;
            if let Some(&&end) = ends.peek() {
                if end as usize == k + 1 {
                    ends.next();
                } else {
                    kind |= KIND_BATCH_CONTINUES;
                }
            }
            let header = Header {
                offset: input.first_offset + k as u64,
                timestamp: input.timestamps[k],
                prev_hash: prev,
                kind,
                form,
                length: stored.len(),
            };
            positions.push((sink.len() - start) as u64);
            sink.put(&header, stored);
            prev = hasher.record_hash(&RecordFields {
                prev_hash: &header.prev_hash,
                offset: header.offset,
                timestamp: header.timestamp,
                kind: header.kind,
                payload_length: len as u64,
                commitment,
            });
            if let Some(h) = hashes.as_mut() {
                h.extend_from_slice(&prev);
            }
            k += 1;
        }
    }
    Ok(Records {
        positions,
        last_hash: prev,
        hashes,
    })
}
