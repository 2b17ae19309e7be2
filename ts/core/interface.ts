/**
 * The boundary contract between the engine (ts/) and a core: the one TypeScript type that the
 * native core (Rust through N-API) and the JS core both satisfy, byte for byte.
 *
 * Rules every implementation follows:
 * - One call per batch or per chunk of a segment, never per record. Data crosses as buffers;
 *   per-record results come back as typed arrays, not arrays of objects.
 * - Numbers that are offsets, positions, lengths or timestamps are JS numbers holding
 *   non-negative safe integers (≤ 2^53 − 1). Anything else given in is ERR_INVALID_ARGUMENT.
 * - Every failure is a ChainlogError (ts/errors.ts) with a stable code; bad or crafted input
 *   never panics, aborts, hangs, or allocates a size read from the input before checking it.
 *   Where a failure is about one record, `details.position` (and `details.offset` when its
 *   header was read) say which. Should the native core panic all the same (a chainlog bug), the
 *   call fails with ERR_INVALID_ARGUMENT "the native core failed inside a call (…)", and the
 *   process lives on.
 * - Byte arguments are views of ordinary ArrayBuffers: a view of a SharedArrayBuffer (which
 *   another thread could write mid-call) is ERR_INVALID_ARGUMENT. An async call works on the
 *   bytes as they were when it was made: what JS does to them afterwards (writes, a resize, a
 *   transfer) changes nothing in its result.
 * - The record format, chain hash and checkpoint payload are those of shared/SPEC.md §2.
 *
 * Bump CORE_ABI whenever this contract, or the native binding behind it, changes: the native
 * loader refuses a binary whose `abiVersion()` differs, so a stale build is never misused.
 */
export const CORE_ABI = 10

/** The chain hash of a store, fixed when it is created (chainlog.json). */
export type HashAlgorithm = 'blake3' | 'sha256'
/** Which core a log runs on: the Rust binary ('native') or the portable JavaScript core ('js'). */
export type BackendName = 'native' | 'js'

/** Record kind byte (SPEC §2). */
export const KIND_DATA = 0
export const KIND_CHECKPOINT = 1
export const KIND_TOMBSTONE = 2
/** Bit 7 of the kind byte: the record's append call continues after it (SPEC §2). */
export const KIND_BATCH_CONTINUES = 0x80
/** The kind without the batch bit. */
export const KIND_MASK = 0x7f

/** Stored payload form byte (SPEC §2). Codec numbers for encoding use 0..2 of these. */
export const FORM_NONE = 0
export const FORM_LZ4 = 1
export const FORM_ZSTD = 2
export const FORM_REDACTED = 3
/** One zstd frame made with a dictionary; the frame header names the dictionary's ID. */
export const FORM_ZSTD_DICT = 4

export const CODEC_NONE = FORM_NONE
export const CODEC_LZ4 = FORM_LZ4
export const CODEC_ZSTD = FORM_ZSTD

export interface EncodeBatchInput {
  hash: HashAlgorithm
  /** Stream name as stored (already validated by the engine); UTF-8, at most 65535 bytes. */
  stream: string
  /** Offset of the first record. */
  firstOffset: number
  /** prev_hash of the first record: 32 bytes; all zeros if and only if firstOffset is 0. */
  prevHash: Uint8Array
  /** Kind of every record in the batch (KIND_*). A checkpoint is never compressed. */
  kind: number
  /** Codec to try (CODEC_*); a compressed form is kept only when strictly smaller. */
  codec: number
  /** zstd level (1..22, default 3 when 0); ignored by other codecs. */
  level: number
  /**
   * With codec zstd: the ID of a dictionary loaded with loadDictionary; records then compress
   * to FORM_ZSTD_DICT. Absent or 0: none. The JS core refuses a non-zero ID (ERR_UNSUPPORTED).
   */
  dictionaryId?: number
  /** The uncompressed payloads end to end. */
  payloads: Uint8Array
  /** Length of each payload in `payloads`; N = lengths.length ≥ 1, sum = payloads.length. */
  lengths: Uint32Array
  /** One timestamp per record (ms since the epoch), non-decreasing within the batch. */
  timestamps: Float64Array
  /** Also return every record's hash, not only the last. */
  wantHashes?: boolean
  /**
   * Where each append call's batch ends (SPEC §2, batches are atomic): strictly increasing record
   * counts, the last = N; data records only. Every record of a batch but its last gets bit 7 of
   * the kind byte (KIND_BATCH_CONTINUES). Absent: every record is a batch of its own.
   */
  batchEnds?: Uint32Array
  /**
   * Where to write the records when it is at least payloads.length + 66 × N bytes long: `bytes`
   * is then a view of its start, and no buffer is allocated (an engine reuses one write buffer
   * batch after batch). Shorter: ignored. Must not share memory with an input (`payloads`,
   * `prevHash`, `lengths`, `timestamps`): ERR_INVALID_ARGUMENT.
   */
  into?: Uint8Array
  /**
   * SPEC §8: the stream's Merkle tree before this batch, as a compact range of TREE_FRONTIER_BYTES
   * (u64 LE tree size, which must equal firstOffset, then its complete subtrees' hashes, largest
   * first, zero-padded). The batch's leaves (SHA-256(0x00 ‖ chain hash)) extend it in the same
   * call: the result's `tree`.
   */
  treeFrontier?: Uint8Array
}

