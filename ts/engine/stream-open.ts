/**
 * Opening a stream directory: the segment list from the directory listing and the segments' first
 * records (the manifest only fills gaps), then tail recovery of the last segment (recovery.ts).
 * The result is a value the Stream takes over (Stream.applyOpen); nothing here changes a Stream.
 */
import { join } from 'node:path'
import type { ChainlogCore, HashAlgorithm } from '../core/interface.ts'
import { AT_PREV_HASH, HASH_BYTES, ZERO_HASH } from '../core/format.ts'
import { ChainlogError } from '../errors.ts'
import { ioError, isTempFile } from '../storage/durable.ts'
import { manifestOf, readManifest, writeManifest, type Manifest } from '../storage/manifest.ts'
import type { PositionList } from '../storage/offset-index.ts'
import { listSegmentNumbers, segmentFileName, segmentPath, withSegmentReader } from '../storage/segment-file.ts'
import type { Storage, StorageFile } from '../storage/storage.ts'
import type { RecoveryEvent } from '../types.ts'
import { recoverTail, type CorruptMark } from './recovery.ts'
import { readPruned, type PrunedState } from '../storage/pruned-file.ts'
import { Segment } from './segment.ts'
import type { StoreContext } from './store-context.ts'

/** Bytes read to find the first offset of a segment. */
const FIRST_RECORD_PROBE_BYTES = 64 * 1024

/** What opening needs from the stream being opened. */
export interface OpenHost {
  readonly ctx: StoreContext
  readonly name: string
  readonly dir: string
  /** Hash and timestamp of the last record of a sealed segment (through the stream's index cache and read handles). */
  lastRecordOf(seg: Segment): Promise<{ hash: Buffer; timestamp: number }>
}

/** What open found: the segments (the last one with its writer handle when writable), the head, and any damage. */
export interface OpenedStream {
  segments: Segment[]
  nextOffset: number
  headHash: Buffer
  lastTimestamp: number
  /** The last checkpoint the tail scan saw; undefined: not in the scanned tail (looked up later). */
  lastCheckpoint: number | null | undefined
  /** The tail segment's index, when it came from its `.idx` file (not yet checked entry by entry). */
  indexFromFile: PositionList | null
  /** A torn tail was cut and not synced (recovery.ts): the next fdatasync makes it durable. */
  tailUnsynced: boolean
  manifestStale: boolean
  corrupt: CorruptMark | null
  /** Where a pruned stream starts (pruned.json); null: it was never pruned. */
  pruned: PrunedState | null
}

