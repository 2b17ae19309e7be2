//! Record framing (SPEC §2) and the frame check of docs/scan-rules.md §2.
use crate::format::*;
use crate::hash::Hash;

/// The fixed header of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub offset: u64,
    pub timestamp: u64,
    pub prev_hash: Hash,
    pub kind: u8,
    pub form: u8,
    /// Stored payload length L (≤ MAX_PAYLOAD_BYTES once the frame check passed).
    pub length: usize,
}

impl Header {
    /// Total bytes of the record: 66 + L.
    pub fn record_len(&self) -> usize {
        RECORD_OVERHEAD + self.length
    }
}

/// Outcome of the frame check of a candidate position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// START, kind, form, length, CRC and END all right.
    Valid(Header),
    Invalid,
    /// Looks sound so far; deciding needs this many bytes from the candidate.
    Undecided(u64),
}

const START_BYTES: [u8; 4] = RECORD_START.to_le_bytes();
const END_BYTES: [u8; 4] = RECORD_END.to_le_bytes();

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(x)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut x = [0u8; 4];
    x.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(x)
}

/// Reads the 58-byte header at the start of `b` (which must hold it), with no checks.
fn read_header(b: &[u8]) -> (u32, Header) {
    let mut prev_hash = [0u8; HASH_BYTES];
    prev_hash.copy_from_slice(&b[AT_PREV_HASH..AT_PREV_HASH + HASH_BYTES]);
    let header = Header {
        offset: u64_at(b, AT_OFFSET),
        timestamp: u64_at(b, AT_TIMESTAMP),
        prev_hash,
        kind: b[AT_KIND],
        form: b[AT_FORM],
        length: u32_at(b, AT_LENGTH) as usize,
    };
    (u32_at(b, 0), header)
}

/// The frame check at `i` (scan-rules §2). `i` past the end is undecided (the bytes are missing).
pub fn check_frame(data: &[u8], i: usize) -> Frame {
    let rest = data.get(i..).unwrap_or(&[]);
    if rest.len() < HEADER_BYTES {
        let n = rest.len().min(4);
        return if rest[..n] == START_BYTES[..n] {
            Frame::Undecided(RECORD_OVERHEAD as u64)
        } else {
            Frame::Invalid
        };
    }
    let (start, header) = read_header(rest);
    if start != RECORD_START
        || !kind_is_valid(header.kind)
        || header.form > MAX_FORM
        || header.length as u64 > MAX_PAYLOAD_BYTES
    {
        return Frame::Invalid;
    }
    let total = header.record_len(); // ≤ 66 + 1 GiB: no overflow
    if rest.len() < total {
        return Frame::Undecided(total as u64);
    }
    let body = HEADER_BYTES + header.length;
    // END first: it is cheaper than the CRC, and either failing makes the candidate invalid.
    if rest[body + 4..total] != END_BYTES || crc32fast::hash(&rest[..body]) != u32_at(rest, body) {
        return Frame::Invalid;
    }
    Frame::Valid(header)
}

/// The header at `i` of a record already known to pass the frame check (no CRC work): None
/// if it does not even fit, so callers never index out of bounds.
pub fn check_header(data: &[u8], i: usize) -> Option<Header> {
    let rest = data.get(i..)?;
    if rest.len() < HEADER_BYTES {
        return None;
    }
    let (_, header) = read_header(rest);
    (header.length as u64 <= MAX_PAYLOAD_BYTES && rest.len() >= header.record_len())
        .then_some(header)
}

/// The stored payload of a record that passed the frame check at `i`.
pub fn stored_payload<'a>(data: &'a [u8], i: usize, header: &Header) -> &'a [u8] {
    debug_assert!(
        i + RECORD_OVERHEAD + header.length <= data.len(),
        "the frame was checked"
    );
    &data[i + HEADER_BYTES..i + HEADER_BYTES + header.length]
}

/// The offset field at `i` for a stop report: only when the START and offset bytes are there
/// and the value is a safe integer (scan-rules §4, stopOffset).
pub fn offset_hint(data: &[u8], i: usize) -> Option<u64> {
    let rest = data.get(i..)?;
    if rest.len() < AT_OFFSET + 8 || rest[..4] != START_BYTES {
        return None;
    }
    Some(u64_at(rest, AT_OFFSET)).filter(|&o| o <= MAX_SAFE)
}

/// Appends one framed record. `stored.len()` must be ≤ MAX_PAYLOAD_BYTES (the caller checked).
pub fn write_record(out: &mut Vec<u8>, header_fields: &Header, stored: &[u8]) {
    let start = out.len();
    out.resize(start + RECORD_OVERHEAD + stored.len(), 0);
    write_record_at(&mut out[start..], header_fields, stored);
}

/// Writes the record at the start of `out` (which must hold its 66 + L bytes); returns 66 + L.
pub fn write_record_at(out: &mut [u8], header_fields: &Header, stored: &[u8]) -> usize {
    let l = stored.len();
    debug_assert!(
        l as u64 <= MAX_PAYLOAD_BYTES,
        "the caller checked the stored length"
    );
    debug_assert!(header_fields.offset <= MAX_SAFE && header_fields.timestamp <= MAX_SAFE);
    let record = &mut out[..RECORD_OVERHEAD + l];
    record[..4].copy_from_slice(&START_BYTES);
    record[AT_OFFSET..AT_OFFSET + 8].copy_from_slice(&header_fields.offset.to_le_bytes());
    record[AT_TIMESTAMP..AT_TIMESTAMP + 8].copy_from_slice(&header_fields.timestamp.to_le_bytes());
    record[AT_PREV_HASH..AT_PREV_HASH + HASH_BYTES].copy_from_slice(&header_fields.prev_hash);
    record[AT_KIND] = header_fields.kind;
    record[AT_FORM] = header_fields.form;
    record[AT_LENGTH..AT_LENGTH + 4].copy_from_slice(&(l as u32).to_le_bytes());
    record[HEADER_BYTES..HEADER_BYTES + l].copy_from_slice(stored);
    let crc = crc32fast::hash(&record[..HEADER_BYTES + l]);
    record[HEADER_BYTES + l..HEADER_BYTES + l + 4].copy_from_slice(&crc.to_le_bytes());
    record[HEADER_BYTES + l + 4..].copy_from_slice(&END_BYTES);
    RECORD_OVERHEAD + l
}
