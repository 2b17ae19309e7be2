/**
 * One group commit, as four steps: plan (each call's conditions in call order, against the head
 * as the calls before it leave it), encode (as few core.encodeBatch calls as possible, checkpoints
 * due by the policy in the same run), write (one write, one fdatasync if any call asked for it;
 * a failure is rolled back), settle (resolve or reject every call). The stream's head changes in
 * one place only: the Commit value this produces goes to CommitTarget.applyCommit.
 */
import { CODEC_ZSTD, KIND_DATA, TREE_FRONTIER_BYTES, type EncodeBatchResult } from '../core/interface.ts'
import { CHECKPOINT_PAYLOAD_BYTES, HASH_BYTES, MAX_SAFE, RECORD_OVERHEAD } from '../core/format.ts'
import { ChainlogError } from '../errors.ts'
import { ioError } from '../storage/durable.ts'
import type { AppendResult, CheckpointRecord } from '../types.ts'
import type { WriteBuffer } from './append-input.ts'
import { checkpointDue, encodeCheckpoint, type CheckpointSigning } from './checkpoint.ts'
import type { CorruptMark } from './recovery.ts'
import type { Segment } from './segment.ts'
import type { StoreContext } from './store-context.ts'
import type { StorageFile } from '../storage/storage.ts'
import { frontierRoot, type SignedHead } from './stream-tree.ts'

/** A checkpoint record: the framing plus its payload. */
export const CHECKPOINT_RECORD_BYTES = RECORD_OVERHEAD + CHECKPOINT_PAYLOAD_BYTES

export interface AppendRequest {
  type: 'append'
  payloads: Buffer
  lengths: Uint32Array
  expectedOffset?: number
  expectedHash?: Buffer
  timestamp?: number
  sync: boolean
  /** Call order in the queue (set by enqueue): flush() waits for the calls made before it. */
  seq: number
  resolve: (r: AppendResult) => void
  reject: (e: unknown) => void
}

export interface CheckpointRequest {
  type: 'checkpoint'
  sync: boolean
  /** close(): only if data was appended since the last checkpoint. */
  onlyIfDirty: boolean
  seq: number
  resolve: (r: WrittenCheckpoint | null) => void
  reject: (e: unknown) => void
}

/** A checkpoint record as written, with the signed tree head it carries in a store that signs. */
export interface WrittenCheckpoint extends CheckpointRecord {
  signed?: SignedHead
}

export type Request = AppendRequest | CheckpointRequest

/** The head of a stream as the commit path reads it. */
export interface StreamHead {
  readonly nextOffset: number
  readonly headHash: Buffer
  readonly lastTimestamp: number
  /** Records since the last checkpoint (undefined until loadPolicyState). */
  readonly sinceCheckpoint: number | undefined
  readonly dirtySinceCheckpoint: boolean
}

/** What a committed group changes in its stream. */
export interface Commit {
  readonly segment: Segment
  /** Where the write began in the segment (its size before it) and how many bytes it wrote. */
  readonly position: number
  readonly bytes: number
  /** Record positions per encodeBatch call, each from its start `at` within the write. */
  readonly positionParts: ReadonlyArray<{ positions: Float64Array; at: number }>
  readonly synced: boolean
  readonly firstOffset: number
  readonly nextOffset: number
  readonly headHash: Buffer
  readonly lastTimestamp: number
  readonly sinceCheckpoint: number
  readonly dirtySinceCheckpoint: boolean
  /** The last checkpoint written by the group, if any. */
  readonly lastCheckpoint: number | null
  /** The Merkle tree outputs of the group's encodeBatch calls, in order (none when the tree does not follow commits). */
  readonly treeParts: readonly Buffer[]
  /** The last signed tree head a checkpoint record of the group carries (a store that signs). */
  readonly signed: SignedHead | null
}

