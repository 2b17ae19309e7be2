/**
 * The sequential cursor over a stream's records: seek with the offset index, decode one bounded
 * chunk per core call (core.decodeRecordsAsync, never per record), and verify the chain from an
 * anchor: 'checkpoint' = the nearest checkpoint at or before `from` (O(distance)), 'genesis' =
 * offset 0, 'none' = CRCs only. Checkpoint records are skipped. Used by read, iterate and get.
 */
import { FORM_REDACTED, KIND_CHECKPOINT, KIND_TOMBSTONE, type DecodeResult } from '../core/interface.ts'
import { AT_OFFSET, AT_PREV_HASH, HASH_BYTES, MAX_PAYLOAD_BYTES, RECORD_START, ZERO_HASH } from '../core/format.ts'
import { ChainlogError } from '../errors.ts'
import { checkpointPayloadMatches } from '../engine/checkpoint.ts'
import type { LogRecord, VerifyMode } from '../types.ts'
import { readAgainAfterRewrite } from './rewrite-retry.ts'
import { segmentFileName } from '../storage/segment-file.ts'
import type { Segment } from '../engine/segment.ts'
import type { PositionList } from '../storage/offset-index.ts'
import type { Stream } from '../engine/stream.ts'
import { prunedError } from '../engine/retention.ts'

/** Bytes of segment decoded per core call: bounds the memory of iterate and of each read step. */
const READ_CHUNK_BYTES = 1024 * 1024
const PREV_HASH_END = AT_PREV_HASH + HASH_BYTES

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
    if (this.from < s.firstOffset) throw prunedError(s, this.from)
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
    // The chain's start: offset 0, or after a prune the first kept record, which links to pruned.json's prevHash.
    this.offset = s.firstOffset
    this.expectPrev = s.pruned?.prevHash ?? ZERO_HASH
  }

  /**
   * The data records of the next chunk below `end` (maybe none, if the chunk held only
   * checkpoints or records before `from`); null once `end` is reached.
   */
  async next(end: number): Promise<LogRecord[] | null> {
    const { started, offset, expectPrev, anchor } = this
    return readAgainAfterRewrite(this.stream, () => this.nextChunk(end), () => {
      Object.assign(this, { started, offset, expectPrev, anchor })
      this.ahead = []
    })
  }

  private async nextChunk(end: number): Promise<LogRecord[] | null> {
    if (!this.started) {
      if (this.from >= end) return null // nothing to read yet: anchor once there is
      await this.start()
    }
    if (this.offset >= end) return null
    // A prune removed the records this cursor was about to read (an iterator overtaken by it).
    if (this.offset < this.stream.firstOffset) throw prunedError(this.stream, this.offset)
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
    return r?.firstPrev.equals(hash) === true
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
      expectPrevHash: this.verify === 'none' ? null : data.subarray(AT_PREV_HASH, PREV_HASH_END),
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
      const at = await s.locate(offset)
      if (at === null) {
        throw new ChainlogError('ERR_CORRUPT', `stream ${s.name}: offset ${offset} is not readable in ${segmentFileName(s.segmentFor(offset).num)}, so the record before it cannot be confirmed`, { stream: s.name, offset })
      }
      const header = await s.readSegment(at.segment, at.position, PREV_HASH_END)
      const found = header.readBigUInt64LE(AT_OFFSET)
      if (header.readUInt32LE(0) !== RECORD_START || found !== BigInt(offset)) {
        throw new ChainlogError('ERR_CORRUPT', `stream ${s.name}: the record at position ${at.position} of ${segmentFileName(at.segment.num)} is not offset ${offset}, so the record before it cannot be confirmed`, {
          stream: s.name, offset, position: at.position,
        })
      }
      next = header.subarray(AT_PREV_HASH, PREV_HASH_END)
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
    const expectPrev = this.verify === 'none' ? null : anchored ? data.subarray(AT_PREV_HASH, PREV_HASH_END) : this.expectPrev
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
      const record: LogRecord = {
        offset,
        timestamp: d.timestamps[k],
        kind: d.kinds[k] === KIND_TOMBSTONE ? 'tombstone' : 'data',
        payload: d.payloads.subarray(payloadStart, d.payloadEnds[k]),
        hash: d.hashes.subarray(k * HASH_BYTES, (k + 1) * HASH_BYTES),
        prevHash: d.prevHashes.subarray(k * HASH_BYTES, (k + 1) * HASH_BYTES),
      }
      if (d.forms[k] === FORM_REDACTED) record.redacted = true
      out.push(record)
    }
    const last = (d.count - 1) * HASH_BYTES
    return { out, count: d.count, lastHash: Buffer.from(d.hashes.subarray(last, last + HASH_BYTES)), lastPrev: Buffer.from(d.prevHashes.subarray(last, last + HASH_BYTES)) }
  }
}

/** A core's error for the record at `offset`, saying which record and where (the core knows only positions). */
function damagedRecord(s: Stream, segment: number, offset: number, position: number, err: ChainlogError): ChainlogError {
  if (err.details.offset !== undefined) return err
  return new ChainlogError(err.code, `stream ${s.name}: the record at offset ${offset} (${segmentFileName(segment)}, position ${position}) is damaged: ${err.message}`, {
    stream: s.name, offset, segment, position, cause: err,
  })
}
