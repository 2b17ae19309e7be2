//! scanSegment and findValidRecord (docs/scan-rules.md §3, §4), step by step in that order.
use crate::codec::decompress_into;
use crate::format::*;

use crate::frame::{check_frame, check_header, offset_hint, stored_payload, Frame, Header};
use crate::hash::{ChainHasher, Hash, RecordFields};
use crate::parallel::threads_for;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindState {
    Found,
    None,
    More,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FindResult {
    pub state: FindState,
    /// Absolute position.
    pub position: u64,
    pub need_bytes: u64,
}

/// The first position in data (absolute: base + j) where a valid record starts (scan-rules §3).
pub fn find_valid_record(data: &[u8], base: u64, final_: bool) -> FindResult {
    let start_byte = RECORD_START.to_le_bytes()[0];
    let mut j = 0;
    // Only a position holding START's first byte can be anything but invalid.
    while let Some(k) = memchr::memchr(start_byte, &data[j..]) {
        let at = j + k;
        match check_frame(data, at) {
            Frame::Valid(_) => {
                return FindResult {
                    state: FindState::Found,
                    position: base + at as u64,
                    need_bytes: 0,
                }
            }
            Frame::Undecided(need) if !final_ => {
                return FindResult {
                    state: FindState::More,
                    position: base + at as u64,
                    need_bytes: need,
                }
            }
            _ => j = at + 1,
        }
    }
    FindResult {
        state: FindState::None,
        position: base + data.len() as u64,
        need_bytes: 0,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanStop {
    End,
    Partial,
    Torn,
    Corrupt,
    Chain,
    Unresolved,
}

impl ScanStop {
    pub fn as_str(self) -> &'static str {
        match self {
            ScanStop::End => "end",
            ScanStop::Partial => "partial",
            ScanStop::Torn => "torn",
            ScanStop::Corrupt => "corrupt",
            ScanStop::Chain => "chain",
            ScanStop::Unresolved => "unresolved",
        }
    }
}

pub struct ScanInput<'a> {
    pub hasher: &'a ChainHasher,
    pub data: &'a [u8],
    pub base: u64,
    pub first_offset: Option<u64>,
    pub prev_hash: Option<Hash>,
    pub prev_timestamp: Option<u64>,
    pub verify_chain: bool,
    pub final_: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanOutput {
    pub positions: Vec<u64>,
    pub offsets: Vec<u64>,
    pub timestamps: Vec<u64>,
    pub kinds: Vec<u8>,
    pub valid_length: u64,
    pub next_offset: Option<u64>,
    pub last_timestamp: Option<u64>,
    pub last_hash: Option<Hash>,
    pub stop: ScanStop,
    pub stop_position: u64,
    pub stop_offset: Option<u64>,
    pub reason: String,
    pub need_bytes: u64,
    /// Absolute position, when the stop is 'corrupt' after a bad record.
    pub next_valid_position: Option<u64>,
    /// Absolute position, when the stop is 'unresolved'.
    pub search_from: Option<u64>,
}

impl ScanOutput {
    pub fn count(&self) -> usize {
        self.positions.len()
    }
}

/// Rules 1..5 of scan-rules §4 for a well-framed record (those that need no hashing).
fn check_record(
    h: &Header,
    payload: &[u8],
    exp_offset: Option<u64>,
    prev_ts: Option<u64>,
) -> Result<(), (ScanStop, String)> {
    let corrupt = |m: String| Err((ScanStop::Corrupt, m));
    let chain = |m: String| Err((ScanStop::Chain, m));
    if h.offset > MAX_SAFE {
        return corrupt(format!("offset {} is past 2^53 - 1", h.offset));
    }
    if let Some(e) = exp_offset.filter(|&e| e != h.offset) {
        return corrupt(format!("offset {} where {e} was expected", h.offset));
    }
    if h.timestamp > MAX_SAFE {
        return corrupt(format!("timestamp {} is past 2^53 - 1", h.timestamp));
    }
    if let Some(p) = prev_ts.filter(|&p| h.timestamp < p) {
        return corrupt(format!("timestamp {} goes back from {p}", h.timestamp));
    }
    let checkpoint = h.kind == KIND_CHECKPOINT;
    if checkpoint
        && (h.form != FORM_NONE
            || h.length < CHECKPOINT_PAYLOAD_BYTES
            || h.length > CHECKPOINT_PAYLOAD_BYTES + MAX_CHECKPOINT_NOTE_BYTES)
    {
        return corrupt(format!(
            "checkpoint with form {} and {} payload bytes (must be form 0, 40 bytes plus at most 64 KiB of note)",
            h.form, h.length
        ));
    }
    if h.form == FORM_REDACTED && h.length != CHECKPOINT_PAYLOAD_BYTES {
        return corrupt(format!(
            "redacted record with {} payload bytes (must be 40)",
            h.length
        ));
    }
    let zero_prev = h.prev_hash == ZERO_HASH;
    if h.offset == 0 && !zero_prev {
        return chain("record at offset 0 has a non-zero prev_hash".into());
    }
    if h.offset != 0 && zero_prev {
        return chain(format!(
            "record at offset {} has a zero prev_hash",
            h.offset
        ));
    }
    if checkpoint
        && (payload[..HASH_BYTES] != h.prev_hash
            || payload[HASH_BYTES..CHECKPOINT_PAYLOAD_BYTES] != h.offset.to_le_bytes())
    {
        return chain(format!(
            "checkpoint at offset {} does not carry its prev_hash and offset",
            h.offset
        ));
    }
    Ok(())
}

/// Rule 7: the chain hash of a record that passed the frame check and rules 1..5 (so a redacted
/// payload is 40 bytes). Err is why its payload does not decode.
fn record_hash_at(
    hasher: &ChainHasher,
    data: &[u8],
    i: usize,
    scratch: &mut Vec<u8>,
) -> Result<Hash, String> {
    let h = match check_header(data, i) {
        Some(h) => h,
        None => return Err(format!("no record at {i}")),
    };
    let payload = stored_payload(data, i, &h);
    let (length, commitment) = match h.form {
        FORM_REDACTED => {
            let mut len = [0u8; 8];
            len.copy_from_slice(&payload[..8]);
            let len = u64::from_le_bytes(len);
            if len > MAX_PAYLOAD_BYTES {
                return Err(format!(
                    "redacted record claims {len} payload bytes, over {MAX_PAYLOAD_BYTES}"
                ));
            }
            let mut c = [0u8; HASH_BYTES];
            c.copy_from_slice(&payload[8..]);
            (len, c)
        }
        FORM_NONE => (payload.len() as u64, hasher.commitment(payload)),
        form => {
            scratch.clear();
            if let Err(e) = decompress_into(form, payload, MAX_PAYLOAD_BYTES, scratch) {
                return Err(format!(
                    "payload of offset {} does not decompress: {}",
                    h.offset,
                    e.message()
                ));
            }
            (scratch.len() as u64, hasher.commitment(scratch))
        }
    };
    Ok(hasher.record_hash(&RecordFields {
        prev_hash: &h.prev_hash,
        offset: h.offset,
        timestamp: h.timestamp,
        kind: h.kind,
        payload_length: length,
        commitment: &commitment,
    }))
}

/// Records hashed per step of the verify pass: bounds the memory of the hash list.
const VERIFY_WINDOW: usize = 1 << 16;

/// Rule 7 for records `positions` (relative), in parallel when there are many: hashing is
/// independent per record; only the linking (rule 6) is sequential.
fn hash_records(
    hasher: &ChainHasher,
    data: &[u8],
    positions: &[usize],
    out: &mut Vec<Result<Hash, String>>,
) {
    out.clear();
    let span = match (positions.first(), positions.last()) {
        (Some(a), Some(b)) => b - a,
        _ => 0,
    };
    let threads = threads_for(positions.len(), span);
    if threads <= 1 {
        let mut scratch = Vec::new();
        out.extend(
            positions
                .iter()
                .map(|&i| record_hash_at(hasher, data, i, &mut scratch)),
        );
        return;
    }
    let per = positions.len().div_ceil(threads);
    let hash_chunk = move |chunk: &[usize]| {
        let mut scratch = Vec::new();
        chunk
            .iter()
            .map(|&i| record_hash_at(hasher, data, i, &mut scratch))
            .collect::<Vec<_>>()
    };
    let parts: Vec<Vec<Result<Hash, String>>> = std::thread::scope(|s| {
        // A chunk whose thread cannot be started is hashed here instead (no panic on spawn).
        let handles: Vec<_> = positions
            .chunks(per)
            .skip(1)
            .map(|chunk| {
                (
                    chunk,
                    std::thread::Builder::new().spawn_scoped(s, move || hash_chunk(chunk)),
                )
            })
            .collect();
        let mut parts = vec![hash_chunk(&positions[..per])];
        for (chunk, h) in handles {
            parts.push(match h {
                // A hashing thread cannot panic on any input; if one did, its records are
                // reported as failed (one entry per record), not the process aborted.
                Ok(h) => h.join().unwrap_or_else(|_| {
                    vec![Err("hashing thread failed".to_string()); chunk.len()]
                }),
                Err(_) => hash_chunk(chunk),
            });
        }
        parts
    });
    for p in parts {
        out.extend(p);
    }
}

/// Rules 6 and 7 over the records a CRC-mode scan accepted: stops at the first record whose
/// prev_hash does not link (chain) or whose payload does not decode (corrupt).
fn verify_links(input: &ScanInput<'_>, out: &mut ScanOutput) {
    let mut exp_prev = input.prev_hash;
    let mut hashes = Vec::new();
    let mut rel = Vec::new();
    let count = out.count();
    let mut from = 0;
    while from < count {
        let to = (from + VERIFY_WINDOW).min(count);
        rel.clear();
        rel.extend(
            out.positions[from..to]
                .iter()
                .map(|&p| (p - input.base) as usize),
        );
        hash_records(input.hasher, input.data, &rel, &mut hashes);
        for k in from..to {
            let i = rel[k - from];
            let prev_hash = input.data[i + AT_PREV_HASH..i + AT_PREV_HASH + HASH_BYTES]
                .try_into()
                .ok();
            if let Some(e) = exp_prev.filter(|e| Some(*e) != prev_hash) {
                let _ = e;
                let why = format!(
                    "record at offset {} does not link to the record before it",
                    out.offsets[k]
                );
                truncate_at(input, out, k, exp_prev, ScanStop::Chain, why);
                return;
            }
            match hashes.get(k - from) {
                Some(Ok(h)) => exp_prev = Some(*h),
                other => {
                    let why = match other {
                        Some(Err(why)) => why.clone(),
                        _ => "its hash was not computed".to_string(),
                    };
                    truncate_at(input, out, k, exp_prev, ScanStop::Corrupt, why);
                    return;
                }
            }
        }
        from = to;
    }
    out.last_hash = exp_prev;
}

/// Turns a CRC-mode result into one that stops at record k (which broke rule 6 or 7).
fn truncate_at(
    input: &ScanInput<'_>,
    out: &mut ScanOutput,
    k: usize,
    last_hash: Option<Hash>,
    stop: ScanStop,
    why: String,
) {
    let pos = out.positions[k];
    let i = (pos - input.base) as usize;
    out.positions.truncate(k);
    out.offsets.truncate(k);
    out.timestamps.truncate(k);
    out.kinds.truncate(k);
    out.next_offset = if k > 0 {
        Some(out.offsets[k - 1] + 1)
    } else {
        input.first_offset
    };
    out.last_timestamp = if k > 0 {
        Some(out.timestamps[k - 1])
    } else {
        input.prev_timestamp
    };
    out.last_hash = last_hash;
    out.stop = stop;
    out.stop_position = pos;
    out.valid_length = i as u64;
    out.stop_offset = offset_hint(input.data, i);
    out.reason = format!("record at position {pos}: {why}");
    out.need_bytes = 0;
    out.next_valid_position = None;
    out.search_from = None;
}

/// scanSegment: a CRC-mode pass (frame checks, rules 1..5), then in verify mode the hashing and
/// linking pass, which can only stop earlier. The result is the one of scan-rules §4 in order.
pub fn scan_segment(input: &ScanInput<'_>) -> ScanOutput {
    let mut out = scan_frames(input);
    if input.verify_chain {
        verify_links(input, &mut out);
    }
    debug_assert!(
        out.positions.len() == out.offsets.len()
            && out.timestamps.len() == out.offsets.len()
            && out.kinds.len() == out.offsets.len(),
        "one entry of each kind per valid record"
    );
    debug_assert!(
        out.valid_length as usize <= input.data.len()
            && out.stop_position == input.base + out.valid_length,
        "the scan stops inside its data, after the valid records"
    );
    debug_assert!(
        out.positions.windows(2).all(|w| w[0] < w[1])
            && out.offsets.windows(2).all(|w| w[0] + 1 == w[1]),
        "valid records rise in position, their offsets one by one"
    );
    out
}

fn scan_frames(input: &ScanInput<'_>) -> ScanOutput {
    let data = input.data;
    let len = data.len();
    let base = input.base;
    let mut out = ScanOutput {
        positions: Vec::new(),
        offsets: Vec::new(),
        timestamps: Vec::new(),
        kinds: Vec::new(),
        valid_length: 0,
        next_offset: input.first_offset,
        last_timestamp: input.prev_timestamp,
        last_hash: None,
        stop: ScanStop::End,
        stop_position: base + len as u64,
        stop_offset: None,
        reason: String::new(),
        need_bytes: 0,
        next_valid_position: None,
        search_from: None,
    };
    let mut exp_offset = input.first_offset;
    let mut prev_ts = input.prev_timestamp;
    let mut i = 0usize;
    let stop = |out: &mut ScanOutput, i: usize, stop: ScanStop, reason: String| {
        out.stop = stop;
        out.stop_position = base + i as u64;
        out.valid_length = i as u64;
        out.stop_offset = offset_hint(data, i);
        out.reason = reason;
    };
    loop {
        if i == len {
            out.valid_length = len as u64;
            return out;
        }
        let pos = base + i as u64;
        let header = match check_frame(data, i) {
            Frame::Undecided(need) if !input.final_ => {
                stop(
                    &mut out,
                    i,
                    ScanStop::Partial,
                    format!("data ends inside the record at position {pos}"),
                );
                out.need_bytes = need;
                return out;
            }
            Frame::Valid(h) => h,
            Frame::Invalid | Frame::Undecided(_) => {
                let next = find_valid_record(&data[i + 1..], pos + 1, input.final_);
                match next.state {
                    FindState::Found => {
                        stop(
                            &mut out,
                            i,
                            ScanStop::Corrupt,
                            format!(
                                "bad record at position {pos}, and a valid record follows at {}",
                                next.position
                            ),
                        );
                        out.next_valid_position = Some(next.position);
                    }
                    FindState::More => {
                        stop(
                            &mut out,
                            i,
                            ScanStop::Unresolved,
                            format!(
                                "bad record at position {pos}; a candidate at {} needs more bytes",
                                next.position
                            ),
                        );
                        out.search_from = Some(next.position);
                    }
                    FindState::None if input.final_ => {
                        stop(&mut out, i, ScanStop::Torn, format!(
                            "bad or incomplete record at position {pos} and no valid record after it: a torn tail"));
                    }
                    FindState::None => {
                        stop(&mut out, i, ScanStop::Unresolved, format!(
                            "bad record at position {pos} and no valid record in the rest of this chunk"));
                        out.search_from = Some(base + len as u64);
                    }
                }
                return out;
            }
        };
        let payload = stored_payload(data, i, &header);
        if let Err((kind, why)) = check_record(&header, payload, exp_offset, prev_ts) {
            stop(
                &mut out,
                i,
                kind,
                format!("record at position {pos}: {why}"),
            );
            return out;
        }
        out.positions.push(pos);
        out.offsets.push(header.offset);
        out.timestamps.push(header.timestamp);
        out.kinds.push(header.kind);
        exp_offset = Some(header.offset + 1);
        out.next_offset = exp_offset;
        prev_ts = Some(header.timestamp);
        out.last_timestamp = prev_ts;
        i += header.record_len();
    }
}
