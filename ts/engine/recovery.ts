/**
 * Open-time recovery of a stream's tail (SPEC §3 "open / recovery"). The active segment is
 * validated from its last indexed record to end of file, so the cost is O(tail), and the chain
 * head and next offset are taken from the records found, never from the manifest.
 *
 * What a bad record at position P means, and what is done about it:
 *
 * | the record at P                              | a valid record after P? | decision   | action                                         |
 * |----------------------------------------------|-------------------------|------------|------------------------------------------------|
 * | incomplete (file ends inside it)             | no                      | torn tail  | truncate to P, report, warn (synced later *)   |
 * | bad START / CRC / END / length               | no                      | torn tail  | truncate to P, report, warn (synced later *)   |
 * | incomplete or bad framing                    | yes                     | corruption | keep every byte; reads up to P; appends ERR_CORRUPT |
 * | well framed, wrong offset/timestamp/shape    | (not asked)             | corruption | as above                                       |
 * | well framed, broken prev link (chain)        | (not asked)             | corruption | as above (ERR_CHAIN_BROKEN)                    |
 * | any                                          | any, read-only open     | —          | nothing written; the view ends at P            |
 * | in a sealed segment                          | any                     | —          | never truncated here; reads and verify report it |
 *
 * (*) The cut is made durable by the segment's next fdatasync (an append under sync 'always',
 * flush, rotation or close), not at open: an fdatasync at open would also write out every page
 * the crashed writer left unsynced (up to a whole segment under sync 'never'), and a cut that a
 * power loss undoes only brings back the same torn bytes, which the next open cuts again. No
 * acknowledged record depends on it: appends after the cut are acknowledged under 'always' only
 * after an fdatasync that covers the cut too.
 *
 * Batches are atomic (SPEC §2): after the rule above, a tail whose last valid record has bit 7
 * of its kind set (its append call continues) ends in an incomplete batch, never acknowledged.
 * The segment is cut after its last record with bit 7 clear (reason 'incomplete batch'; a
 * read-only open only ends its view there), walking back through the index when the batch began
 * before the scanned tail. Damage (corruption) cuts nothing, as above, and the view then ends
 * at the damage (the batch it lies in may have been whole and acknowledged).
 *
 * A trailing segment file with no valid record at all (a crash right after a rotation created
 * it) is dropped, and the segment before it becomes the tail again and is validated the same way.
 */
import { KIND_BATCH_CONTINUES, KIND_CHECKPOINT, type ChainlogCore, type HashAlgorithm } from '../core/interface.ts'
import { INDEX_CRC_BYTES, INDEX_ENTRY_BYTES, INDEX_HEADER_BYTES, loadIndex, PositionList } from '../storage/offset-index.ts'
import { scanRange, type RangeScan } from '../storage/segment-scan.ts'
import type { Segment } from './segment.ts'
import type { Storage, StorageFile } from '../storage/storage.ts'
import type { RecoveryEvent } from '../types.ts'
import { AT_KIND } from '../core/format.ts'
import { assert } from '../assert.ts'

export interface CorruptMark {
  code: 'ERR_CORRUPT' | 'ERR_CHAIN_BROKEN'
  /** First offset that cannot be read (the offset of the bad record, or where it should be). */
  offset: number
  segment: number
  position: number
  reason: string
}

export interface TailRecovery {
  index: PositionList
  /** Entries before the tail came from the `.idx` file: checked in shape, not each against the data. */
  indexFromDisk: boolean
  /** Validated length of the segment (after any truncation). */
  size: number
  nextOffset: number
  count: number
  lastTimestamp: number | null
  lastHash: Buffer | null
  /** Offset of the last checkpoint seen in the validated tail, or null. */
  lastCheckpoint: number | null
  corrupt: CorruptMark | null
  event: RecoveryEvent | null
}