export interface EncodeBatchResult {
  /** The framed records, end to end, ready to append to a segment. */
  bytes: Buffer
  /** Start of each record within `bytes`. */
  positions: Float64Array
  /** Chain hash of the last record. */
  lastHash: Buffer
  /** N × 32 bytes of chain hashes when `wantHashes`, else null. */
  hashes: Buffer | null
  /**
   * With `treeFrontier`: treeOutBytes(firstOffset, N) bytes — the new compact range, the N leaf
   * hashes, then the tree nodes the batch completed at heights 8, 16, … (tile levels 1, 2, …;
   * per height in index order, as treeTileNodes counts them). Else null.
   */
  tree: Buffer | null
}

/** A compact range (EncodeBatchInput.treeFrontier): u64 size ‖ 64 hash slots. */
export const TREE_FRONTIER_BYTES = 8 + 64 * 32

/**
 * The nodes completed at heights 8, 16, … when `n` leaves follow a tree of `size`: per tile level
 * k ≥ 1, the index of its first completed node and how many.
 */
export function treeTileNodes(size: number, n: number): Array<{ level: number; first: number; count: number }> {
  const levels = []
  for (let level = 1, width = 256; width <= size + n; level++, width *= 256) {
    const first = Math.floor(size / width)
    levels.push({ level, first, count: Math.floor((size + n) / width) - first })
  }
  return levels
}

/** The length of EncodeBatchResult.tree for `n` leaves after a tree of `size`. */
export function treeOutBytes(size: number, n: number): number {
  return TREE_FRONTIER_BYTES + (n + treeTileNodes(size, n).reduce((sum, l) => sum + l.count, 0)) * 32
}

export interface ScanInput {
  hash: HashAlgorithm
  stream: string
  /** Bytes of a segment, starting at a record boundary. */
  data: Uint8Array
  /** Position of data[0] within the segment file. */
  basePosition: number
  /** Offset the first record must have; null accepts what is found. Later records must follow on by one. */
  firstOffset: number | null
  /** prev_hash the first record must have; null accepts what is found. */
  prevHash: Uint8Array | null
  /** Timestamp of the record before data[0]; null when unknown. */
  prevTimestamp: number | null
  /**
   * false: framing, CRC, END, offsets, timestamps, checkpoint payloads and the zero-prev rule only.
   * true: also decompress every payload, recompute every hash, and check each prev link.
   */
  verifyChain: boolean
  /** data runs to the end of the segment file: incomplete or bad records can be decided as torn. */
  final: boolean
}

/**
 * Why a scan stopped (SPEC §3 "open / recovery"):
 * - 'end': every byte of data was consumed by valid records.
 * - 'partial' (final = false only): data ends inside a record that looks sound so far; read at
 *   least `needBytes` from `stopPosition` and scan again from there.
 * - 'torn' (final = true only): the record at stopPosition is bad or incomplete and no valid record
 *   (START, CRC and END all right) starts anywhere after it: a torn tail, safe to cut there.
 * - 'corrupt': the record at stopPosition is bad and a valid record starts after it
 *   (`nextValidPosition`), or a well-framed record breaks a rule (offset, timestamp, kind/form,
 *   checkpoint shape, undecodable payload). Never to be truncated. Code ERR_CORRUPT.
 * - 'chain': a well-framed record whose prev_hash is not the expected hash (or a checkpoint payload
 *   that does not match its own prev_hash and offset, or a zero prev_hash away from offset 0, or a
 *   non-zero one at offset 0). Code ERR_CHAIN_BROKEN.
 * - 'unresolved' (final = false only): the record at stopPosition is bad and no valid record was
 *   found in the rest of data; whether it is torn depends on bytes after data. Continue the search
 *   with findValidRecord from `searchFrom`.
 */
