/**
 * Group commit for one stream. Calls take effect in call order. While one write+fsync is in
 * flight, later calls queue; the next group takes everything queued (up to a byte budget),
 * checks each call's conditions against the head as it will be after the calls before it,
 * encodes the accepted events with as few core.encodeBatch calls as possible (checkpoints due
 * by the policy go in the same write), and issues one write and, if any call asked for it, one
 * fdatasync. A failed write or fsync is cut back to the last good length and every call of the
 * group gets ERR_IO; the stream stays usable. A call is resolved only after its group's write
 * (and fsync) completed, so all events of one append land together or not at all.
 */
import { KIND_DATA, type EncodeBatchResult } from '../core/interface.ts'
import { CHECKPOINT_PAYLOAD_BYTES, MAX_SAFE, RECORD_OVERHEAD } from '../core/format.ts'
import { ChainlogError } from '../errors.ts'
import { ioError } from '../storage/durable.ts'
import { checkpointDue, encodeCheckpoint } from './checkpoint.ts'
import type { AppendResult, CheckpointResult } from '../types.ts'
import { WriteBuffer } from './append-input.ts'
import { writeFully } from '../storage/segment-file.ts'
import type { Stream } from './stream.ts'

/** Payload bytes one group may carry (besides the first call, which always goes). */
export const MAX_GROUP_BYTES = 64 * 1024 * 1024
/** A checkpoint record: the framing plus its payload. */
const CHECKPOINT_RECORD_BYTES = RECORD_OVERHEAD + CHECKPOINT_PAYLOAD_BYTES

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
  resolve: (r: CheckpointResult | null) => void
  reject: (e: unknown) => void
}

type Request = AppendRequest | CheckpointRequest

/** An append's conditions and sync choice, as resolved from its options. */
export type AppendConditions = Pick<AppendRequest, 'expectedOffset' | 'expectedHash' | 'timestamp' | 'sync'>

/** What planning decided for one request. */
type Outcome =
  | { req: AppendRequest; error: null; first: number; last: number; next: number; endRecord: number }
  | { req: CheckpointRequest; error: null; offset: number; endRecord: number }
  | { req: CheckpointRequest; error: null; offset: null; endRecord: -1 }
  | { req: Request; error: unknown; provisional?: boolean }

export class CommitQueue {
  private pending: Request[] = []
  private running = false
  private idleWaiters: Array<() => void> = []
  /** Calls enqueued so far (the last one's seq), and every call with seq ≤ settledUpTo has settled. */
  private enqueued = 0
  private settledUpTo = 0
  private barriers: Array<{ seq: number; resolve: () => void }> = []
  private readonly writeBuffer = new WriteBuffer()

  constructor(private readonly stream: Stream) {}

  append(payloads: Buffer, lengths: Uint32Array, o: AppendConditions): Promise<AppendResult> {
    // One object shape for every request (no spread): this runs once per append.
    return new Promise((resolve, reject) =>
      this.enqueue({
        type: 'append', payloads, lengths, expectedOffset: o.expectedOffset, expectedHash: o.expectedHash, timestamp: o.timestamp,
        sync: o.sync, seq: 0, resolve, reject,
      }),
    )
  }

  checkpoint(sync: boolean, onlyIfDirty: boolean): Promise<CheckpointResult | null> {
    return new Promise((resolve, reject) => this.enqueue({ type: 'checkpoint', sync, onlyIfDirty, seq: 0, resolve, reject }))
  }