export interface TailInput {
  core: ChainlogCore
  hash: HashAlgorithm
  stream: string
  segment: Segment
  storage: Storage
  handle: StorageFile
  fileSize: number
  /** false for read-only opens and for a segment that is followed by other data. */
  mayTruncate: boolean
  /**
   * Hash and timestamp of the record before the segment (the previous segment's last; null when
   * unknown), asked for only when the scan starts at the segment's first byte, so its first
   * record's prev link is checked like every other.
   */
  recordBefore?: () => Promise<{ hash: Buffer; timestamp: number } | null>
}

export async function recoverTail(input: TailInput): Promise<TailRecovery> {
  const { core, segment, handle, fileSize } = input
  const crc = (d: Uint8Array) => core.crc32(d)
  const loaded = await loadIndex(input.storage, segment.indexPath, fileSize, crc)
  let index = loaded?.ok ? loaded.positions : new PositionList()
  let indexFromDisk = index.length > 1
  // Entries of the file past the segment's length were dropped by loadIndex (the segment was cut
  // since the index was saved); the file also counts them.
  let stale = loaded?.ok === true && (await indexFileEntries(input.storage, segment.indexPath)) > index.length
  let scan: TailScan = await scanTail(input, index)
  if (scan.count === 0 && index.length > 0 && scan.outcome !== 'end') {
    // The last indexed position does not hold the record the index promised: the index is
    // wrong, not the data. Validate the whole segment instead.
    index = new PositionList()
    indexFromDisk = false
    stale = true
    scan = await scanTail(input, index)
  }
  if (stale && input.mayTruncate) {
    // Appends would refill the bytes the stale entries point into and make them look valid
    // again (verify would then report the index as damage): drop the file; the next persist
    // writes it from the validated positions.
    await input.storage.remove(segment.indexPath).catch(() => {})
  }
  let cut: { position: number; bytes: number; reason: string } | null = null
  const damage = scan.outcome === 'corrupt' || scan.outcome === 'chain' ? scan : null
  if (scan.lastContinues && damage === null) {
    // An incomplete batch: the view ends after the last record with bit 7 clear. (Before damage
    // the batch may have been whole and acknowledged: reads go up to the damage, as before; repair
    // cuts at a batch boundary.)
    const entry = scan.lastBatchEnd >= 0 ? scan.lastBatchEnd + 1 : await batchStartBefore(input, index, scan.firstScannedEntry)
    const position = entry < index.length ? index.at(entry) : 0
    const found = scan.outcome === 'end' ? fileSize : scan.stopPosition
    cut = { position, bytes: fileSize - position, reason: scan.outcome === 'torn' ? `${scan.reason}; before it, an incomplete batch` : 'incomplete batch' }
    index.truncate(entry)
    scan = await scanTail({ ...input, fileSize: position }, index)
    assert(scan.outcome === 'end' && !scan.lastContinues && scan.validEnd === position && found >= position, 'a cut after a batch end leaves a clean tail')
    // The .idx on disk may list records past the cut: a cache, rebuilt from the validated positions.
    if (input.mayTruncate && damage === null) await input.storage.remove(segment.indexPath).catch(() => {})
  }
  const last = scan.lastCheckpointSeen
  const base = {
    index, indexFromDisk, count: index.length, nextOffset: scan.nextOffset ?? segment.firstOffset,
    lastTimestamp: scan.lastTimestamp, lastHash: scan.lastHash, lastCheckpoint: last,
  }
  if (cut !== null && damage === null) {
    if (!input.mayTruncate) return { ...base, size: cut.position, corrupt: null, event: null }
    await handle.truncate(cut.position)
    const event: RecoveryEvent = {
      stream: input.stream, segment: segment.num, action: 'truncated', position: cut.position, offset: base.nextOffset, bytes: cut.bytes, reason: cut.reason,
    }
    return { ...base, size: cut.position, corrupt: null, event }
  }
  if (scan.outcome === 'end' && damage === null) return { ...base, size: fileSize, corrupt: null, event: null }
  if (scan.outcome === 'torn') {
    if (!input.mayTruncate) return { ...base, size: scan.stopPosition, corrupt: null, event: null }
    await handle.truncate(scan.stopPosition)
    const event: RecoveryEvent = {
      stream: input.stream, segment: segment.num, action: 'truncated', position: scan.stopPosition, offset: scan.nextOffset,
      bytes: fileSize - scan.stopPosition, reason: scan.reason,
    }
    return { ...base, size: scan.stopPosition, corrupt: null, event }
  }
  const bad = damage ?? scan
  const corrupt: CorruptMark = {
    code: bad.outcome === 'chain' ? 'ERR_CHAIN_BROKEN' : 'ERR_CORRUPT',
    offset: scan.nextOffset ?? segment.firstOffset, segment: segment.num, position: bad.stopPosition,
    reason: cut === null ? bad.reason : `${bad.reason} (after an incomplete batch from position ${cut.position})`,
  }
  const event: RecoveryEvent = {
    stream: input.stream, segment: segment.num, action: 'corrupt', position: bad.stopPosition, offset: corrupt.offset,
    bytes: fileSize - bad.stopPosition, reason: corrupt.reason,
  }
  return { ...base, size: cut?.position ?? bad.stopPosition, corrupt, event }
}