export type ScanStop = 'end' | 'partial' | 'torn' | 'corrupt' | 'chain' | 'unresolved'

export interface ScanResult {
  /** Number of valid records, in order, before the stop. */
  count: number
  /** Per valid record: absolute position in the segment, offset, timestamp, kind. */
  positions: Float64Array
  offsets: Float64Array
  timestamps: Float64Array
  kinds: Uint8Array
  /** Bytes of data consumed by valid records (stopPosition = basePosition + validLength). */
  validLength: number
  /** Offset after the last valid record (firstOffset, or null if none was given and none found). */
  nextOffset: number | null
  /** Timestamp of the last valid record (prevTimestamp if none). */
  lastTimestamp: number | null
  /** verifyChain: hash of the last valid record (prevHash if none). Otherwise null. */
  lastHash: Buffer | null
  stop: ScanStop
  /** Absolute position where scanning stopped (end of data for 'end'). */
  stopPosition: number
  /** Offset of the record at stopPosition when its header could be read, else null. */
  stopOffset: number | null
  /** Human-readable cause for any stop other than 'end' ('' for 'end'). */
  reason: string
  /** 'partial': bytes needed from stopPosition to complete the record (≥ 66). Else 0. */
  needBytes: number
  /** 'corrupt' after a framing failure: absolute position of the next valid record. Else -1. */
  nextValidPosition: number
  /** 'unresolved': absolute position from which findValidRecord should continue. Else -1. */
  searchFrom: number
}

export interface FindValidRecordInput {
  data: Uint8Array
  basePosition: number
  /** data runs to the end of the file. */
  final: boolean
}

/**
 * - 'found': a valid record (START, kind, form, length, CRC, END all right) starts at `position`.
 * - 'none': no valid record starts in data (when not final: none starts at any position whose
 *   record would lie wholly inside data; the search may continue at `position`, which then is the
 *   first position not yet decided).
 * - 'more' (final = false only): a candidate at `position` needs `needBytes` bytes to be decided.
 */
export interface FindValidRecordResult {
  state: 'found' | 'none' | 'more'
  position: number
  needBytes: number
}

export interface DecodeInput {
  hash: HashAlgorithm
  stream: string
  /** Bytes of a segment that contain every record listed in `positions`. */
  data: Uint8Array
  basePosition: number
  /** Absolute positions of the records to decode, each lying wholly inside data. */
  positions: Float64Array
  /**
   * If not null: the records are consecutive in the chain; the first must carry this prev_hash
   * and each next one the hash of the one before (else ERR_CHAIN_BROKEN with the offset).
   */
  expectPrevHash: Uint8Array | null
  /** Payloads are returned only for records at index ≥ this (earlier ones are only verified). */
  payloadsFrom: number
  /** Cap on one decompressed payload (≤ MAX_PAYLOAD_BYTES); beyond it is ERR_CORRUPT. */
  maxPayloadBytes: number
}

export interface DecodeResult {
  count: number
  offsets: Float64Array
  timestamps: Float64Array
  kinds: Uint8Array
  /** Stored form byte of each record (FORM_REDACTED records have an empty payload). */
  forms: Uint8Array
  /** count × 32 bytes. */
  prevHashes: Buffer
  /** count × 32 bytes: each record's chain hash, recomputed from its content. */
  hashes: Buffer
  /** Decompressed payloads of records at index ≥ payloadsFrom, end to end. */
  payloads: Buffer
  /** count entries: end of record i's payload within `payloads` (equal to the previous end when not returned). */
  payloadEnds: Float64Array
}

/** decodeOne: decodeRecords of the one record at `position`, its payload returned. */
export interface DecodeOneInput {
  hash: HashAlgorithm
  stream: string
  /** Bytes of a segment that contain the record at `position` whole. */
  data: Uint8Array
  basePosition: number
  position: number
  /** If not null, the record must carry this prev_hash (else ERR_CHAIN_BROKEN). */
  expectPrevHash: Uint8Array | null
  maxPayloadBytes: number
}

/** One decoded record: its fields as decodeRecords gives them for record 0. */
export interface DecodedRecord {
  offset: number
  timestamp: number
  kind: number
  form: number
  /** 32 bytes. */
  prevHash: Buffer
  /** 32 bytes: the chain hash recomputed from the record's content. */
  hash: Buffer
  /** Decompressed (empty for a redacted record). */
  payload: Buffer
}

