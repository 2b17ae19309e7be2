/**
 * Reading records of a stream: seek with the offset index, decode one bounded chunk per core call
 * (core.decodeRecordsAsync, never per record), and verify the chain from an anchor:
 * 'checkpoint' = the nearest checkpoint at or before `from` (O(distance)), 'genesis' = offset 0,
 * 'none' = CRCs only. Checkpoint records are skipped. Used by read, get and iterate.
 */
import { KIND_CHECKPOINT, KIND_TOMBSTONE, type DecodedRecord, type DecodeResult } from './core/interface.ts'
import { HASH_BYTES, MAX_PAYLOAD_BYTES, RECORD_START } from './core/format.ts'
import { ChainlogError } from './errors.ts'
import { checkpointPayloadMatches } from './checkpoint.ts'
import type { LogRecord, VerifyMode } from './options.ts'
import { segmentFileName, type Segment } from './segment.ts'
import type { PositionList } from './offset-index.ts'
import { ZERO_HASH, type Stream } from './stream.ts'
import { MAX_VERIFIED_HASH_BYTES, VerifiedInterval } from './verified-hashes.ts'

/** Bytes of segment decoded per core call: bounds the memory of iterate and of each read step. */
export const READ_CHUNK_BYTES = 1024 * 1024
/** Bytes of a record header read to learn its timestamp (START, offset, timestamp). */
const TIMESTAMP_PROBE_BYTES = 20
/** Where a record header holds its prev_hash (after START, offset and timestamp). */
const PREV_HASH_START = 20
const PREV_HASH_END = PREV_HASH_START + HASH_BYTES

interface Chunk {
  out: LogRecord[]
  count: number
  lastHash: Buffer | null
  /** The last record's prev_hash: the hash of the record before it. */
  lastPrev: Buffer | null
}

/** A chunk decoded ahead: records [offset, end), its first record's prev_hash, the decode result. */
interface AheadChunk {
  offset: number
  end: number
  result: Promise<Decoded>
}

/** A chunk decoded ahead; its records are built when it is taken (fewer young objects alive meanwhile). */
interface Decoded {
  seg: Segment
  positions: Float64Array
  firstPrev: Buffer
  d: DecodeResult
}

/**
 * Chunks read and decoded ahead of the one handed out (prefetch): two keep both cores busy on the
 * 2-core machine the benchmarks run on (the pool decodes one while the other is read or decoded).
 */
const AHEAD_CHUNKS = 2

/** A position in a stream's chain, advanced chunk by chunk. */
export class RecordCursor {
  private offset = 0
  private expectPrev: Buffer | null = null
  /** Offset of the checkpoint the chain is anchored on, checked when it is decoded. */
  private anchor: number | null = null
  private started = false
  /** Sees every decoded chunk (verified unless verify is 'none'): `first` is its first offset. */
  onChunk: ((first: number, d: DecodeResult) => void) | null = null

  /**
   * Chunks after this.offset being read and decoded ahead (prefetch only), in order. Each is
   * decoded on its own, checking only the links inside it; its first prev_hash is compared with
   * the chain when it is taken (see takeAhead). Up to AHEAD_CHUNKS more chunks of memory.
   */
  private ahead: AheadChunk[] = []

  /**
   * prefetch: read and decode the next chunks while the caller consumes this one (the native core
   * hashes on the libuv pool, several chunks at once), and confirm a chunk's last hash with the
   * next chunk's first prev_hash instead of reading that header again.
   */
  constructor(
    private readonly stream: Stream,
    private readonly from: number,
    private readonly verify: VerifyMode,
    private readonly prefetch = false,
  ) {}

  /** The next offset to decode: every record before it was handed out (or skipped) confirmed. */
  get position(): number {
    return this.offset
  }

  /** A cursor that goes on from a verified chain position: `prevHash` is the hash of offset − 1. */
  static resume(stream: Stream, offset: number, prevHash: Buffer, from: number): RecordCursor {
    const c = new RecordCursor(stream, from, 'checkpoint')
    c.started = true
    c.offset = offset
    c.expectPrev = prevHash
    return c
  }