interface TailScan extends RangeScan {
  lastCheckpointSeen: number | null
  /** Index entry of the first record scanned. */
  firstScannedEntry: number
  /** Index entry of the last scanned record with bit 7 clear (a batch end), or -1. */
  lastBatchEnd: number
  /** The last valid record has bit 7 set: its batch is incomplete. */
  lastContinues: boolean
}

/** Scans from the last entry of `index` (which it drops and re-adds) to end of file. */
async function scanTail(input: TailInput, index: PositionList): Promise<TailScan> {
  const { segment } = input
  const startEntry = Math.max(index.length - 1, 0)
  const start = index.length > 0 ? index.at(startEntry) : 0
  index.truncate(startEntry)
  let lastCheckpointSeen: number | null = null
  let lastBatchEnd = -1
  let lastContinues = false
  const before = start === 0 && input.recordBefore !== undefined ? await input.recordBefore() : null
  const scan = await scanRange(input.core, input.handle, {
    hash: input.hash, stream: input.stream, start, end: input.fileSize, firstOffset: segment.firstOffset + startEntry,
    prevHash: before?.hash ?? null, prevTimestamp: before?.timestamp ?? null, verifyChain: true,
    onRecords: (r) => {
      for (let k = 0; k < r.count; k++) {
        index.push(r.positions[k])
        if (r.kinds[k] === KIND_CHECKPOINT) lastCheckpointSeen = r.offsets[k]
        lastContinues = (r.kinds[k] & KIND_BATCH_CONTINUES) !== 0
        if (!lastContinues) lastBatchEnd = index.length - 1
      }
    },
  })
  return { ...scan, lastCheckpointSeen, firstScannedEntry: startEntry, lastBatchEnd, lastContinues }
}

/**
 * The index entry where the batch running into the scanned tail began: after the last record
 * before entry `before` whose kind byte has bit 7 clear (read one byte per record, walking back),
 * or 0 when every record before it continues a batch.
 */
async function batchStartBefore(input: TailInput, index: PositionList, before: number): Promise<number> {
  for (let e = before - 1; e >= 0; e--) {
    const kind = await input.handle.read(index.at(e) + AT_KIND, 1)
    if (kind.length === 1 && (kind[0] & KIND_BATCH_CONTINUES) === 0) return e + 1
  }
  return 0
}

/** Number of entries an index file claims by its size (0 when it cannot be read). */
async function indexFileEntries(storage: Storage, path: string): Promise<number> {
  try {
    const size = (await storage.fileSize(path)) ?? 0
    return Math.max(0, Math.floor((size - INDEX_HEADER_BYTES - INDEX_CRC_BYTES) / INDEX_ENTRY_BYTES))
  } catch {
    return 0
  }
}
