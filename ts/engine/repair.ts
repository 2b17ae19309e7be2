/**
 * Repair of a wedged stream (SPEC §9): recovery marked the stream damaged at the end of its
 * active segment (valid-looking records after bad bytes, so it could not call them a torn tail)
 * and refuses appends. Repair moves the bytes from the cut to the end of that segment into
 * `<stream>/quarantine/<segment>.<position>.bin`, durably, and only then cuts the segment there.
 * The cut is after the last whole batch before the damage (walking back from the tail's validated
 * length through the index while records carry bit 7), so no part of a batch stays. Nothing is deleted.
 *
 * Refusals: damage in a sealed segment (ERR_UNSUPPORTED: cutting there would drop the sealed
 * segments after it); records past the cut that were published (ERR_CHAIN_BROKEN: reusing their
 * offsets would fork the log). Here published means a checkpoint record past the cut (what a
 * reader is given to pin the log); Log.repair also refuses a cut below the last published tree
 * head (`<stream>/checkpoint` or the state file), see docs/format.md §9.
 */
import { ChainlogError } from '../errors.ts'
import { ioError } from '../storage/durable.ts'
import { quarantinePath, writeQuarantine } from '../storage/quarantine.ts'
import { segmentFileName } from '../storage/segment-file.ts'
import { KIND_BATCH_CONTINUES, KIND_CHECKPOINT, KIND_MASK } from '../core/interface.ts'
import { AT_KIND, AT_LENGTH, RECORD_OVERHEAD } from '../core/format.ts'
import type { RepairResult } from '../types.ts'
import type { Stream } from './stream.ts'
import type { StorageFile } from '../storage/storage.ts'

/** What repair would do to `s` (nothing changed): a no-op result for a healthy stream, else the cut; refusals throw. */
export async function planRepair(s: Stream): Promise<RepairResult> {
  const c = s.corrupt
  if (c === null) return { stream: s.name, repaired: false, reason: 'the stream is healthy: nothing to repair', segment: null, position: null, offset: null, bytes: 0, quarantine: null }
  const seg = s.active
  if (seg === undefined || c.segment !== seg.num) {
    throw new ChainlogError('ERR_UNSUPPORTED', `stream ${s.name}: the damage is in sealed segment ${segmentFileName(c.segment)}, not at the end of the active one; repair cannot cut there (${c.reason})`, {
      stream: s.name, offset: c.offset, segment: c.segment, position: c.position,
    })
  }
  const fileSize = await withFile(s, seg.path, (f) => f.size())
  // The cut: after the last whole batch before the damage (bit 7 clear), walking back the index.
  const index = seg.index
  let entry = index?.length ?? 0
  if (index !== null && entry > 0) {
    entry = await withFile(s, seg.path, async (f) => {
      let e = entry
      while (e > 0 && ((await f.read(index.at(e - 1) + AT_KIND, 1))[0] & KIND_BATCH_CONTINUES) !== 0) e--
      return e
    })
  }
  const cutAt = index !== null && entry < index.length ? index.at(entry) : seg.size
  const bytes = fileSize - cutAt
  if (bytes <= 0) {
    throw new ChainlogError('ERR_UNSUPPORTED', `stream ${s.name}: the damage (${c.reason}) is not bytes at the end of ${segmentFileName(seg.num)}; repair cannot fix it`, {
      stream: s.name, offset: c.offset, segment: c.segment, position: c.position,
    })
  }
  const tail = await withFile(s, seg.path, (f) => f.read(cutAt, bytes))
  const published = checkpointIn(s, tail)
  if (published !== null) {
    throw new ChainlogError('ERR_CHAIN_BROKEN', `stream ${s.name}: a checkpoint (offset ${published}) lies past the cut at position ${cutAt} of ${segmentFileName(seg.num)}: those records may have been published, and reusing their offsets would fork the log; nothing was changed`, {
      stream: s.name, offset: c.offset, segment: seg.num, position: cutAt,
    })
  }
  return {
    stream: s.name, repaired: false, reason: `would move ${bytes} bytes from position ${cutAt} of ${segmentFileName(seg.num)} (the damage: ${c.reason}) to quarantine and cut there`,
    segment: seg.num, position: cutAt, offset: seg.firstOffset + entry, bytes, quarantine: quarantinePath(s.dir, segmentFileName(seg.num), cutAt),
  }
}

/** Carries out `plan` (from planRepair): quarantine file durable first, then the cut, made durable. The caller reopens the stream. */
export async function applyRepair(s: Stream, plan: RepairResult): Promise<RepairResult> {
  if (plan.segment === null || plan.position === null) return plan
  const seg = s.segments.find((x) => x.num === plan.segment)!
  const { storage } = s.ctx
  const tail = await withFile(s, seg.path, (f) => f.read(plan.position!, plan.bytes))
  const quarantine = await writeQuarantine(storage, s.dir, segmentFileName(seg.num), plan.position, tail)
  // No journal entry may name bytes the cut removes (a reopen would write them back).
  await s.ctx.journal?.checkpoint()
  try {
    const f = await storage.open(seg.path, 'update')
    try {
      await f.truncate(plan.position)
      await f.datasync()
    } finally {
      await f.close()
    }
    // The index may list records past the cut: a cache, rebuilt at the reopen.
    await storage.remove(seg.indexPath)
    await storage.syncDir(s.dir)
  } catch (err) {
    throw ioError(err, `stream ${s.name}: cannot cut ${seg.path} at ${plan.position} (its bytes past the cut are safe in ${quarantine})`, { stream: s.name })
  }
  return { ...plan, repaired: true, reason: `moved ${plan.bytes} bytes from position ${plan.position} of ${segmentFileName(seg.num)} to ${quarantine}`, quarantine }
}

/** The offset of a checkpoint record framed anywhere in `tail` (valid frames only), or null. */
function checkpointIn(s: Stream, tail: Buffer): number | null {
  for (let at = 0; at < tail.length; ) {
    const found = s.core.findValidRecord({ data: tail.subarray(at), basePosition: at, final: true })
    if (found.state !== 'found') return null
    at = found.position // absolute within tail
    if ((tail[at + AT_KIND] & KIND_MASK) === KIND_CHECKPOINT) return Number(tail.readBigUInt64LE(at + 4))
    at += RECORD_OVERHEAD + tail.readUInt32LE(at + AT_LENGTH)
  }
  return null
}

async function withFile<T>(s: Stream, path: string, fn: (f: StorageFile) => Promise<T>): Promise<T> {
  let f: StorageFile
  try {
    f = await s.ctx.storage.open(path, 'read')
  } catch (err) {
    throw ioError(err, `cannot open ${path}`, { stream: s.name })
  }
  try {
    return await fn(f)
  } finally {
    await f.close()
  }
}