  /** Where verification must start for `from`. */
  private async start(): Promise<void> {
    this.started = true
    const s = this.stream
    if (this.verify === 'none') {
      this.offset = this.from
      return
    }
    if (this.verify === 'checkpoint') {
      const c = await s.checkpointAtOrBefore(this.from)
      if (c !== null) {
        this.offset = c
        this.anchor = c
        return
      }
    }
    this.offset = 0
    this.expectPrev = ZERO_HASH
  }

  /**
   * The data records of the next chunk below `end` (maybe none, if the chunk held only
   * checkpoints or records before `from`); null once `end` is reached.
   */
  async next(end: number): Promise<LogRecord[] | null> {
    if (!this.started) {
      if (this.from >= end) return null // nothing to read yet: anchor once there is
      await this.start()
    }
    if (this.offset >= end) return null
    const { out, count, lastHash, lastPrev } = (await this.takeAhead()) ?? (await this.load(end))
    this.offset += count
    if (this.prefetch) this.planAhead(end)
    if (this.verify !== 'none') {
      // The chunk's links confirm every hash in it but the last: the next record's prev_hash (or
      // the head hash at the stream's end) must confirm that one before the chunk is handed out.
      try {
        if (!(await this.confirmedAhead(lastHash!))) await this.confirm(lastHash!)
        this.expectPrev = lastHash
      } catch (err) {
        // The next record is unreadable: hand out the records its predecessor's link confirms;
        // the next call decodes the last one again and fails on it.
        if (count < 2 || !(err instanceof ChainlogError) || err.code !== 'ERR_CORRUPT') throw err
        this.offset -= 1
        this.expectPrev = lastPrev
        this.ahead = []
        if (out.length > 0 && out[out.length - 1].offset === this.offset) out.pop()
      }
    }
    return out
  }

  /**
   * The chunk decoded ahead for this.offset, if it decoded cleanly and its first record links to
   * the chain (its prev_hash is the hash confirmed last); null otherwise, and everything read ahead
   * is dropped: the caller then reads this chunk again the ordinary way, which reports any damage
   * exactly as a reader without prefetch would.
   */
  private async takeAhead(): Promise<Chunk | null> {
    const a = this.ahead[0]
    if (a === undefined) return null
    if (a.offset !== this.offset) {
      this.ahead = []
      return null
    }
    this.ahead.shift()
    const r = await a.result.catch(() => null)
    if (r === null || (this.verify !== 'none' && (this.expectPrev === null || !r.firstPrev.equals(this.expectPrev)))) {
      this.ahead = []
      return null
    }
    let chunk: Chunk
    try {
      chunk = this.collect(r.seg, a.offset, r.positions, r.d, false)
    } catch {
      this.ahead = []
      return null
    }
    this.onChunk?.(a.offset, r.d)
    return chunk
  }

  /** Whether the chunk decoded ahead at this.offset decoded cleanly and links to `hash` (then no header read is needed). */
  private async confirmedAhead(hash: Buffer): Promise<boolean> {
    const a = this.ahead[0]
    if (a === undefined || a.offset !== this.offset) return false
    const r = await a.result.catch(() => null)
    return r !== null && r.firstPrev.equals(hash)
  }

  /**
   * Starts reading and decoding the chunks after the last one planned, up to AHEAD_CHUNKS, below
   * `end`. Only where the segment's index is in memory; otherwise the ordinary path loads it.
   */
  private planAhead(end: number): void {
    const s = this.stream
    let at = this.ahead.length > 0 ? this.ahead[this.ahead.length - 1].end : this.offset
    while (this.ahead.length < AHEAD_CHUNKS && at < end) {
      const seg = s.segmentFor(at)
      const index = s.indexIfLoaded(seg)
      if (index === null) break
      const i = at - seg.firstOffset
      const limit = Math.min(Math.min(end, seg.nextOffset) - seg.firstOffset, index.length)
      if (i >= limit) break
      const j = index.chunkEnd(i, limit, seg.size, READ_CHUNK_BYTES)
      const startPos = index.at(i)
      const endPos = j < index.length ? index.at(j) : seg.size
      const positions = Float64Array.from(index.slice(i, j))
      const result = this.decodeAhead(seg, at, startPos, endPos, positions)
      result.catch(() => {}) // a failed chunk is read again by the ordinary path, which reports it
      this.ahead.push({ offset: at, end: at + (j - i), result })
      at += j - i
    }
  }

