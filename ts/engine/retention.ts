/**
 * Retention (SPEC §9): dropping a stream's oldest sealed segments, explicitly (`log.prune`) or by
 * the `retention` option's policy. The order makes a crash at any step harmless:
 *
 * 1. the Merkle tree's tiles are brought up to the stream and fsynced (below the first kept offset
 *    they become the only copy of those leaves; the caller passes that step in, as the tree's
 *    leaves are read through ts/read/);
 * 2. `<stream>/pruned.json` is written atomically: { firstOffset, firstSegment, prevHash, prevTimestamp };
 * 3. the segments and their indexes are deleted, the directory fsynced, the manifest rewritten.
 *
 * A crash before 2 leaves the stream as it was (plus durable tiles); after 2, open deletes the
 * segments left below firstSegment. The active segment is never pruned.
 */
import { ChainlogError } from '../errors.ts'
import { writePruned, type PrunedState } from '../storage/pruned-file.ts'
import { assert } from '../assert.ts'
import type { Segment } from './segment.ts'
import type { Stream } from './stream.ts'

/** What a prune dropped (nothing: segments 0 and firstOffset unchanged). */
export interface PruneOutcome {
  /** The stream's first offset after the prune. */
  firstOffset: number
  /** Segments deleted. */
  segments: number
  /** Bytes of the segments deleted. */
  bytes: number
}

/** Makes the tree's tiles cover every record and fsyncs those below `firstOffset` (and the upper levels). */
export type TilePreparer = (s: Stream, firstOffset: number) => Promise<void>

/** The `retention` policy of a stream (LogOptions.retention). */
export interface RetentionPolicy {
  maxBytes?: number
  maxAgeMs?: number
  /** Only segments an attached Archiver's HEAD lists as sealed (Stream.archivedSegments) may go. */
  requireArchived?: boolean
}

/** ERR_PRUNED for an offset below a pruned stream's first kept offset. */
export function prunedError(s: Stream, offset: number): ChainlogError {
  return new ChainlogError('ERR_PRUNED', `stream ${s.name}: offset ${offset} was pruned; the stream starts at offset ${s.firstOffset}`, {
    stream: s.name, offset, firstOffset: s.firstOffset,
  })
}

/** Prunes and redactions in flight per stream: one at a time (an explicit prune and the policy may race). */
const running = new WeakMap<Stream, Promise<unknown>>()

/**
 * Runs `task` after the prunes and redactions of `s` queued before it, and holds later ones until
 * it ends: a redaction rewrites a sealed segment that a prune could otherwise delete under it.
 */
export function exclusiveOfPrunes<T>(s: Stream, task: () => Promise<T>): Promise<T> {
  const run = (running.get(s) ?? Promise.resolve()).then(task, task)
  running.set(s, run.catch(() => {}))
  return run
}

/** The sealed segments a prune `before` an offset drops: the leading ones whose next offset is ≤ it. */
export function segmentsBefore(s: Stream, before: number): Segment[] {
  const sealed = s.segments.slice(0, -1)
  let n = 0
  while (n < sealed.length && sealed[n].nextOffset <= before) n++
  return sealed.slice(0, n)
}

/** Prunes the sealed segments whose records all lie below `before`; returns what went. */
export function pruneBefore(s: Stream, before: number, prepareTiles: TilePreparer): Promise<PruneOutcome> {
  return exclusiveOfPrunes(s, async () => dropLeading(s, segmentsBefore(s, before).length, prepareTiles))
}

/**
 * Applies a retention policy: the oldest sealed segments go while the stream's bytes exceed
 * `maxBytes` or their last record is older than `maxAgeMs` (by its timestamp, against `now`);
 * with `requireArchived`, only segments the archive holds, and never past the first it lacks.
 */
export function applyRetention(s: Stream, policy: RetentionPolicy, prepareTiles: TilePreparer, now: number): Promise<PruneOutcome> {
  return exclusiveOfPrunes(s, async () => {
    if (s.corrupt !== null) return nothingPruned(s)
    const sealed = s.segments.slice(0, -1)
    let total = s.segments.reduce((n, seg) => n + seg.size, 0)
    // Without an archiver that has written HEAD since open, nothing counts as archived.
    const archivedBelow = policy.requireArchived === true ? s.archivedSegments : Infinity
    let n = 0
    for (const seg of sealed) {
      if (seg.num >= archivedBelow) break
      let drop = policy.maxBytes !== undefined && total > policy.maxBytes
      if (!drop && policy.maxAgeMs !== undefined) drop = (await s.lastRecordOf(seg)).timestamp < now - policy.maxAgeMs
      if (!drop) break
      total -= seg.size
      n++
    }
    return dropLeading(s, n, prepareTiles)
  })
}

function nothingPruned(s: Stream): PruneOutcome {
  return { firstOffset: s.firstOffset, segments: 0, bytes: 0 }
}

/** Drops the first `count` segments of the stream (all sealed), in the crash-safe order above. */
async function dropLeading(s: Stream, count: number, prepareTiles: TilePreparer): Promise<PruneOutcome> {
  if (count === 0) return nothingPruned(s)
  const gone = s.segments.slice(0, count)
  const last = gone[gone.length - 1]
  const keptFirst = s.segments[count]
  assert(count < s.segments.length && gone.every((seg) => seg !== s.active), 'a prune drops sealed segments only')
  const before = await s.lastRecordOf(last)
  const state: PrunedState = { firstOffset: last.nextOffset, firstSegment: keptFirst.num, prevHash: before.hash, prevTimestamp: before.timestamp }
  await prepareTiles(s, state.firstOffset)
  // No journal entry may name a segment about to go (open would skip it, with a reason).
  await s.ctx.journal?.checkpoint()
  await writePruned(s.ctx.storage, s.dir, state)
  const bytes = gone.reduce((n, seg) => n + seg.size, 0)
  await s.dropPrunedSegments(state, gone)
  return { firstOffset: state.firstOffset, segments: gone.length, bytes }
}
