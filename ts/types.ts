/**
 * The public option and result types (SPEC §3), and the resolved form of the Log's options the
 * engine runs on. Validation lives in validate.ts.
 */
import type { HashAlgorithm } from './core/interface.ts'
import type { BackendChoice } from './core/load.ts'

/** 'always': an append resolves once its bytes are on stable storage (fsync). 'never': once they are handed to the OS. */
export type SyncMode = 'always' | 'never'
/** How much of the chain a read checks: from the nearest checkpoint ('checkpoint'), from offset 0 ('genesis'), or CRCs only ('none'). */
export type VerifyMode = 'checkpoint' | 'genesis' | 'none'
/** Payload compression: a codec name, or `{ codec: 'zstd', level }`. A compressed form is stored only when strictly smaller. */
export type CompressionOption = 'none' | 'zstd' | 'lz4' | { codec: 'zstd' | 'lz4' | 'none'; level?: number }

/** Options of `Log.open`. */
export interface LogOptions {
  /** A segment file is sealed and a new one started past this size. Default 256 MiB. */
  maxSegmentBytes?: number
  /** Write a checkpoint record after this many records (default 1000); false: only explicit ones and on close. */
  checkpointEvery?: number | false
  /** Payload compression for new records. Default 'none'. */
  compression?: CompressionOption
  /** Chain hash of a new store (default 'blake3'); a different value for an existing store is ERR_STORE_MISMATCH. */
  hash?: HashAlgorithm
  /** Default durability of appends. Default 'always'. */
  sync?: SyncMode
  /** Which core to use. Default 'auto'. */
  backend?: BackendChoice
  /** Take no lock and write nothing; sees the appends made before it opened. Default false. */
  readOnly?: boolean
  /** Largest payload accepted by append (ERR_RECORD_TOO_LARGE beyond). Default 64 MiB. */
  maxRecordBytes?: number
  /**
   * File descriptors the store holds at once, shared by all its streams (segment writers and
   * readers, index and manifest saves); idle ones are closed least recently used first and
   * reopened on demand. Default: half the process's soft limit (Linux), between 8 and 4096;
   * 128 where the limit cannot be read. At least 8. Ignored by Log.memory().
   */
  maxOpenFiles?: number
  /** Sign each stream's Merkle tree heads as C2SP checkpoints (SPEC §8). */
  tlog?: TlogOptions
  /** Drop each stream's oldest sealed segments past a size or an age (SPEC §9; see RetentionOptions). */
  retention?: RetentionOptions
  /**
   * Under sync 'always', make each round of group commits durable with one write and one
   * fdatasync of the store journal (`journal.wal`, docs/format.md §11) instead of one fdatasync
   * per stream's segment; segments are fdatasynced at checkpoints. Default false. Ignored by
   * Log.memory() and read-only opens (a journal left by a writer is replayed by any writable open).
   */
  journal?: boolean
}

/** An Ed25519 signer kept elsewhere (KMS, HSM): sync or async. */
export interface TlogExternalSigner {
  /** The 32-byte Ed25519 public key. */
  publicKey: Uint8Array
  /** The 64-byte Ed25519 signature of `message`. */
  sign(message: Uint8Array): Uint8Array | Promise<Uint8Array>
}

/** `tlog` option of Log.open: who signs checkpoints, and under which origin. */
export interface TlogOptions {
  /** The store's origin: 1–200 bytes of printable non-space ASCII, no '+', not ending in '/'. Stream s signs as `<origin>/<s>`. */
  origin: string
  /** A Go `note` signer key (PRIVATE+KEY+…), a path to a file holding one (outside the store), or `{ publicKey, sign }`. */
  signer: string | TlogExternalSigner
  /** A file outside the store that keeps the last published size and root of each stream, so a rolled-back store is detected at open. */
  stateFile?: string
}

export interface ResolvedOptions {
  maxSegmentBytes: number
  checkpointEvery: number | false
  codec: number
  level: number
  hash: HashAlgorithm | undefined
  sync: SyncMode
  backend: BackendChoice
  readOnly: boolean
  maxRecordBytes: number
  maxOpenFiles: number
  tlog: TlogOptions | null
  retention: RetentionOptions | null
  journal: boolean
}

/**
 * The `retention` open option (SPEC §9), applied to every stream by the writer at open and after
 * each rotation: the oldest sealed segments are pruned while the stream's segment bytes exceed
 * `maxBytes`, or while the last record of the oldest is older than `maxAgeMs` (its timestamp
 * against the clock). The active segment always stays. With `requireArchived`, only segments an
 * Archiver attached to this log has shipped (its HEAD's `sealed` list) may go.
 */
export interface RetentionOptions {
  /** Prune while the stream's segment files hold more than this many bytes (the active segment always stays). */
  maxBytes?: number
  /** Prune segments whose last record's timestamp is older than this many milliseconds. */
  maxAgeMs?: number
  /** Prune only segments an Archiver on this log has seen in its archive's HEAD (none without one). */
  requireArchived?: boolean
}

