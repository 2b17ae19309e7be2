//! Format constants of SPEC §2 and the limits of docs/scan-rules.md §1. The TypeScript copy is
//! ts/core/format.ts; the SPEC vectors in the tests keep the two honest.

/// START marker; bytes FE 0F DC BA on disk.
pub const RECORD_START: u32 = 0xBADC_0FFE;
/// END marker; bytes 42 EE FF C0 on disk.
pub const RECORD_END: u32 = 0xC0FF_EE42;
/// Bytes before the stored payload: START, offset, timestamp, prev_hash, kind, form, length.
pub const HEADER_BYTES: usize = 58;
/// Framing bytes per record: header + CRC + END.
pub const RECORD_OVERHEAD: usize = 66;
pub const HASH_BYTES: usize = 32;
/// Checkpoint payload: prev_hash (32) ‖ u64 offset. Also the size of a redacted payload.
pub const CHECKPOINT_PAYLOAD_BYTES: usize = 40;
/// A signing store's checkpoint carries a signed note after those 40 bytes (SPEC §2), at most this long.
pub const MAX_CHECKPOINT_NOTE_BYTES: usize = 64 * 1024;
/// Largest payload, stored or decompressed: larger is an error, never an allocation.
pub const MAX_PAYLOAD_BYTES: u64 = 1 << 30;
/// Offsets, timestamps and positions cross to JS as numbers: safe integers only.
pub const MAX_SAFE: u64 = (1 << 53) - 1;
/// The stream name's length is a u16 in the chain hash.
pub const MAX_STREAM_BYTES: usize = 65535;
/// Domain tag of the v1 chain hash.
pub const HASH_DOMAIN: &[u8; 18] = b"chainlog:record:v1";
pub const DEFAULT_ZSTD_LEVEL: i32 = 3;
pub const MAX_ZSTD_LEVEL: i32 = 22;

pub const KIND_DATA: u8 = 0;
pub const KIND_CHECKPOINT: u8 = 1;
pub const KIND_TOMBSTONE: u8 = 2;
pub const MAX_KIND: u8 = KIND_TOMBSTONE;
/// Bit 7 of the kind byte: the record's append call continues after it (SPEC §2, batches).
pub const KIND_BATCH_CONTINUES: u8 = 0x80;
/// The kind without the batch bit.
pub const KIND_MASK: u8 = 0x7F;

/// Whether a kind byte is valid: a known kind, and the batch bit only on data records.
pub fn kind_is_valid(kind: u8) -> bool {
    kind & KIND_MASK <= MAX_KIND
        && (kind & KIND_BATCH_CONTINUES == 0 || kind & KIND_MASK == KIND_DATA)
}

pub const FORM_NONE: u8 = 0;
pub const FORM_LZ4: u8 = 1;
pub const FORM_ZSTD: u8 = 2;
pub const FORM_REDACTED: u8 = 3;
/// One zstd frame made with the stream's dictionary; the frame header names the dictionary ID.
pub const FORM_ZSTD_DICT: u8 = 4;
pub const MAX_FORM: u8 = FORM_ZSTD_DICT;

/// Codecs an encoder can be asked for: the stored forms 0..2.
pub const CODEC_NONE: u8 = FORM_NONE;
pub const CODEC_LZ4: u8 = FORM_LZ4;
pub const CODEC_ZSTD: u8 = FORM_ZSTD;

pub const ZERO_HASH: [u8; HASH_BYTES] = [0; HASH_BYTES];

// Field positions inside a record (SPEC §2).
pub(crate) const AT_OFFSET: usize = 4;
pub(crate) const AT_TIMESTAMP: usize = 12;
pub(crate) const AT_PREV_HASH: usize = 20;
pub(crate) const AT_KIND: usize = 52;
pub(crate) const AT_FORM: usize = 53;
pub(crate) const AT_LENGTH: usize = 54;