  /** Reads and decodes one chunk ahead, checking the links inside it only (from its own first prev_hash). */
  private async decodeAhead(seg: Segment, first: number, startPos: number, endPos: number, positions: Float64Array): Promise<Decoded> {
    const s = this.stream
    const data = await s.readSegment(seg, startPos, endPos - startPos)
    const d = await s.core.decodeRecordsAsync({
      hash: s.hash, stream: s.name, data, basePosition: startPos, positions,
      expectPrevHash: this.verify === 'none' ? null : data.subarray(PREV_HASH_START, PREV_HASH_END),
      payloadsFrom: Math.max(0, this.from - first), maxPayloadBytes: MAX_PAYLOAD_BYTES,
    })
    return { seg, positions, firstPrev: Buffer.from(d.prevHashes.subarray(0, HASH_BYTES)), d }
  }

  /**
   * Checks that `hash` (of the record at this.offset − 1) is the one the chain continues from: the
   * prev_hash in the header of the record at this.offset, or the stream's head hash when that
   * record is the last. Without it a changed record whose CRC was fixed would be returned whenever
   * it is the last one read (a limit, a get, a chunk's or the stream's end).
   */
  private async confirm(hash: Buffer): Promise<void> {
    const s = this.stream
    const offset = this.offset
    let next: Buffer
    if (offset >= s.nextOffset) next = s.headHash
    else {
      const seg = s.segmentFor(offset)
      const index = await s.indexOf(seg)
      const i = offset - seg.firstOffset
      if (i >= index.length) {
        throw new ChainlogError('ERR_CORRUPT', `stream ${s.name}: offset ${offset} is not readable in ${segmentFileName(seg.num)}, so the record before it cannot be confirmed`, { stream: s.name, offset })
      }
      const header = await s.readSegment(seg, index.at(i), PREV_HASH_END)
      const found = header.readBigUInt64LE(4)
      if (header.readUInt32LE(0) !== RECORD_START || found !== BigInt(offset)) {
        throw new ChainlogError('ERR_CORRUPT', `stream ${s.name}: the record at position ${index.at(i)} of ${segmentFileName(seg.num)} is not offset ${offset}, so the record before it cannot be confirmed`, {
          stream: s.name, offset, position: index.at(i),
        })
      }
      next = header.subarray(PREV_HASH_START, PREV_HASH_END)
    }
    if (!next.equals(hash)) {
      // Named at the successor, as verify does: its link (or the head) disagrees with the chain.
      const after = offset >= s.nextOffset ? "the stream's head is" : `the record at offset ${offset} links to`
      throw new ChainlogError('ERR_CHAIN_BROKEN', `stream ${s.name}: the record at offset ${offset - 1} hashes to ${hash.toString('hex')}, but ${after} ${next.toString('hex')}`, {
        stream: s.name, offset,
      })
    }
  }