/** Opens the stream directory `host.dir`: what it holds, with the tail recovered (torn tail cut unless read-only). */
export async function recoverStream(host: OpenHost, events: RecoveryEvent[]): Promise<OpenedStream> {
  const { core, readOnly, hash, storage } = host.ctx
  const { name, dir } = host
  const segments: Segment[] = []
  const st: OpenedStream = {
    segments, nextOffset: 0, headHash: ZERO_HASH, lastTimestamp: 0, lastCheckpoint: null, indexFromFile: null, tailUnsynced: false, manifestStale: false,
    corrupt: null, pruned: null,
  }
  if (!readOnly) await removeTempFiles(storage, dir)
  const prunedRead = await readPruned(storage, dir)
  const pruned = prunedRead.state
  st.pruned = pruned
  let structural: string | null = prunedRead.problem
  // A prune deletes its segments after pruned.json is durable: any left below it are leftovers of
  // a prune cut short, finished here (a read-only log leaves them and ignores them).
  const base = pruned?.firstSegment ?? 0
  // The manifest before the listing: a writer creates a segment file before any manifest lists
  // it, so a live writer's rotation between the two reads cannot look like a missing file.
  const { manifest, problem: manifestProblem } = await readManifest(storage, dir)
  const listed = await listSegmentNumbers(storage, dir)
  const leftovers = listed.filter((n) => n < base)
  const nums = listed.filter((n) => n >= base)
  st.manifestStale = manifest === null

  let kept = 0
  while (kept < nums.length && nums[kept] === base + kept) kept++
  const contiguous = base + kept
  if (kept < nums.length) {
    structural ??= `${segmentFileName(nums[kept])} exists but ${segmentFileName(contiguous)} is missing${base > 0 ? ` (${PRUNED_NOTE})` : ''}`
  } else if (kept === 0 && pruned !== null) {
    structural ??= `pruned.json says the stream starts at ${segmentFileName(base)}, which is missing`
  }
  const lost = manifest?.segments.find((m) => m.segment_num >= contiguous && (m.size_bytes > 0 || m.next_offset > m.first_offset))
  if (lost !== undefined && structural === null) {
    structural = `the manifest lists ${segmentFileName(lost.segment_num)} (offsets ${lost.first_offset}..${lost.next_offset}) but its file is missing`
  }

  // Sizes and first offsets, from the files.
  const found: { num: number; size: number; first: number | null }[] = []
  for (let num = base; num < contiguous; num++) {
    const path = segmentPath(dir, num)
    let firstPrev: Buffer | null = null
    const info = await withSegmentReader(storage, path, async (h) => {
      const size = await h.size()
      const first = num === 0 ? 0 : size === 0 ? null : await probeFirstOffset(core, hash, name, h, size)
      if (pruned !== null && num === base && first !== null) firstPrev = (await h.read(AT_PREV_HASH, HASH_BYTES)) as Buffer
      return { num, size, first }
    })
    if (pruned !== null && num === base) {
      // The first kept segment starts where pruned.json says, or one of them was changed.
      if (info.first !== null && info.first !== pruned.firstOffset) structural ??= `pruned.json says the stream starts at offset ${pruned.firstOffset}, ${segmentFileName(num)} starts at ${info.first}`
      // Segments below it are a prune cut short only if the kept start is exactly pruned.json's
      // (offset and link): never delete on the word of a pruned.json that does not fit the files.
      const fits = info.first === pruned.firstOffset && firstPrev !== null && (firstPrev as Buffer).equals(pruned.prevHash)
      if (leftovers.length > 0 && !fits) structural ??= `${leftovers.map(segmentFileName).join(', ')} lie below pruned.json's firstSegment, but ${segmentFileName(num)} does not start where pruned.json says (offset ${pruned.firstOffset}, prevHash ${pruned.prevHash.toString('hex').slice(0, 16)}…): nothing was deleted`
      else if (leftovers.length > 0 && !readOnly) await removePrunedLeftovers(host, leftovers)
      info.first = pruned.firstOffset
    }
    found.push(info)
  }
  // Once a trailing segment is dropped, the tail is a segment that was sealed (synced before the
  // next one was created): it is never truncated (SPEC); bytes past its last record are damage.
  let sealedTail = false
  // Trailing empty files (a crash right after a rotation created one) hold nothing: drop them.
  while (found.length > 1 && found[found.length - 1].size === 0) {
    sealedTail = true
    const gone = found.pop()!
    if (!readOnly) await removeSegmentFile(host, gone.num)
    st.manifestStale = true
  }
  for (let i = 1; i < found.length; i++) {
    const f = found[i]
    if (f.first === null) f.first = manifest?.segments.find((m) => m.segment_num === f.num)?.first_offset ?? null
    if (f.first === null && i === found.length - 1) f.first = await offsetAfter(host, found[i - 1])
    const prevFirst = found[i - 1].first as number
    if (f.size === 0 || f.first === null || f.first <= prevFirst) {
      structural ??= f.size === 0 ? `${segmentFileName(f.num)} is empty but later segments exist` :
        f.first === null ? `the first record of ${segmentFileName(f.num)} is unreadable and no manifest gives its offset` :
        `${segmentFileName(f.num)} starts at offset ${f.first}, not after ${segmentFileName(found[i - 1].num)} (offset ${prevFirst})`
      found.length = i
      break
    }
  }
  for (const f of found) segments.push(new Segment(f.num, segmentPath(dir, f.num), f.first as number, f.size, f.first as number))
  for (let i = 0; i + 1 < segments.length; i++) segments[i].nextOffset = segments[i + 1].firstOffset

  // Tail recovery; a tail segment with no valid record at all is dropped and the one before
  // it becomes the tail.
  while (segments.length > 0) {
    const seg = segments[segments.length - 1]
    const mayTruncate = !readOnly && structural === null && !sealedTail
    const handle = await openSegment(storage, seg.path, readOnly)
    let keepHandle = false // handed to the segment as its writer, or already closed
    try {
      const size = await handle.size()
      const prev = segments.length > 1 ? segments[segments.length - 2] : null
      const recordBefore = prev === null ? undefined : () => host.lastRecordOf(prev).catch(() => null) // damage there is reported by reads and verify
      const rec = await recoverTail({ core, hash, storage, stream: name, segment: seg, handle, fileSize: size, mayTruncate, recordBefore })
      if (rec.event !== null) events.push(rec.event)
      if (sealedTail && rec.corrupt === null && rec.size < size) {
        const reason = `${segmentFileName(seg.num)} was sealed but ends in ${size - rec.size} bytes that are not a whole record (a sealed segment is never cut)`
        rec.corrupt = { code: 'ERR_CORRUPT', offset: rec.nextOffset, segment: seg.num, position: rec.size, reason }
        events.push({ stream: name, segment: seg.num, action: 'corrupt', position: rec.size, offset: rec.nextOffset, bytes: size - rec.size, reason })
      }
      if (rec.count === 0 && rec.corrupt === null && seg.num > base && structural === null) {
        segments.pop()
        sealedTail = true
        if (!readOnly) {
          await handle.close()
          keepHandle = true
          await removeSegmentFile(host, seg.num)
        }
        st.manifestStale = true
        continue
      }
      seg.index = rec.index
      if (rec.indexFromDisk) st.indexFromFile = rec.index
      seg.persistedEntries = 0
      // A torn tail was cut and not synced (ts/recovery.ts): the next fdatasync makes it durable.
      if (rec.event?.action === 'truncated') st.tailUnsynced = true
      seg.size = rec.size
      seg.nextOffset = rec.nextOffset
      st.nextOffset = rec.nextOffset
      st.lastCheckpoint = rec.lastCheckpoint ?? undefined
      if (rec.count > 0) {
        st.headHash = rec.lastHash ?? ZERO_HASH
        st.lastTimestamp = rec.lastTimestamp ?? 0
      } else if (segments.length === 1 && pruned !== null) {
        // Only an empty active segment is kept: the head is the last pruned record.
        st.headHash = pruned.prevHash
        st.lastTimestamp = pruned.prevTimestamp
      } else if (seg.num > 0) {
        const before = segments[segments.length - 2]
        try {
          const prev = await host.lastRecordOf(before)
          st.headHash = prev.hash
          st.lastTimestamp = prev.timestamp
        } catch (err) {
          // The segment before is damaged too: this stream is marked, the store still opens.
          if (!(err instanceof ChainlogError)) throw err
          const reason = `no valid record in ${segmentFileName(seg.num)} and the last record of ${segmentFileName(before.num)} is unreadable: ${err.message}`
          rec.corrupt ??= { code: 'ERR_CORRUPT', offset: rec.nextOffset, segment: seg.num, position: 0, reason }
          if (rec.event === null) events.push({ stream: name, segment: seg.num, action: 'corrupt', position: 0, offset: rec.nextOffset, bytes: size, reason })
        }
      }
      st.corrupt = rec.corrupt
      if (st.corrupt === null && structural !== null) {
        st.corrupt = { code: 'ERR_CORRUPT', offset: st.nextOffset, segment: seg.num, position: seg.size, reason: structural }
        events.push({ stream: name, segment: seg.num, action: 'corrupt', position: seg.size, offset: st.nextOffset, bytes: 0, reason: structural })
      }
      if (!readOnly && st.corrupt === null) {
        seg.handle = handle
        keepHandle = true
      }
    } finally {
      if (!keepHandle) await handle.close()
    }
    break
  }
  if (segments.length === 0 && structural !== null) {
    const offset = pruned?.firstOffset ?? 0
    st.nextOffset = offset
    st.corrupt = { code: 'ERR_CORRUPT', offset, segment: base, position: 0, reason: structural }
    events.push({ stream: name, segment: base, action: 'corrupt', position: 0, offset, bytes: 0, reason: structural })
  }
  if (!readOnly && st.corrupt === null && segments.length > 0 && (st.manifestStale || manifestProblem !== null || !sameSegments(manifest, segments))) {
    await writeManifest(storage, dir, manifestOf(segments))
    st.manifestStale = false
  }
  return st
}