  /** Resolves once nothing is queued or in flight. */
  idle(): Promise<void> {
    if (!this.running && this.pending.length === 0) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  /**
   * Resolves once every call queued before this one has settled (later calls are not waited for,
   * so steady appends cannot starve it).
   */
  settled(): Promise<void> {
    const seq = this.enqueued
    if (this.settledUpTo >= seq) return Promise.resolve()
    return new Promise((resolve) => this.barriers.push({ seq, resolve }))
  }

  private enqueue(req: Request): void {
    req.seq = ++this.enqueued
    this.pending.push(req)
    if (!this.running) {
      this.running = true
      // Start on a microtask so calls made in the same tick share the first group.
      queueMicrotask(() => void this.drain())
    }
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const group = this.take()
        try {
          const retry = await commitGroup(this.stream, group, this.writeBuffer)
          if (retry.length > 0) this.pending.unshift(...retry)
          // Encoded and written, or failed for good: their payloads are read no more.
          for (const r of group) if (r.type === 'append' && !retry.includes(r)) this.stream.ctx.payloadBuffers.give(r.payloads)
        } catch (err) {
          for (const r of group) r.reject(err) // never expected: commitGroup settles its own
        }
        this.advanceSettled()
      }
    } finally {
      this.running = false
      this.advanceSettled()
      const w = this.idleWaiters
      this.idleWaiters = []
      for (const f of w) f()
    }
  }

  /** Pending calls are in seq order and none is in flight here: all before the first pending settled. */
  private advanceSettled(): void {
    this.settledUpTo = this.pending.length > 0 ? this.pending[0].seq - 1 : this.enqueued
    if (this.barriers.length === 0) return
    const ready = this.barriers.filter((b) => b.seq <= this.settledUpTo)
    if (ready.length === 0) return
    this.barriers = this.barriers.filter((b) => b.seq > this.settledUpTo)
    for (const b of ready) b.resolve()
  }

  private take(): Request[] {
    const budget = Math.min(MAX_GROUP_BYTES, this.stream.ctx.options.maxSegmentBytes)
    let bytes = 0
    let n = 0
    for (const r of this.pending) {
      const size = r.type === 'append' ? r.payloads.length + r.lengths.length * RECORD_OVERHEAD : RECORD_OVERHEAD + 40
      if (n > 0 && bytes + size > budget) break
      bytes += size
      n++
    }
    return this.pending.splice(0, n)
  }
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