  /** Reads and decodes the chunk at this.offset (below `end`), repairing an untrusted index once. */
  private async load(end: number): Promise<Chunk> {
    const s = this.stream
    const seg = s.segmentFor(this.offset)
    let index = await s.indexOf(seg)
    let out: LogRecord[] | null = null
    let count = 0
    let lastHash: Buffer | null = null
    let lastPrev: Buffer | null = null
    try {
      ;({ out, count, lastHash, lastPrev } = await this.decodeChunk(seg, index, end, Infinity))
    } catch (err) {
      if (!(err instanceof ChainlogError) || err.code !== 'ERR_CORRUPT') throw err
      if (await s.repairIndex(seg, index)) {
        // An index read from disk may be wrong where its CRC is right: rebuilt, try once more.
        index = await s.indexOf(seg)
        ;({ out, count, lastHash, lastPrev } = await this.decodeChunk(seg, index, end, Infinity))
      } else {
        // Damaged data: return the records before the bad one; the next call fails on it.
        const bad = await this.firstBadPosition(seg, index, end)
        const at = index.at(this.offset - seg.firstOffset)
        if (bad <= at) throw damagedRecord(s, seg.num, this.offset, at, err)
        ;({ out, count, lastHash, lastPrev } = await this.decodeChunk(seg, index, end, bad))
      }
    }
    return { out: out!, count, lastHash, lastPrev }
  }

  /** Where the records of the next chunk stop being valid (one scan call over the chunk). */
  private async firstBadPosition(seg: Segment, index: PositionList, end: number): Promise<number> {
    const s = this.stream
    const i = this.offset - seg.firstOffset
    const limit = Math.min(Math.min(end, seg.nextOffset) - seg.firstOffset, index.length)
    const j = index.chunkEnd(i, limit, seg.size, READ_CHUNK_BYTES)
    const startPos = index.at(i)
    const endPos = j < index.length ? index.at(j) : seg.size
    const data = await s.readSegment(seg, startPos, endPos - startPos)
    const r = await s.core.scanSegmentAsync({
      hash: s.hash, stream: s.name, data, basePosition: startPos, firstOffset: this.offset, prevHash: null, prevTimestamp: null,
      verifyChain: true, final: true,
    })
    return r.stop === 'end' ? startPos : r.stopPosition
  }

  /** Decodes the records from this.offset up to `end`, at most a chunk, and only those starting before `stopBefore`. */
  private async decodeChunk(seg: Segment, index: PositionList, end: number, stopBefore: number): Promise<{ out: LogRecord[]; count: number; lastHash: Buffer; lastPrev: Buffer }> {
    const s = this.stream
    const i = this.offset - seg.firstOffset
    const limit = Math.min(Math.min(end, seg.nextOffset) - seg.firstOffset, index.length)
    if (i >= limit) {
      throw new ChainlogError('ERR_CORRUPT', `stream ${s.name}: offset ${this.offset} is not readable in ${segmentFileName(seg.num)} (${index.length} valid records from offset ${seg.firstOffset})`, {
        stream: s.name, offset: this.offset,
      })
    }
    let j = index.chunkEnd(i, limit, seg.size, READ_CHUNK_BYTES)
    while (j > i + 1 && index.at(j - 1) >= stopBefore) j--
    const startPos = index.at(i)
    const endPos = j < index.length ? index.at(j) : seg.size
    const data = await s.readSegment(seg, startPos, endPos - startPos)
    const positions = Float64Array.from(index.slice(i, j))
    const anchored = this.anchor !== null && this.anchor === this.offset
    // Anchored on a checkpoint: its own prev_hash starts the chain (its payload is checked below).
    const expectPrev = this.verify === 'none' ? null : anchored ? data.subarray(20, 20 + HASH_BYTES) : this.expectPrev
    const d = await s.core.decodeRecordsAsync({
      hash: s.hash, stream: s.name, data, basePosition: startPos, positions, expectPrevHash: expectPrev,
      payloadsFrom: anchored ? 0 : Math.max(0, this.from - this.offset), maxPayloadBytes: MAX_PAYLOAD_BYTES,
    })
    const chunk = this.collect(seg, this.offset, positions, d, anchored) as { out: LogRecord[]; count: number; lastHash: Buffer; lastPrev: Buffer }
    this.onChunk?.(this.offset, d)
    return chunk
  }