/** What the commit path needs from a stream (Stream implements it). */
export interface CommitTarget extends StreamHead {
  readonly name: string
  readonly ctx: StoreContext
  readonly corrupt: CorruptMark | null
  readonly broken: ChainlogError | null
  /** The stream's zstd dictionary for new records (engine/dictionary.ts); 0 for none. */
  readonly dictionaryId: number
  /** The stream's Merkle compact range at its head, when its tree follows commits (engine/stream-tree.ts); else null. */
  readonly treeFrontier: Buffer | null
  loadPolicyState(every: number): Promise<void>
  /** The active segment, ready for `bytes` more (created or rotated as needed). */
  prepareWrite(bytes: number): Promise<Segment>
  datasyncChecked(handle: StorageFile): Promise<void>
  /** Makes a group's write of `data` at `position` of `segment` durable: the segment's fdatasync, or the store journal's round. */
  syncWrite(segment: Segment, position: number, data: Uint8Array): Promise<void>
  rollback(segment: Segment, goodLength: number): Promise<void>
  applyCommit(commit: Commit): void
  /** After a commit was applied: wake followers, start background work; true: the caller should yield once. */
  afterCommit(): boolean
}

/** What planning decided for one request. */
type Outcome =
  | { req: AppendRequest; error: null; first: number; last: number; next: number; endRecord: number }
  | { req: CheckpointRequest; error: null; offset: number; endRecord: number; signed?: SignedHead }
  | { req: CheckpointRequest; error: null; offset: null; endRecord: -1 }
  | { req: Request; error: unknown; provisional?: boolean }

/** The head as planning advances it, call by call. */
interface PlannedHead {
  nextOffset: number
  lastTimestamp: number
  since: number
  dirty: boolean
  lastCheckpoint: number | null
  /** The last signed tree head a checkpoint of the group carries. */
  signed: SignedHead | null
}

/** Commits a group; returns the calls to plan again (in order, before anything queued since). */
export async function commitGroup(target: CommitTarget, group: Request[], writeBuffer: WriteBuffer): Promise<Request[]> {
  const refusal = refuseAll(target)
  if (refusal !== null) {
    for (const r of group) r.reject(refusal)
    return []
  }
  const every = target.ctx.options.checkpointEvery
  try {
    // Only appends consult the policy; a checkpoint (say, at close) must not depend on the look-back.
    if (every !== false && group.some((r) => r.type === 'append')) await target.loadPolicyState(every)
  } catch (err) {
    for (const r of group) r.reject(err)
    return []
  }

  const signing = target.ctx.checkpointSigning
  let followFailure: unknown = null
  if (signing !== undefined && mayCheckpoint(target, group)) {
    // A checkpoint's note is signed on the tree these commits extend, checked once against the published note.
    await signing.follow(target.name).catch((err) => (followFailure = err))
  }
  const encoder = new GroupEncoder(target, group, writeBuffer, signing)
  const outcomes: Outcome[] = []
  let planned: PlannedHead
  try {
    planned = await plan(target, group, encoder, outcomes, followFailure)
    encoder.finish()
  } catch (err) {
    // An encoder failure (say, an unavailable codec) fails the whole group; nothing is written.
    // Calls already refused keep their own error.
    const decided = new Map<Request, unknown>(outcomes.map((o) => [o.req, o.error]))
    for (const r of group) r.reject(decided.get(r) ?? err)
    return []
  }

  if (encoder.total > 0) {
    const written = await write(target, encoder, outcomes)
    if (written.error !== null) return failWrite(outcomes, written.error)
    target.applyCommit({
      segment: written.segment, position: written.position, bytes: encoder.total, positionParts: encoder.positionParts, synced: written.synced,
      firstOffset: target.nextOffset, nextOffset: planned.nextOffset, headHash: encoder.head, lastTimestamp: planned.lastTimestamp,
      sinceCheckpoint: planned.since, dirtySinceCheckpoint: planned.dirty, lastCheckpoint: planned.lastCheckpoint, treeParts: encoder.treeParts,
      signed: planned.signed,
    })
  }
  settle(outcomes, encoder)
  if (encoder.total > 0 && target.afterCommit()) await new Promise((resolve) => setImmediate(resolve)) // lets the last write-behind's end be seen
  return []
}