/** Options of `log.prune`. */
export interface PruneOptions {
  /** Whole sealed segments whose records all lie below this offset go (their next offset ≤ it). */
  before: number
  /** Only say what would go; nothing changes (allowed on a read-only log). */
  dryRun?: boolean
}

/** What `log.prune` dropped (or, with dryRun, would drop). */
export interface PruneResult {
  /** The stream's first offset after the prune. */
  firstOffset: number
  /** Segment files removed. */
  segments: number
  /** Their bytes. */
  bytes: number
}

/** Options of `log.append`. */
export interface AppendOptions {
  /** Append only if the stream's next offset is this; else ERR_OFFSET_CONFLICT and nothing is written. */
  expectedOffset?: number
  /** Append only if the stream's head hash is this (zeros for an empty stream); else ERR_OFFSET_CONFLICT. */
  expectedHash?: Uint8Array
  /** Timestamp of the events (ms since the epoch) instead of the clock; must not go backwards. */
  timestamp?: number
  /** Durability of this append, overriding the log's `sync`. */
  sync?: SyncMode
}

/** What `log.append` wrote. */
export interface AppendResult {
  /** Offset of the first event of the call. */
  firstOffset: number
  /** Offset of the last event of the call. */
  lastOffset: number
  /** The stream's next offset after this append (past a checkpoint that followed it). */
  nextOffset: number
  /** The stream's head hash after this append: pass it back as expectedHash with nextOffset. */
  hash: Buffer
}

/** Options of `log.read`. */
export interface ReadOptions {
  /** First offset to return. Default 0. */
  from?: number
  /** Start at the first record whose timestamp is at or after this (ms since the epoch). */
  fromTime?: number
  /** At most this many records. */
  limit?: number
  /** Soft cap on payload bytes: the first record always comes, then reading stops before the total would exceed it. */
  maxBytes?: number
  /** How much of the chain to check. Default 'checkpoint'. */
  verify?: VerifyMode
}

/** Options of `log.iterate`. */
export interface IterateOptions {
  /** First offset to yield. Default 0. */
  from?: number
  /** How much of the chain to check. Default 'checkpoint'. */
  verify?: VerifyMode
  /** Keep the iterator open and yield records appended through this Log, until close() or break. */
  follow?: boolean
}

/** Options of `log.get`. */
export interface GetOptions {
  /** How much of the chain to check. Default 'checkpoint'. */
  verify?: VerifyMode
}

/** A data record as read back. */
export interface LogRecord {
  /** Position of the record in its stream (0, 1, 2, …; checkpoints take offsets too). */
  offset: number
  /** Milliseconds since the Unix epoch; never decreasing within a stream. */
  timestamp: number
  /** 'data' for appended events ('tombstone' is reserved). */
  kind: 'data' | 'tombstone'
  /** The event bytes, decompressed. */
  payload: Buffer
  /** Chain hash of this record (32 bytes). */
  hash: Buffer
  /** Chain hash of the record before it (32 zero bytes at offset 0). */
  prevHash: Buffer
  /** Present (true) when the record was redacted (`log.redact`): its payload is gone and `payload` is empty. */
  redacted?: true
}

/** The head of a stream, from `log.head`. */
export interface HeadInfo {
  /** The offset the next append will get. */
  nextOffset: number
  /** Chain hash of the last record (32 zero bytes for an empty stream). */
  hash: Buffer
  /** Number of segment files. */
  segments: number
  /** Offset of the last checkpoint record, or null when there is none (or `damage` hides it). */
  lastCheckpoint: number | null
  /** The first offset the stream still holds: 0, or where a prune left it (SPEC §9). */
  firstOffset: number
  /** Present when the stream is known to be damaged: found at open, or by this call. */
  damage?: StreamDamage
}

/**
 * Damage in a stream, as `log.head` reports it. Reads stop at `offset`; `verify()` lists every
 * problem of the stream.
 */
export interface StreamDamage {
  /** ERR_CORRUPT for damaged bytes or framing; ERR_CHAIN_BROKEN for a hash link that does not hold. */
  code: 'ERR_CORRUPT' | 'ERR_CHAIN_BROKEN'
  /** Offset of the damaged record (the offset it should have). */
  offset: number
  /** Segment number of the file it is in, when known. */
  segment: number | null
  /** Byte position of the damage in that segment file, when known. */
  position: number | null
  /** What is wrong. */
  reason: string
  /**
   * True when open found the damage at the end of the stream: the head (`nextOffset`, `hash`) is
   * the record before it, and appends fail with this code until the damage is removed. False when
   * it lies behind the head: records after it are intact and appends go on, unless the writer's
   * checkpoint policy has to look back across the damage (it reads up to `checkpointEvery`
   * records back on the first append after open), which then fails with this code.
   */
  appendsRefused: boolean
}

/** The checkpoint record written by `log.checkpoint`. */
export interface CheckpointResult {
  /** Offset of the checkpoint record. */
  offset: number
  /** Chain hash of the checkpoint record, the stream's new head. */
  hash: Buffer
  /** The Merkle tree the checkpoint covers: the records before it (= offset). */
  treeSize: number
  /** RFC 6962 root of that tree (SHA-256). */
  root: Buffer
  /** The signed C2SP checkpoint of that tree, published after the records were made durable (only when the store signs). */
  note?: string
}

