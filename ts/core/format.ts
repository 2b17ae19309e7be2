/**
 * Format constants of SPEC §2, shared by the JS core and the engine. The Rust core has its own
 * copy in crates/chainlog-core/src/format.rs; the SPEC vectors keep the two honest.
 */
export const RECORD_START = 0xbadc0ffe
export const RECORD_END = 0xc0ffee42
/** Bytes before the stored payload: START, offset, timestamp, prev_hash, kind, form, length. */
export const HEADER_BYTES = 58
/** Framing bytes per record: header + CRC + END. */
export const RECORD_OVERHEAD = 66
export const HASH_BYTES = 32
/** Field positions within a record (its header), as in the table of SPEC §2. */
export const AT_OFFSET = 4
export const AT_TIMESTAMP = 12
export const AT_PREV_HASH = 20
export const AT_KIND = 52
export const AT_FORM = 53
export const AT_LENGTH = 54
/** Largest kind (bits 0-6 of the kind byte): data 0, checkpoint 1, tombstone 2. */
export const MAX_KIND = 2

/** Whether a kind byte is valid (SPEC §2): a known kind, and bit 7 (batch continues) only on data records. */
export function kindIsValid(kind: number): boolean {
  return (kind & 0x7f) <= MAX_KIND && ((kind & 0x80) === 0 || (kind & 0x7f) === 0)
}
/** Largest stored payload form: none 0, lz4 1, zstd 2, redacted 3, zstd with a dictionary 4. */
export const MAX_FORM = 4
/** The prev_hash of a stream's first record, and the head hash of an empty stream. */
export const ZERO_HASH: Buffer = Buffer.alloc(HASH_BYTES)
/** Checkpoint payload: prev_hash (32) ‖ u64 offset. Also the size of a redacted payload. */
export const CHECKPOINT_PAYLOAD_BYTES = 40
/** A signing store's checkpoint carries a signed note after those 40 bytes (SPEC §2), at most this long. */
export const MAX_CHECKPOINT_NOTE_BYTES = 64 * 1024
/** Largest payload, stored or decompressed: larger is an error, never an allocation. */
export const MAX_PAYLOAD_BYTES = 1024 * 1024 * 1024
/** Offsets, timestamps and positions are JS numbers: safe integers only. */
export const MAX_SAFE = Number.MAX_SAFE_INTEGER
/** Domain tag of the v1 chain hash. */
export const HASH_DOMAIN = 'chainlog:record:v1'
/** zstd levels accepted (0 in a core call means DEFAULT_ZSTD_LEVEL). */
export const MIN_ZSTD_LEVEL = 1
export const MAX_ZSTD_LEVEL = 22
export const DEFAULT_ZSTD_LEVEL = 3