/** Whether the group may write a checkpoint: one asked for, or one the policy wants after its appends. */
function mayCheckpoint(target: CommitTarget, group: Request[]): boolean {
  const every = target.ctx.options.checkpointEvery
  let records = target.sinceCheckpoint ?? 0
  for (const r of group) {
    if (r.type === 'checkpoint') return true
    records += r.lengths.length
  }
  return checkpointDue(records, every)
}

/** Appends to a damaged or broken stream fail, whatever they ask. */
function refuseAll(target: CommitTarget): ChainlogError | null {
  const c = target.corrupt
  if (c !== null) {
    // SPEC §3: appends to a damaged stream fail with ERR_CORRUPT, whatever the damage was (a bad
    // frame or a broken link); the kind found is in the message and in details.damage.
    return new ChainlogError('ERR_CORRUPT', `stream ${target.name} is damaged at offset ${c.offset} (${c.code}: ${c.reason}); appends are refused until it is repaired`, {
      stream: target.name, offset: c.offset, position: c.position, damage: c.code,
    })
  }
  return target.broken
}

/**
 * Decides each call in call order against the head the calls before it leave, and hands the
 * accepted ones (and the checkpoints the policy wants) to the encoder.
 */
async function plan(target: CommitTarget, group: Request[], encoder: GroupEncoder, outcomes: Outcome[], followFailure: unknown): Promise<PlannedHead> {
  const every = target.ctx.options.checkpointEvery
  const name = target.name
  const head: PlannedHead = {
    nextOffset: target.nextOffset, lastTimestamp: target.lastTimestamp, since: target.sinceCheckpoint ?? 0, dirty: target.dirtySinceCheckpoint,
    lastCheckpoint: null, signed: null,
  }
  let planned = 0
  /** Adds a checkpoint record; a signer's failure instead (SPEC §8: the records land without it). */
  const addCheckpoint = async (): Promise<{ error: unknown; signed?: SignedHead }> => {
    let signed: SignedHead | undefined
    try {
      signed = await encoder.addCheckpoint(head.nextOffset, head.lastTimestamp, followFailure)
    } catch (error) {
      return { error }
    }
    head.lastCheckpoint = head.nextOffset
    if (head.nextOffset === 0) head.lastTimestamp = 0
    head.nextOffset++
    planned++
    head.since = 0
    head.dirty = false
    if (signed !== undefined) head.signed = signed
    return { error: null, signed }
  }
  for (const req of group) {
    if (req.type === 'checkpoint') {
      if (req.onlyIfDirty && !head.dirty) {
        outcomes.push({ req, error: null, offset: null, endRecord: -1 })
        continue
      }
      const offset = head.nextOffset
      const added = await addCheckpoint()
      if (added.error !== null) outcomes.push({ req, error: added.error })
      else outcomes.push({ req, error: null, offset, endRecord: planned - 1, ...(added.signed === undefined ? {} : { signed: added.signed }) })
      continue
    }
    // A refusal judged against a head that calls before it in this group would have made is
    // provisional: if the group's write fails, it is planned again against the committed head.
    const refuse = (error: ChainlogError) => outcomes.push({ req, error, provisional: planned > 0 })
    const n = req.lengths.length
    if (req.expectedOffset !== undefined && req.expectedOffset !== head.nextOffset) {
      refuse(conflict(name, `expected offset ${req.expectedOffset}, the stream's next offset is ${head.nextOffset}`, head.nextOffset, req.expectedOffset))
      continue
    }
    if (req.expectedHash !== undefined) {
      const hash = encoder.headHash()
      if (!hash.equals(req.expectedHash)) {
        refuse(conflict(name, `expected head hash ${req.expectedHash.toString('hex')}, the stream's head (next offset ${head.nextOffset}) is ${hash.toString('hex')}`, head.nextOffset, req.expectedOffset))
        continue
      }
    }
    if (req.timestamp !== undefined && req.timestamp < head.lastTimestamp) {
      refuse(new ChainlogError('ERR_INVALID_ARGUMENT', `timestamp: expected at least ${head.lastTimestamp} (the stream's last timestamp), got ${req.timestamp}`, { stream: name }))
      continue
    }
    if (head.nextOffset + n - 1 > MAX_SAFE) {
      refuse(new ChainlogError('ERR_INVALID_ARGUMENT', `stream ${name}: ${n} records after offset ${head.nextOffset} would pass 2^53 − 1`, { stream: name }))
      continue
    }
    // The clock never goes backwards within a stream: clamp to the last timestamp.
    const ts = req.timestamp ?? Math.max(Date.now(), head.lastTimestamp)
    const first = head.nextOffset
    encoder.addAppend(req, first, ts)
    head.nextOffset += n
    planned += n
    head.lastTimestamp = ts
    head.since += n
    head.dirty = true
    // A policy checkpoint the signer fails is left out; the next one is due `every` records later (close() tries again).
    if (checkpointDue(head.since, every) && (await addCheckpoint()).error !== null) head.since = 0
    outcomes.push({ req, error: null, first, last: first + n - 1, next: head.nextOffset, endRecord: planned - 1 })
  }
  return head
}