/** Commits a group; returns the calls to plan again (in order, before anything queued since). */
async function commitGroup(stream: Stream, group: Request[], writeBuffer: WriteBuffer): Promise<Request[]> {
  if (stream.corrupt !== null) {
    const c = stream.corrupt
    // SPEC §3: appends to a damaged stream fail with ERR_CORRUPT, whatever the damage was (a bad
    // frame or a broken link); the kind found is in the message and in details.damage.
    const err = new ChainlogError('ERR_CORRUPT', `stream ${stream.name} is damaged at offset ${c.offset} (${c.code}: ${c.reason}); appends are refused until it is repaired`, {
      stream: stream.name, offset: c.offset, position: c.position, damage: c.code,
    })
    for (const r of group) r.reject(err)
    return []
  }
  if (stream.broken !== null) {
    for (const r of group) r.reject(stream.broken)
    return []
  }
  const { core, hash, options } = stream.ctx
  const every = options.checkpointEvery
  try {
    // Only appends consult the policy; a checkpoint (say, at close) must not depend on the look-back.
    if (every !== false && group.some((r) => r.type === 'append')) await stream.loadPolicyState(every)
  } catch (err) {
    for (const r of group) r.reject(err)
    return []
  }

  // ---- plan: conditions in call order, against the head as it will be ----
  let nextOffset = stream.nextOffset
  let head = stream.headHash
  let lastTs = stream.lastTimestamp
  let since = stream.sinceCheckpoint ?? 0
  let dirty = stream.dirtySinceCheckpoint
  let lastCheckpoint: number | null = null
  let planned = 0
  const parts: Buffer[] = []
  // Record positions per encodeBatch call, each from its start `at` within the write.
  const positionParts: Array<{ positions: Float64Array; at: number }> = []
  // Chain hashes per encoded part (N × 32 bytes each, or only the last when no call ends inside
  // the part), found by record number: no per-record views.
  const hashParts: Array<Buffer | null> = []
  const lastHashes: Buffer[] = []
  const hashPartStarts: number[] = []
  let encoded = 0
  let total = 0
  // The appends of the current encodeBatch call, each with its timestamp; records = their count.
  let run: { first: number; prev: Buffer; reqs: AppendRequest[]; timestamps: number[]; records: number } | null = null

  // Every record of the group fits here (checkpoints due included), so the parts land end to end.
  let records = 0
  let bound = 0
  for (const r of group) if (r.type === 'append') (records += r.lengths.length), (bound += r.payloads.length + r.lengths.length * RECORD_OVERHEAD)
  const checkpointsBound = group.length + (every === false ? 0 : Math.ceil(records / every) + 1)
  const buffer = writeBuffer.get(bound + checkpointsBound * CHECKPOINT_RECORD_BYTES)
  const into = () => buffer?.subarray(total)
  let contiguous = buffer !== undefined

  const push = (r: EncodeBatchResult) => {
    if (r.bytes.buffer !== buffer?.buffer || r.bytes.byteOffset !== buffer.byteOffset + total) contiguous = false
    positionParts.push({ positions: r.positions, at: total })
    hashParts.push(r.hashes)
    lastHashes.push(r.lastHash)
    hashPartStarts.push(encoded)
    encoded += r.positions.length
    parts.push(r.bytes)
    total += r.bytes.length
    head = r.lastHash
  }
  const flushRun = () => {
    if (run === null) return
    const { reqs, records } = run
    // Typed arrays filled per call, not per record (a batch of 1000 events is one call).
    let payloads = reqs[0].payloads
    let lengths = reqs[0].lengths
    const timestamps = new Float64Array(records)
    if (reqs.length === 1) timestamps.fill(run.timestamps[0])
    else {
      payloads = Buffer.concat(reqs.map((q) => q.payloads))
      lengths = new Uint32Array(records)
      for (let i = 0, at = 0; i < reqs.length; at += reqs[i].lengths.length, i++) {
        lengths.set(reqs[i].lengths, at)
        timestamps.fill(run.timestamps[i], at, at + reqs[i].lengths.length)
      }
    }
    const r = core.encodeBatch({
      hash, stream: stream.name, firstOffset: run.first, prevHash: run.prev, kind: KIND_DATA, codec: options.codec, level: options.level,
      // With one call in the run, the only hash asked for is the run's last (lastHash).
      payloads, lengths, timestamps, wantHashes: reqs.length > 1, into: into(),
    })
    run = null
    push(r)
  }
  const addCheckpoint = () => {
    flushRun()
    push(encodeCheckpoint(core, hash, stream.name, nextOffset, head, lastTs, into()))
    lastCheckpoint = nextOffset
    if (nextOffset === 0) lastTs = 0
    nextOffset++
    planned++
    since = 0
    dirty = false
  }

  const outcomes: Outcome[] = []
  try {
    for (const req of group) {
      if (req.type === 'checkpoint') {
        if (req.onlyIfDirty && !dirty) {
          outcomes.push({ req, error: null, offset: null, endRecord: -1 })
          continue
        }
        const offset = nextOffset
        addCheckpoint()
        outcomes.push({ req, error: null, offset, endRecord: planned - 1 })
        continue
      }
      const n = req.lengths.length
      if (req.expectedOffset !== undefined && req.expectedOffset !== nextOffset) {
        outcomes.push({ req, error: conflict(stream.name, `expected offset ${req.expectedOffset}, the stream's next offset is ${nextOffset}`, nextOffset, req.expectedOffset), provisional: planned > 0 })
        continue
      }
      if (req.expectedHash !== undefined) {
        flushRun()
        if (!head.equals(req.expectedHash)) {
          outcomes.push({
            req,
            error: conflict(stream.name, `expected head hash ${req.expectedHash.toString('hex')}, the stream's head (next offset ${nextOffset}) is ${head.toString('hex')}`, nextOffset, req.expectedOffset),
            provisional: planned > 0,
          })
          continue
        }
      }
      if (req.timestamp !== undefined && req.timestamp < lastTs) {
        outcomes.push({ req, error: new ChainlogError('ERR_INVALID_ARGUMENT', `timestamp: expected at least ${lastTs} (the stream's last timestamp), got ${req.timestamp}`, { stream: stream.name }), provisional: planned > 0 })
        continue
      }
      if (nextOffset + n - 1 > MAX_SAFE) {
        outcomes.push({ req, error: new ChainlogError('ERR_INVALID_ARGUMENT', `stream ${stream.name}: ${n} records after offset ${nextOffset} would pass 2^53 − 1`, { stream: stream.name }), provisional: planned > 0 })
        continue
      }
      // The clock never goes backwards within a stream: clamp to the last timestamp.
      const ts = req.timestamp ?? Math.max(Date.now(), lastTs)
      if (run === null) run = { first: nextOffset, prev: head, reqs: [], timestamps: [], records: 0 }
      run.reqs.push(req)
      run.timestamps.push(ts)
      run.records += n
      const first = nextOffset
      nextOffset += n
      planned += n
      lastTs = ts
      since += n
      dirty = true
      if (checkpointDue(since, every)) addCheckpoint()
      outcomes.push({ req, error: null, first, last: first + n - 1, next: nextOffset, endRecord: planned - 1 })
    }
    flushRun()
  } catch (err) {
    // An encoder failure (say, an unavailable codec) fails the whole group; nothing is written.
    const decided = new Map<Request, unknown>(outcomes.map((o) => [o.req, o.error]))
    for (const r of group) r.reject(decided.get(r) ?? err)
    return []
  }

  const accepted = outcomes.filter((o) => o.error === null && 'endRecord' in o && o.endRecord >= 0)
  if (total > 0) {
    const bytes = parts.length === 1 ? parts[0] : contiguous ? buffer!.subarray(0, total) : Buffer.concat(parts, total)
    const sync = accepted.some((o) => o.req.sync)
    let seg
    try {
      seg = await stream.prepareWrite(total)
    } catch (err) {
      const e = ioError(err, `stream ${stream.name}: cannot prepare the segment for ${total} bytes`, { stream: stream.name })
      return failWrite(outcomes, e)
    }
    const goodLength = seg.size
    try {
      await writeFully(seg.handle!, bytes, goodLength)
      if (sync) await stream.datasyncChecked(seg.handle!)
    } catch (err) {
      await stream.rollback(seg, goodLength)
      const e = ioError(err, `stream ${stream.name}: write of ${total} bytes at position ${goodLength} of ${seg.path} failed and was rolled back`, {
        stream: stream.name, position: goodLength,
      })
      return failWrite(outcomes, e)
    }
    stream.commitWrite(seg, positionParts, total, sync)
    seg.nextOffset = nextOffset
    stream.nextOffset = nextOffset
    stream.headHash = head
    stream.lastTimestamp = lastTs
    stream.sinceCheckpoint = since
    stream.dirtySinceCheckpoint = dirty
    if (lastCheckpoint !== null) {
      stream.lastCheckpoint = lastCheckpoint
      stream.learnCheckpoint(lastCheckpoint, nextOffset - 1)
    }
  }
  let part = 0
  const hashOf = (record: number): Buffer => {
    while (part + 1 < hashPartStarts.length && hashPartStarts[part + 1] <= record) part++ // outcomes come in record order
    const end = part + 1 < hashPartStarts.length ? hashPartStarts[part + 1] : encoded
    if (record === end - 1) return Buffer.from(lastHashes[part])
    const at = (record - hashPartStarts[part]) * 32
    return Buffer.from(hashParts[part]!.subarray(at, at + 32))
  }
  for (const o of outcomes) {
    if (o.error !== null) o.req.reject(o.error)
    else if (o.req.type === 'append') {
      const a = o as Extract<Outcome, { first: number }>
      a.req.resolve({ firstOffset: a.first, lastOffset: a.last, nextOffset: a.next, hash: hashOf(a.endRecord) })
    } else {
      const c = o as Extract<Outcome, { offset: number | null }>
      c.req.resolve(c.offset === null ? null : { offset: c.offset, hash: hashOf(c.endRecord) })
    }
  }
  if (total > 0) {
    stream.wake()
    const yieldNow = stream.maybeWriteBehind()
    stream.maybePersistIndex()
    if (yieldNow) await new Promise((resolve) => setImmediate(resolve)) // lets the last write-behind's end be seen
  }
  return []
}

function conflict(stream: string, message: string, nextOffset: number, expectedOffset: number | undefined): ChainlogError {
  return new ChainlogError('ERR_OFFSET_CONFLICT', `stream ${stream}: ${message}; nothing was written`, { stream, offset: nextOffset, expectedOffset, nextOffset })
}