  /** The data records of a decoded chunk starting at offset `first` (checking offsets, and the anchor's payload when `anchored`). */
  private collect(seg: Segment, first: number, positions: Float64Array, d: DecodeResult, anchored: boolean): Chunk {
    const s = this.stream
    const out: LogRecord[] = []
    for (let k = 0; k < d.count; k++) {
      const offset = first + k
      if (d.offsets[k] !== offset) {
        throw new ChainlogError('ERR_CORRUPT', `stream ${s.name}: the record at position ${positions[k]} of ${segmentFileName(seg.num)} has offset ${d.offsets[k]}, expected ${offset}`, {
          stream: s.name, offset, position: positions[k],
        })
      }
      const payloadStart = k === 0 ? 0 : d.payloadEnds[k - 1]
      if (anchored && k === 0) {
        const payload = d.payloads.subarray(payloadStart, d.payloadEnds[0])
        if (d.kinds[0] !== KIND_CHECKPOINT || !checkpointPayloadMatches(payload, d.prevHashes.subarray(0, HASH_BYTES), offset)) {
          throw new ChainlogError('ERR_CHAIN_BROKEN', `stream ${s.name}: the checkpoint anchor at offset ${offset} does not hold its own prev_hash and offset`, { stream: s.name, offset })
        }
      }
      if (d.kinds[k] === KIND_CHECKPOINT || offset < this.from) continue
      out.push({
        offset,
        timestamp: d.timestamps[k],
        kind: d.kinds[k] === KIND_TOMBSTONE ? 'tombstone' : 'data',
        payload: d.payloads.subarray(payloadStart, d.payloadEnds[k]),
        hash: d.hashes.subarray(k * HASH_BYTES, (k + 1) * HASH_BYTES),
        prevHash: d.prevHashes.subarray(k * HASH_BYTES, (k + 1) * HASH_BYTES),
      })
    }
    const last = (d.count - 1) * HASH_BYTES
    return { out, count: d.count, lastHash: Buffer.from(d.hashes.subarray(last, last + HASH_BYTES)), lastPrev: Buffer.from(d.prevHashes.subarray(last, last + HASH_BYTES)) }
  }
}

/** ERR_CORRUPT for a reader that reached a stream's damage. */
export function damageError(s: Stream): ChainlogError {
  const c = s.corrupt!
  return new ChainlogError(c.code, `stream ${s.name}: the record at offset ${c.offset} (${segmentFileName(c.segment)}, position ${c.position}) is damaged: ${c.reason}`, {
    stream: s.name, offset: c.offset, position: c.position,
  })
}

/** A core's error for the record at `offset`, saying which record and where (the core knows only positions). */
function damagedRecord(s: Stream, segment: number, offset: number, position: number, err: ChainlogError): ChainlogError {
  if (err.details.offset !== undefined) return err
  return new ChainlogError(err.code, `stream ${s.name}: the record at offset ${offset} (${segmentFileName(segment)}, position ${position}) is damaged: ${err.message}`, {
    stream: s.name, offset, segment, position, cause: err,
  })
}

/** First offset whose timestamp is ≥ `time` (nextOffset if none): binary search, O(log n) header reads. */
export async function offsetAtTime(s: Stream, time: number): Promise<number> {
  let lo = 0
  let hi = s.nextOffset
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2)
    if ((await timestampAt(s, mid)) >= time) hi = mid
    else lo = mid + 1
  }
  return lo
}

async function timestampAt(s: Stream, offset: number): Promise<number> {
  const seg = s.segmentFor(offset)
  const index = await s.indexOf(seg)
  const i = offset - seg.firstOffset
  if (i >= index.length) {
    throw new ChainlogError('ERR_CORRUPT', `stream ${s.name}: offset ${offset} is not readable in ${segmentFileName(seg.num)}`, { stream: s.name, offset })
  }
  const header = await s.readSegment(seg, index.at(i), TIMESTAMP_PROBE_BYTES)
  const found = header.readBigUInt64LE(4)
  if (found !== BigInt(offset)) {
    throw new ChainlogError('ERR_CORRUPT', `stream ${s.name}: the record at position ${index.at(i)} has offset ${found}, expected ${offset}`, { stream: s.name, offset })
  }
  return Number(header.readBigUInt64LE(12))
}

/** Records verified per interval fill beyond the policy's interval (a fill stops at the next checkpoint). */
const FILL_SLACK_RECORDS = 1