/**
 * The encode step: consecutive appends are encoded together (one encodeBatch per run, typed
 * arrays filled per call, not per record), checkpoints on their own, all end to end in one
 * buffer when the group fits the reused one.
 */
class GroupEncoder {
  total = 0
  /** Chain hash of the last record encoded (the stream's head before anything is). */
  head: Buffer
  readonly positionParts: Array<{ positions: Float64Array; at: number }> = []
  /** SPEC §8: each call's tree output; the tree's compact range after everything encoded so far. */
  readonly treeParts: Buffer[] = []
  private tree: Buffer | null
  private readonly parts: Buffer[] = []
  // Chain hashes per encoded part (N × 32 bytes each, or only the last when no call ends inside
  // the part), found by record number: no per-record views.
  private readonly hashParts: Array<Buffer | null> = []
  private readonly lastHashes: Buffer[] = []
  private readonly partStarts: number[] = []
  private encoded = 0
  private readonly buffer: Buffer | undefined
  private contiguous: boolean
  /** The appends waiting to be encoded as one run, with their timestamps. */
  private run: { first: number; reqs: AppendRequest[]; timestamps: number[]; records: number } | null = null
  /** hashOf's cursor: outcomes are settled in record order. */
  private part = 0

  constructor(
    private readonly target: CommitTarget,
    group: Request[],
    writeBuffer: WriteBuffer,
    private readonly signing: CheckpointSigning | undefined,
  ) {
    this.head = target.headHash
    this.tree = target.treeFrontier
    const every = target.ctx.options.checkpointEvery
    // Every record of the group fits here (checkpoints due included), so the parts land end to end.
    let records = 0
    let bound = 0
    for (const r of group) if (r.type === 'append') (records += r.lengths.length), (bound += r.payloads.length + r.lengths.length * RECORD_OVERHEAD)
    const checkpointsBound = group.length + (every === false ? 0 : Math.ceil(records / every) + 1)
    const checkpointBytes = CHECKPOINT_RECORD_BYTES + (signing === undefined ? 0 : signing.noteBytes(target.name))
    this.buffer = writeBuffer.get(bound + checkpointsBound * checkpointBytes)
    this.contiguous = this.buffer !== undefined
  }

  addAppend(req: AppendRequest, first: number, timestamp: number): void {
    this.run ??= { first, reqs: [], timestamps: [], records: 0 }
    this.run.reqs.push(req)
    this.run.timestamps.push(timestamp)
    this.run.records += req.lengths.length
  }

  /**
   * Encodes a checkpoint at `offset`; in a store that signs, carrying the signed note of the tree
   * of the records before it (returned). Throws, encoding nothing, when that note cannot be made.
   */
  async addCheckpoint(offset: number, timestamp: number, followFailure: unknown): Promise<SignedHead | undefined> {
    this.flushRun()
    const { core, hash } = this.target.ctx
    let signed: SignedHead | undefined
    if (this.signing !== undefined) {
      if (this.tree === null) {
        throw followFailure ?? new ChainlogError('ERR_IO', `stream ${this.target.name}: the Merkle tree does not follow the stream's head; no note signed`, { stream: this.target.name })
      }
      const root = frontierRoot(this.tree, offset)
      signed = { size: offset, root, note: await this.signing.sign(this.target.name, offset, root) }
    }
    this.push(encodeCheckpoint(core, hash, this.target.name, offset, this.head, timestamp, this.into(), this.tree ?? undefined, signed?.note))
    return signed
  }

