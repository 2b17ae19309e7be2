/**
 * Random `get` with verify 'checkpoint' through the verified-hash cache (engine/verified-hashes.ts):
 * the interval holding an offset is verified once, from its checkpoint; then each get decodes only
 * its own record and checks its recomputed hash (and its prev_hash) against the verified chain.
 */
import { FORM_REDACTED, KIND_CHECKPOINT, KIND_TOMBSTONE, type DecodedRecord } from '../core/interface.ts'
import { HASH_BYTES, MAX_PAYLOAD_BYTES, ZERO_HASH } from '../core/format.ts'
import { ChainlogError } from '../errors.ts'
import type { Segment } from '../engine/segment.ts'
import type { Stream } from '../engine/stream.ts'
import { MAX_VERIFIED_HASH_BYTES, VerifiedInterval } from '../engine/verified-hashes.ts'
import { segmentFileName } from '../storage/segment-file.ts'
import type { LogRecord } from '../types.ts'
import { RecordCursor } from './cursor.ts'

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
  const at = await s.locate(offset)
  if (at === null) return FALLBACK
  const { segment: seg, position: pos, end: endPos } = at
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
  const at = s.locateIfLoaded(offset)
  if (at === undefined) return MISS
  if (at === null) return FALLBACK
  const { segment: seg, position: pos, end: endPos } = at
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
  const linked = offset > interval.start ? interval.matches(offset - 1, d.prevHash) : anchor < 0 ? d.prevHash.equals(s.pruned?.prevHash ?? ZERO_HASH) : true
  if (!linked) return FALLBACK // the plain path reports the broken link
  if (!interval.matches(offset, d.hash)) {
    s.verified.clear()
    throw new ChainlogError('ERR_CHAIN_BROKEN', `stream ${s.name}: the record at offset ${offset} (position ${pos} of ${segmentFileName(seg.num)}) no longer has the hash verified for it`, {
      stream: s.name, offset, position: pos,
    })
  }
  if (d.kind === KIND_CHECKPOINT) return undefined
  const record: LogRecord = {
    offset,
    timestamp: d.timestamp,
    kind: d.kind === KIND_TOMBSTONE ? 'tombstone' : 'data',
    payload: d.payload,
    hash: d.hash,
    prevHash: d.prevHash,
  }
  if (d.form === FORM_REDACTED) record.redacted = true
  return record
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
  const start = Math.max(anchor, s.firstOffset) // −1: the stream's start (after a prune, its first kept offset)
  const span = every === false ? offset + 1 - start : Math.max(every + FILL_SLACK_RECORDS, offset + 1 - start)
  const end = Math.min(s.nextOffset, start + span)
  // An interval that could not be kept is not built (its hashes would cost 32 bytes a record, say
  // from offset 0 with no checkpoint): the caller's bounded cursor path reads it chunk by chunk.
  if ((end - start) * HASH_BYTES > MAX_VERIFIED_HASH_BYTES) return null
  const v = known ?? new VerifiedInterval(start, end - start)
  const cursor = v.count > 0 ? RecordCursor.resume(s, v.end, Buffer.from(v.hashAt(v.end - 1)), end) : new RecordCursor(s, start, 'checkpoint')
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