/**
 * `get` with verify 'checkpoint' through the verified-hash cache (ts/verified-hashes.ts): the
 * interval holding `offset` is verified once, from its checkpoint; then each get decodes only its
 * own record and checks its recomputed hash (and its prev_hash) against the verified chain. Returns
 * `fallback` when the cache cannot answer (say, an interval too large to cache, or damage: the
 * plain path then reports it as before).
 */
export async function getVerified(s: Stream, offset: number): Promise<LogRecord | undefined | typeof FALLBACK> {
  const c = await s.checkpointAtOrBefore(offset)
  const anchor = c ?? -1
  let v: VerifiedInterval | null | undefined = s.verified.get(anchor)
  if (v === undefined || offset >= v.end) {
    v = await fillInterval(s, anchor, v, offset)
    if (v === null) return FALLBACK
  }
  const seg = s.segmentFor(offset)
  const index = await s.indexOf(seg)
  const i = offset - seg.firstOffset
  if (i >= index.length) return FALLBACK
  const pos = index.at(i)
  const endPos = i + 1 < index.length ? index.at(i + 1) : seg.size
  let data: Buffer
  try {
    data = s.readSegmentSync(seg, pos, endPos - pos) ?? (await s.readSegment(seg, pos, endPos - pos))
  } catch (err) {
    if (err instanceof ChainlogError && err.code === 'ERR_CORRUPT') return FALLBACK
    throw err
  }
  return checkAgainstInterval(s, v, anchor, offset, seg, pos, data)
}

/**
 * getVerified without a single await, when everything it needs is already in memory: the
 * checkpoint at or before `offset` (learned by earlier searches), a verified interval holding it,
 * the segment's index, and an open read handle. The record's bytes are still read from the file
 * now (one synchronous pread of that record) and its hash recomputed and compared, exactly as in
 * getVerified; only the promise hops around it are gone. MISS: take the async path.
 *
 * The synchronous pread blocks the event loop for one small read. That is what an embedded store
 * is expected to do for a point lookup (a page-cache hit costs about a microsecond, less than the
 * round trip through libuv's pool, 20-50 µs); a cold read from a slow disk blocks for that disk's
 * latency, which a caller doing random gets on such a disk pays either way.
 */
export function getVerifiedCached(s: Stream, offset: number): LogRecord | undefined | typeof FALLBACK | typeof MISS {
  const c = s.checkpointKnown(offset)
  if (c === undefined) return MISS
  const anchor = c ?? -1
  const v = s.verified.get(anchor)
  if (v === undefined || offset >= v.end) return MISS
  const seg = s.segmentFor(offset)
  const index = s.indexIfLoaded(seg)
  if (index === null) return MISS
  const i = offset - seg.firstOffset
  if (i >= index.length) return FALLBACK
  const pos = index.at(i)
  const endPos = i + 1 < index.length ? index.at(i + 1) : seg.size
  const data = s.readSegmentSync(seg, pos, endPos - pos)
  if (data === null) return MISS
  return checkAgainstInterval(s, v, anchor, offset, seg, pos, data)
}

/** Decodes the one record in `data` and checks its recomputed hash against the verified interval. */
function checkAgainstInterval(s: Stream, interval: VerifiedInterval, anchor: number, offset: number, seg: Segment, pos: number, data: Buffer): LogRecord | undefined | typeof FALLBACK {
  let d: DecodedRecord
  try {
    d = s.core.decodeOne({ hash: s.hash, stream: s.name, data, basePosition: pos, position: pos, expectPrevHash: null, maxPayloadBytes: MAX_PAYLOAD_BYTES })
  } catch (err) {
    if (err instanceof ChainlogError && err.code === 'ERR_CORRUPT') return FALLBACK
    throw err
  }
  if (d.offset !== offset) return FALLBACK
  // Its link: the cached hash before it (or zeros at the stream start); compared in place.
  const linked = offset > interval.start ? interval.matches(offset - 1, d.prevHash) : anchor < 0 ? d.prevHash.equals(ZERO_HASH) : true
  if (!linked) return FALLBACK // the plain path reports the broken link
  if (!interval.matches(offset, d.hash)) {
    s.verified.clear()
    throw new ChainlogError('ERR_CHAIN_BROKEN', `stream ${s.name}: the record at offset ${offset} (position ${pos} of ${segmentFileName(seg.num)}) no longer has the hash verified for it`, {
      stream: s.name, offset, position: pos,
    })
  }
  if (d.kind === KIND_CHECKPOINT) return undefined
  return {
    offset,
    timestamp: d.timestamp,
    kind: d.kind === KIND_TOMBSTONE ? 'tombstone' : 'data',
    payload: d.payload,
    hash: d.hash,
    prevHash: d.prevHash,
  }
}

