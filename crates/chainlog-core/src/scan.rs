//! scanSegment and findValidRecord (ts/core/scan-rules.md §3, §4), step by step in that order.
use crate::codec::decompress_into;
use crate::format::*;
use crate::frame::{check_frame, offset_hint, stored_payload, Frame, Header};
use crate::hash::{ChainHasher, Hash, RecordFields};

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
            Frame::Valid(_) => return FindResult { state: FindState::Found, position: base + at as u64, need_bytes: 0 },
            Frame::Undecided(need) if !final_ => {
                return FindResult { state: FindState::More, position: base + at as u64, need_bytes: need }
            }
            _ => j = at + 1,
        }
    }
    FindResult { state: FindState::None, position: base + data.len() as u64, need_bytes: 0 }
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

/// Why a well-framed record at i breaks a rule (scan-rules §4, valid → 1..7), or None.
struct RecordCheck<'s> {
    hasher: &'s ChainHasher,
    verify: bool,
    scratch: Vec<u8>,
}

impl RecordCheck<'_> {
    fn check(
        &mut self,
        h: &Header,
        payload: &[u8],
        exp_offset: Option<u64>,
        prev_ts: Option<u64>,
        exp_prev: Option<&Hash>,
    ) -> Result<Option<Hash>, (ScanStop, String)> {
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
        if checkpoint && (h.form != FORM_NONE || h.length != CHECKPOINT_PAYLOAD_BYTES) {
            return corrupt(format!("checkpoint with form {} and {} payload bytes (must be form 0, 40 bytes)", h.form, h.length));
        }
        if h.form == FORM_REDACTED && h.length != CHECKPOINT_PAYLOAD_BYTES {
            return corrupt(format!("redacted record with {} payload bytes (must be 40)", h.length));
        }
        let zero_prev = h.prev_hash == ZERO_HASH;
        if h.offset == 0 && !zero_prev {
            return chain("record at offset 0 has a non-zero prev_hash".into());
        }
        if h.offset != 0 && zero_prev {
            return chain(format!("record at offset {} has a zero prev_hash", h.offset));
        }
        if checkpoint && (payload[..HASH_BYTES] != h.prev_hash || payload[HASH_BYTES..] != h.offset.to_le_bytes()) {
            return chain(format!("checkpoint at offset {} does not carry its prev_hash and offset", h.offset));
        }
        if !self.verify {
            return Ok(None);
        }
        if let Some(e) = exp_prev.filter(|&e| *e != h.prev_hash) {
            let _ = e;
            return chain(format!("record at offset {} does not link to the record before it", h.offset));
        }
        let (length, commitment) = if h.form == FORM_REDACTED {
            let mut len = [0u8; 8];
            len.copy_from_slice(&payload[..8]);
            let len = u64::from_le_bytes(len);
            if len > MAX_PAYLOAD_BYTES {
                return corrupt(format!("redacted record claims {len} payload bytes, over {MAX_PAYLOAD_BYTES}"));
            }
            let mut c = [0u8; HASH_BYTES];
            c.copy_from_slice(&payload[8..]);
            (len, c)
        } else if h.form == FORM_NONE {
            (payload.len() as u64, self.hasher.commitment(payload))
        } else {
            self.scratch.clear();
            if let Err(e) = decompress_into(h.form, payload, MAX_PAYLOAD_BYTES, &mut self.scratch) {
                return corrupt(format!("payload of offset {} does not decompress: {}", h.offset, e.message()));
            }
            (self.scratch.len() as u64, self.hasher.commitment(&self.scratch))
        };
        Ok(Some(self.hasher.record_hash(&RecordFields {
            prev_hash: &h.prev_hash,
            offset: h.offset,
            timestamp: h.timestamp,
            kind: h.kind,
            payload_length: length,
            commitment: &commitment,
        })))
    }
}

pub fn scan_segment(input: &ScanInput<'_>) -> ScanOutput {
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
        last_hash: if input.verify_chain { input.prev_hash } else { None },
        stop: ScanStop::End,
        stop_position: base + len as u64,
        stop_offset: None,
        reason: String::new(),
        need_bytes: 0,
        next_valid_position: None,
        search_from: None,
    };
    let mut exp_offset = input.first_offset;
    let mut exp_prev = input.prev_hash;
    let mut prev_ts = input.prev_timestamp;
    let mut rules = RecordCheck { hasher: input.hasher, verify: input.verify_chain, scratch: Vec::new() };
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
                stop(&mut out, i, ScanStop::Partial, format!("data ends inside the record at position {pos}"));
                out.need_bytes = need;
                return out;
            }
            Frame::Valid(h) => h,
            Frame::Invalid | Frame::Undecided(_) => {
                let next = find_valid_record(&data[i + 1..], pos + 1, input.final_);
                match next.state {
                    FindState::Found => {
                        stop(&mut out, i, ScanStop::Corrupt, format!(
                            "bad record at position {pos}, and a valid record follows at {}", next.position));
                        out.next_valid_position = Some(next.position);
                    }
                    FindState::More => {
                        stop(&mut out, i, ScanStop::Unresolved, format!(
                            "bad record at position {pos}; a candidate at {} needs more bytes", next.position));
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
        match rules.check(&header, payload, exp_offset, prev_ts, exp_prev.as_ref()) {
            Err((kind, why)) => {
                stop(&mut out, i, kind, format!("record at position {pos}: {why}"));
                return out;
            }
            Ok(hash) => {
                out.positions.push(pos);
                out.offsets.push(header.offset);
                out.timestamps.push(header.timestamp);
                out.kinds.push(header.kind);
                exp_offset = Some(header.offset + 1);
                out.next_offset = exp_offset;
                prev_ts = Some(header.timestamp);
                out.last_timestamp = prev_ts;
                if let Some(h) = hash {
                    exp_prev = Some(h);
                    out.last_hash = Some(h);
                }
                i += header.record_len();
            }
        }
    }
}