export interface RecordHashInput {
  stream: string
  prevHash: Uint8Array
  offset: number
  timestamp: number
  kind: number
  /** Length of the uncompressed payload. */
  payloadLength: number
  /** H(payload), 32 bytes. */
  commitment: Uint8Array
}

export interface ChainlogCore {
  readonly name: BackendName
  /** Must equal CORE_ABI. */
  abiVersion(): number

  encodeBatch(input: EncodeBatchInput): EncodeBatchResult
  scanSegment(input: ScanInput): ScanResult
  findValidRecord(input: FindValidRecordInput): FindValidRecordResult
  decodeRecords(input: DecodeInput): DecodeResult
  /**
   * decodeRecords of one record (a random get), with the same checks and errors. Its own call
   * because one record is where per-call costs show: the native core keeps a decoder per stream
   * and returns plain fields instead of typed arrays.
   */
  decodeOne(input: DecodeOneInput): DecodedRecord

  /** Same work off the main thread where the core can (native: libuv pool; JS: same thread). */
  scanSegmentAsync(input: ScanInput): Promise<ScanResult>
  decodeRecordsAsync(input: DecodeInput): Promise<DecodeResult>

  /** H(payload). */
  commitment(hash: HashAlgorithm, payload: Uint8Array): Buffer
  /** The chain hash of SPEC §2. */
  recordHash(hash: HashAlgorithm, input: RecordHashInput): Buffer
  /** CRC-32 (IEEE, zlib's). */
  crc32(data: Uint8Array): number
  /** The stored form of `data` under codec (CODEC_LZ4: u32 length ‖ raw block; CODEC_ZSTD: one frame). Always returns the compressed bytes, even if larger. */
  compress(codec: number, level: number, data: Uint8Array): Buffer
  /** Inverse of compress for FORM_NONE/LZ4/ZSTD/ZSTD_DICT; output over maxBytes is ERR_CORRUPT, never an allocation. */
  decompress(form: number, stored: Uint8Array, maxBytes: number): Buffer

  /**
   * zstd dictionaries (SPEC §2, form 4). A form-4 frame names its dictionary by ID; decoding
   * looks the ID up among the dictionaries loaded in this process (ERR_CORRUPT when it is not
   * loaded). Loads are counted per ID; loading different bytes under an ID already loaded is
   * ERR_CORRUPT. Bytes that are not a zstd dictionary are ERR_CORRUPT. Returns the ID.
   */
  loadDictionary(bytes: Uint8Array): number
  /** Undoes one loadDictionary (ERR_INVALID_ARGUMENT if `id` is not loaded). */
  unloadDictionary(id: number): void
  /**
   * Trains a dictionary of at most maxBytes on the samples (end to end, one length each), with
   * libzstd's default trainer; deterministic. The JS core has no trainer: ERR_UNSUPPORTED.
   */
  trainDictionary(samples: Uint8Array, lengths: Uint32Array, maxBytes: number): Promise<Buffer>
  /** The FORM_ZSTD_DICT stored form of data with loaded dictionary `id`. JS core: ERR_UNSUPPORTED. */
  compressWithDictionary(id: number, level: number, data: Uint8Array): Buffer
  /**
   * fdatasync of every descriptor in `fds` at once, on threads of the core's own rather than
   * libuv's pool (ts/engine/sync-window.ts); resolves with each one's errno, 0 when synced. Only
   * the native core on unix has it (the JS core has no threads to give; Windows descriptors are
   * CRT numbers).
   */
  datasyncMany?(fds: number[]): Promise<Int32Array>
}

/** Whether two views share any byte. */
function sharesMemory(a: ArrayBufferView, b: ArrayBufferView): boolean {
  if (a.buffer !== b.buffer) return false
  return a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength
}

/** Why both cores refuse an encodeBatch `into` that shares memory with an input (overlapsInput). */
export const INTO_OVERLAP = 'into must not overlap payloads, prevHash, lengths, timestamps, batchEnds or treeFrontier'

/** Whether encodeBatch's `into` shares memory with one of its inputs. */
export function overlapsInput(into: Uint8Array, input: EncodeBatchInput): boolean {
  return (
    sharesMemory(into, input.payloads) || sharesMemory(into, input.prevHash) || sharesMemory(into, input.lengths) || sharesMemory(into, input.timestamps) ||
    (input.batchEnds !== undefined && sharesMemory(into, input.batchEnds)) ||
    (input.treeFrontier !== undefined && sharesMemory(into, input.treeFrontier))
  )
}