  /** The chain hash after everything added so far (encodes the pending run). */
  headHash(): Buffer {
    this.flushRun()
    return this.head
  }

  finish(): void {
    this.flushRun()
  }

  /** The bytes to write: one buffer, end to end. */
  bytes(): Buffer {
    if (this.parts.length === 1) return this.parts[0]
    return this.contiguous ? this.buffer!.subarray(0, this.total) : Buffer.concat(this.parts, this.total)
  }

  /** The chain hash of the group's `record`-th record (a copy the caller may keep). */
  hashOf(record: number): Buffer {
    while (this.part + 1 < this.partStarts.length && this.partStarts[this.part + 1] <= record) this.part++
    const end = this.part + 1 < this.partStarts.length ? this.partStarts[this.part + 1] : this.encoded
    if (record === end - 1) return Buffer.from(this.lastHashes[this.part])
    const at = (record - this.partStarts[this.part]) * HASH_BYTES
    return Buffer.from(this.hashParts[this.part]!.subarray(at, at + HASH_BYTES))
  }

  private into(): Uint8Array | undefined {
    return this.buffer?.subarray(this.total)
  }

  private flushRun(): void {
    const run = this.run
    if (run === null) return
    this.run = null
    const { reqs, records } = run
    const small = records <= SMALL_RUN_RECORDS
    let payloads = reqs[0].payloads
    let lengths = reqs[0].lengths
    const timestamps = small ? smallRunTimestamps[records] : new Float64Array(records)
    if (reqs.length === 1) {
      timestamps.fill(run.timestamps[0])
      if (small) {
        smallRunLengths[records].set(lengths)
        lengths = smallRunLengths[records]
      }
    } else {
      payloads = Buffer.concat(reqs.map((q) => q.payloads))
      lengths = small ? smallRunLengths[records] : new Uint32Array(records)
      for (let i = 0, at = 0; i < reqs.length; at += reqs[i].lengths.length, i++) {
        lengths.set(reqs[i].lengths, at)
        timestamps.fill(run.timestamps[i], at, at + reqs[i].lengths.length)
      }
    }
    const { core, hash, options } = this.target.ctx
    this.push(
      core.encodeBatch({
        hash, stream: this.target.name, firstOffset: run.first, prevHash: this.head, kind: KIND_DATA, codec: options.codec, level: options.level,
        dictionaryId: options.codec === CODEC_ZSTD ? this.target.dictionaryId : 0,
        // With one call in the run, the only hash asked for is the run's last (lastHash).
        payloads, lengths, timestamps, wantHashes: reqs.length > 1, into: this.into(), batchEnds: batchEndsOf(reqs, records),
        treeFrontier: this.tree ?? undefined,
      }),
    )
  }

  private push(r: EncodeBatchResult): void {
    if (r.bytes.buffer !== this.buffer?.buffer || r.bytes.byteOffset !== this.buffer.byteOffset + this.total) this.contiguous = false
    this.positionParts.push({ positions: r.positions, at: this.total })
    this.hashParts.push(r.hashes)
    this.lastHashes.push(r.lastHash)
    this.partStarts.push(this.encoded)
    this.encoded += r.positions.length
    this.parts.push(r.bytes)
    this.total += r.bytes.length
    this.head = r.lastHash
    if (r.tree !== null) {
      this.treeParts.push(r.tree)
      this.tree = r.tree.subarray(0, TREE_FRONTIER_BYTES)
    }
  }
}

/**
 * A run of this many records or fewer hands encodeBatch its lengths and timestamps in views of
 * off-heap arrays made once and refilled per run (encodeBatch reads them and keeps none). Typed
 * arrays of up to 64 bytes made per run live on V8's heap, and each one handed to the native core
 * was first moved to a backing store of its own: with many streams a run is one append, and that
 * move cost about as much as encoding it (docs/perf-notes.md, "W3m with the journal").
 */