/**
 * The offset after the last valid record of a segment, found like tail recovery (from its last
 * indexed record) but cutting nothing; null if it does not end cleanly. Used when the segment
 * after it has no readable first record and no manifest entry.
 */
async function offsetAfter(host: OpenHost, f: { num: number; size: number; first: number | null }): Promise<number | null> {
  const { core, hash } = host.ctx
  const { name, dir } = host
  if (f.first === null) return null
  const seg = new Segment(f.num, segmentPath(dir, f.num), f.first, f.size, f.first)
  const rec = await withSegmentReader(host.ctx.storage, seg.path, (handle) =>
    recoverTail({ core, hash, storage: host.ctx.storage, stream: name, segment: seg, handle, fileSize: f.size, mayTruncate: false }),
  )
  return rec.corrupt === null && rec.size === f.size ? rec.nextOffset : null
}

/** How a missing segment after a prune reads in a message. */
const PRUNED_NOTE = 'segments below pruned.json\'s firstSegment are pruned; others must exist'

/** Deletes segments (and their indexes) that a prune cut short left below pruned.json's firstSegment. */
async function removePrunedLeftovers(host: OpenHost, nums: number[]): Promise<void> {
  const { storage } = host.ctx
  try {
    for (const num of nums) {
      await storage.remove(segmentPath(host.dir, num))
      await storage.remove(segmentPath(host.dir, num) + '.idx')
    }
    await storage.syncDir(host.dir)
  } catch (err) {
    throw ioError(err, `cannot remove the pruned segments ${nums.map(segmentFileName).join(', ')}`, { stream: host.name })
  }
}