export const FALLBACK: unique symbol = Symbol('fallback')
/** getVerifiedCached: not everything is in memory; use getVerified. */
export const MISS: unique symbol = Symbol('miss')

/**
 * Verifies the interval anchored at `anchor` (−1: the stream start) far enough to hold `offset`:
 * from the anchor, or on from what `known` already verified, up to the next checkpoint (or the
 * policy's interval, or the stream's end). Null when the interval cannot be cached.
 */
async function fillInterval(s: Stream, anchor: number, known: VerifiedInterval | undefined, offset: number): Promise<VerifiedInterval | null> {
  const every = s.ctx.options.checkpointEvery
  const start = anchor < 0 ? 0 : anchor
  const span = every === false ? offset + 1 - start : Math.max(every + FILL_SLACK_RECORDS, offset + 1 - start)
  const end = Math.min(s.nextOffset, start + span)
  // An interval that could not be kept is not built (its hashes would cost 32 bytes a record, say
  // from offset 0 with no checkpoint): the caller's bounded cursor path reads it chunk by chunk.
  if ((end - start) * HASH_BYTES > MAX_VERIFIED_HASH_BYTES) return null
  const v = known ?? new VerifiedInterval(start, end - start)
  const cursor = v.count > 0 ? RecordCursor.resume(s, v.end, Buffer.from(v.hashAt(v.end - 1)), end) : new RecordCursor(s, anchor < 0 ? 0 : anchor, 'checkpoint')
  let done = false
  // A chunk's last hash is confirmed only once cursor.next returns (the next record's prev_hash or
  // the head hash): held here until then, and dropped if that fails.
  let unconfirmed: Buffer | null = null
  cursor.onChunk = (first, d) => {
    if (done || first !== v.end) return
    let n = d.count
    for (let k = 0; k < d.count; k++) {
      if (d.kinds[k] === KIND_CHECKPOINT && first + k > start) {
        n = k
        done = true // the next interval starts here; the checkpoint's link confirms the hashes before it
        break
      }
    }
    if (n === d.count) {
      v.push(d.hashes, 0, n - 1)
      unconfirmed = Buffer.from(d.hashes.subarray((n - 1) * HASH_BYTES, n * HASH_BYTES))
    } else v.push(d.hashes, 0, n)
  }
  // The fresh cursor anchors itself (checkpointAtOrBefore(anchor) is the anchor itself).
  try {
    while (!done && v.end < end && (await cursor.next(end)) !== null) {
      if (unconfirmed !== null && cursor.position > v.end) v.push(unconfirmed, 0, 1) // not held back
      unconfirmed = null
    }
  } catch (err) {
    // Damage further on: what was verified before it stays usable; the plain path reports the rest.
    if (!(err instanceof ChainlogError) || (err.code !== 'ERR_CORRUPT' && err.code !== 'ERR_CHAIN_BROKEN')) throw err
  }
  if (v.count === 0) return null
  // Every hash pushed lies before the next checkpoint: no checkpoint in (anchor, v.end − 1], so
  // the later gets of this interval find their anchor without a search (getVerifiedCached).
  s.learnCheckpoint(anchor, v.end - 1)
  s.verified.set(anchor, v)
  return offset < v.end ? v : null
}