const SMALL_RUN_RECORDS = 16
const smallRunLengths = viewsByLength(new ArrayBuffer(SMALL_RUN_RECORDS * 4), (buffer, n) => new Uint32Array(buffer, 0, n))
const smallRunTimestamps = viewsByLength(new ArrayBuffer(SMALL_RUN_RECORDS * 8), (buffer, n) => new Float64Array(buffer, 0, n))

/** Views of `buffer` of every length from 0 to SMALL_RUN_RECORDS, indexed by length. */
function viewsByLength<T>(buffer: ArrayBuffer, view: (buffer: ArrayBuffer, n: number) => T): T[] {
  return Array.from({ length: SMALL_RUN_RECORDS + 1 }, (_, n) => view(buffer, n))
}

/** Where each call of a run ends (SPEC §2, atomic batches); undefined when every call is one record (the bit is then never set). */
function batchEndsOf(reqs: AppendRequest[], records: number): Uint32Array | undefined {
  if (records === reqs.length) return undefined
  const ends = new Uint32Array(reqs.length)
  for (let i = 0, at = 0; i < reqs.length; i++) ends[i] = at += reqs[i].lengths.length
  return ends
}

type Written = { error: null; segment: Segment; position: number; synced: boolean } | { error: ChainlogError }

/** The write step: one write at the end of the active segment, one fdatasync if any accepted call asked; rolled back on failure. */
async function write(target: CommitTarget, encoder: GroupEncoder, outcomes: Outcome[]): Promise<Written> {
  const total = encoder.total
  const synced = outcomes.some((o) => o.error === null && 'endRecord' in o && o.endRecord >= 0 && o.req.sync)
  let seg: Segment
  try {
    seg = await target.prepareWrite(total)
  } catch (err) {
    return { error: ioError(err, `stream ${target.name}: cannot prepare the segment for ${total} bytes`, { stream: target.name }) }
  }
  const position = seg.size
  try {
    const data = encoder.bytes()
    await seg.handle!.write(data, position)
    if (synced) await target.syncWrite(seg, position, data)
  } catch (err) {
    await target.rollback(seg, position)
    return {
      error: ioError(err, `stream ${target.name}: write of ${total} bytes at position ${position} of ${seg.path} failed and was rolled back`, {
        stream: target.name, position,
      }),
    }
  }
  return { error: null, segment: seg, position, synced }
}

/**
 * A group's write failed: its accepted calls get `e`. A call refused at planning against a head
 * that calls before it in the group would have made (`provisional`) was judged against a head that
 * never existed: it is returned to be planned again against the committed one. A refusal against
 * the committed head stays final.
 */
function failWrite(outcomes: Outcome[], e: unknown): Request[] {
  const retry: Request[] = []
  for (const o of outcomes) {
    if (o.error !== null && 'provisional' in o && o.provisional === true) retry.push(o.req)
    else o.req.reject(o.error ?? e)
  }
  return retry
}

/** The settle step: every call of a written group gets its result or its refusal. */
function settle(outcomes: Outcome[], encoder: GroupEncoder): void {
  for (const o of outcomes) {
    if (o.error !== null) o.req.reject(o.error)
    else if (o.req.type === 'append') {
      const a = o as Extract<Outcome, { first: number }>
      a.req.resolve({ firstOffset: a.first, lastOffset: a.last, nextOffset: a.next, hash: encoder.hashOf(a.endRecord) })
    } else {
      const c = o as Extract<Outcome, { offset: number | null }>
      c.req.resolve(c.offset === null ? null : { offset: c.offset, hash: encoder.hashOf(c.endRecord), ...('signed' in c && c.signed !== undefined ? { signed: c.signed } : {}) })
    }
  }
}

function conflict(stream: string, message: string, nextOffset: number, expectedOffset: number | undefined): ChainlogError {
  return new ChainlogError('ERR_OFFSET_CONFLICT', `stream ${stream}: ${message}; nothing was written`, { stream, offset: nextOffset, expectedOffset, nextOffset })
}