async function removeTempFiles(storage: Storage, dir: string): Promise<void> {
  const entries = await storage.list(dir).catch(() => null)
  for (const e of entries ?? []) if (isTempFile(e.name)) await storage.remove(join(dir, e.name)).catch(() => {})
}

async function removeSegmentFile(host: OpenHost, num: number): Promise<void> {
  const { name, dir } = host
  const { storage } = host.ctx
  const path = segmentPath(dir, num)
  try {
    await storage.remove(path)
    await storage.remove(path + '.idx')
    await storage.syncDir(dir)
  } catch (err) {
    throw ioError(err, `cannot remove the empty segment ${path}`, { stream: name })
  }
}

async function openSegment(storage: Storage, path: string, readOnly: boolean): Promise<StorageFile> {
  try {
    return await storage.open(path, readOnly ? 'read' : 'update')
  } catch (err) {
    throw ioError(err, `cannot open the segment ${path}`)
  }
}

function sameSegments(manifest: Manifest | null, segments: readonly Segment[]): boolean {
  if (manifest === null) return false
  const want = manifestOf(segments)
  return JSON.stringify(want) === JSON.stringify(manifest)
}

/** Offset of a segment's first record (null when it cannot be read), without reading the segment. */
async function probeFirstOffset(core: ChainlogCore, hash: HashAlgorithm, stream: string, handle: StorageFile, size: number): Promise<number | null> {
  let want = Math.min(size, FIRST_RECORD_PROBE_BYTES)
  for (;;) {
    const data = await handle.read(0, want)
    const r = core.scanSegment({
      hash, stream, data, basePosition: 0, firstOffset: null, prevHash: null, prevTimestamp: null, verifyChain: false, final: want >= size,
    })
    if (r.count > 0) return r.offsets[0]
    if (r.stop !== 'partial' || r.needBytes > size || r.needBytes <= want) return null
    want = r.needBytes
  }
}