/** The checkpoint record the commit path wrote (before any tree head is computed for it). */
export type CheckpointRecord = Pick<CheckpointResult, 'offset' | 'hash'>

/** One problem found by `log.verify`. */
export interface VerifyProblem {
  /** Offset of the damaged record, or null when it could not be read. */
  offset: number | null
  /** ERR_CORRUPT for damaged bytes or framing; ERR_CHAIN_BROKEN for a hash link that does not hold. */
  code: 'ERR_CORRUPT' | 'ERR_CHAIN_BROKEN'
  /** What was expected, what was found, and where. */
  message: string
}

/** The verification of one stream. */
export interface StreamReport {
  /** Stream name. */
  stream: string
  /** Valid records the segment files hold, before and after any damage (a damaged record is a problem, not counted): events, checkpoints and tombstones. */
  records: number
  /** Data records (appended events) among them. */
  events: number
  /** Checkpoint records among them. */
  checkpoints: number
  /** The offset after the last valid record the files hold, and that record's hash. */
  head: { nextOffset: number; hash: Buffer }
  /** Where the checked records start: 0, or the first kept offset of a pruned stream. */
  firstOffset?: number
  /** Every problem found, one per damaged record or range, in file order (at most 100); empty when the stream is sound. */
  problems: VerifyProblem[]
}

/** The result of `log.verify`. */
export interface VerifyReport {
  /** True when no stream has a problem. */
  ok: boolean
  /** One report per stream checked. */
  streams: StreamReport[]
}

/** Options of `log.verify`. */
export interface VerifyOptions {
  /** Called as the check advances, with bytes done and the total to check (for a progress bar). */
  onProgress?: (progress: { bytesDone: number; bytesTotal: number }) => void
  /** Signed notes (C2SP checkpoints) kept elsewhere: the records must give their roots (SPEC §8). */
  trusted?: string[]
  /** Verifier keys the trusted and published notes must be signed with. */
  keys?: string[]
}

/** What open-time recovery did to a stream (see `log.recovered`). */
export interface RecoveryEvent {
  /** Stream name. */
  stream: string
  /** Segment number of the file concerned. */
  segment: number
  /**
   * 'truncated': a torn tail was cut off (stream '' and segment -1: the journal's own tail).
   * 'corrupt': damage found; nothing was cut. 'replayed': a journal entry's bytes, which the
   * segment lacked, were written back (offset null). 'skipped': a journal entry not applied (reason says why).
   */
  action: 'truncated' | 'corrupt' | 'replayed' | 'skipped'
  /** Byte position in the segment where the bad record starts. */
  position: number
  /** Offset of the bad record when its header could be read, else null. */
  offset: number | null
  /** Bytes cut off ('truncated'), or bytes after the damage ('corrupt'). */
  bytes: number
  /** Why the record was judged torn or damaged. */
  reason: string
}

/** Options of `log.trainDictionary`. */
export interface TrainDictionaryOptions {
  /**
   * What to train on: a number N takes the stream's last N data records (default 10,000, fewer
   * when the stream holds fewer); an array gives the sample events themselves.
   */
  samples?: number | Array<Uint8Array | string>
  /** Largest dictionary, in bytes: 256..1 MiB, default 16 KiB. */
  maxBytes?: number
}

/** What `log.trainDictionary` stored. */
export interface TrainDictionaryResult {
  /** The dictionary's ID, which every zstd frame made with it names. */
  id: number
  /** Its size in bytes. */
  bytes: number
  /** Its file in the stream's directory. */
  file: string
  /** How many samples it was trained on. */
  samples: number
}

/** Options of `log.repair()`. */
export interface RepairOptions {
  /** Only say what would be moved; change nothing (the CLI without --yes). Default false. */
  dryRun?: boolean
}

/** What `log.repair()` did (or, with dryRun, would do). */
export interface RepairResult {
  /** The stream's stored name. */
  stream: string
  /** true when bytes were moved and the stream takes appends again. */
  repaired: boolean
  /** What was (or would be) done, or why nothing was. */
  reason: string
  /** The active segment cut (or to cut); null for a healthy stream. */
  segment: number | null
  /** The byte position of the cut in that segment (after the last whole batch before the damage); null for a healthy stream. */
  position: number | null
  /** The stream's next offset after the cut; null for a healthy stream. */
  offset: number | null
  /** Bytes moved (or to move) to quarantine. */
  bytes: number
  /** The quarantine file that holds (or would hold) them. */
  quarantine: string | null
}

/** Options of `log.redact()`. */
export interface RedactOptions {
  /** Why the payload was erased (a request number, say): UTF-8, at most 1 KiB, stored in the tombstone. Default ''. */
  reason?: string
}

/** What `log.redact()` did. */
export interface RedactResult {
  /** The record redacted. */
  offset: number
  /** The offset of the tombstone that records the redaction; null when the record was redacted already (nothing was written). */
  tombstoneOffset: number | null
}
