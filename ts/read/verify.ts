/**
 * Full verification of a stream (SPEC §3 "verify"): every segment scanned in bounded chunks with
 * the chain checked (framing and CRC, offsets contiguous from 0, prev links, checkpoint payloads),
 * plus agreement of the offset indexes and the manifest with the data. Problems are collected,
 * not thrown; after damage the scan resynchronises at the next valid record so later damage is
 * reported too.
 */
import { KIND_CHECKPOINT } from '../core/interface.ts'
import { manifestOf, readManifest } from '../storage/manifest.ts'
import { loadIndex, PositionList } from '../storage/offset-index.ts'
import type { StreamReport, VerifyProblem } from '../types.ts'
import { scanRange } from '../storage/segment-scan.ts'
import { segmentFileName, withSegmentReader } from '../storage/segment-file.ts'
import type { Segment } from '../engine/segment.ts'
import type { Stream } from '../engine/stream.ts'
import { ZERO_HASH } from '../core/format.ts'

/** Problems reported per stream before verify stops listing them. */
const MAX_PROBLEMS_PER_STREAM = 100

export interface VerifyProgress {
  add(bytes: number): void
}

/** Bytes verify will read for a stream (for progress totals). */
export function bytesToVerify(s: Stream): number {
  return s.segments.reduce((n, seg) => n + seg.size, 0)
}

export async function verifyStream(s: Stream, progress: VerifyProgress): Promise<StreamReport> {
  const problems: VerifyProblem[] = []
  const problem = (p: VerifyProblem) => {
    if (problems.length < MAX_PROBLEMS_PER_STREAM) problems.push(p)
  }
  let records = 0
  let checkpoints = 0
  let expectOffset: number | null = 0
  let prevHash: Buffer | null = ZERO_HASH
  let prevTs: number | null = null
  const segments = [...s.segments]
  // Sizes as committed now: appends made while verify runs are not part of this report.
  const sizes = segments.map((seg) => seg.size)
  const nextOffsets = segments.map((seg) => seg.nextOffset)

  for (const [n, seg] of segments.entries()) {
    const size = sizes[n]
    if (expectOffset !== null && seg.firstOffset !== expectOffset) {
      problem({ offset: expectOffset, code: 'ERR_CORRUPT', message: `${segmentFileName(seg.num)} starts at offset ${seg.firstOffset}, expected ${expectOffset}` })
    }
    const scanned: number[] = []
    let segRecords = 0
    let start = 0
    let done = 0
    await withSegmentReader(s.ctx.storage, seg.path, async (handle) => {
      const onDisk = await handle.size()
      const isActive = n === segments.length - 1
      if (onDisk < size) {
        problem({ offset: null, code: 'ERR_CORRUPT', message: `${segmentFileName(seg.num)} is ${onDisk} bytes, expected ${size}` })
      } else if (!isActive && onDisk > size) {
        problem({ offset: nextOffsets[n], code: 'ERR_CORRUPT', message: `${segmentFileName(seg.num)} has ${onDisk - size} bytes after its last record` })
      }
      // A damaged stream takes no appends: check all of its bytes, not only those before the damage.
      const end = isActive && s.corrupt !== null ? onDisk : Math.min(size, onDisk)
      for (;;) {
        const r = await scanRange(s.core, handle, {
          hash: s.hash, stream: s.name, start, end, firstOffset: expectOffset, prevHash, prevTimestamp: prevTs, verifyChain: true,
          onRecords: (c) => {
            segRecords += c.count
            for (let k = 0; k < c.count; k++) {
              scanned.push(c.positions[k])
              if (c.kinds[k] === KIND_CHECKPOINT) checkpoints++
            }
          },
          onProgress: (pos) => {
            progress.add(pos - done)
            done = pos
          },
        })
        expectOffset = r.nextOffset
        prevHash = r.lastHash
        prevTs = r.lastTimestamp
        if (r.outcome === 'end') break
        problem({
          // The offset the record should have: a damaged record's own offset field may be the damage.
          offset: r.nextOffset ?? r.stopOffset,
          code: r.outcome === 'chain' ? 'ERR_CHAIN_BROKEN' : 'ERR_CORRUPT',
          message: `${segmentFileName(seg.num)}, position ${r.stopPosition}: ${r.outcome === 'torn' ? 'incomplete record at the end: ' : ''}${r.reason}`,
        })
        // Resynchronise after the damage: accept what follows as found, keep checking it.
        const next = r.outcome === 'corrupt' && r.nextValidPosition > r.stopPosition ? r.nextValidPosition : -1
        if (next < 0 || problems.length >= MAX_PROBLEMS_PER_STREAM) {
          expectOffset = null
          prevHash = null
          prevTs = null
          break
        }
        start = next
        expectOffset = null
        prevHash = null
      }
    })
    progress.add(size - done)
    records += segRecords
    const expected = nextOffsets[n] - seg.firstOffset
    if (segRecords !== expected && problems.length === 0) {
      problem({ offset: seg.firstOffset + segRecords, code: 'ERR_CORRUPT', message: `${segmentFileName(seg.num)} holds ${segRecords} valid records, expected ${expected}` })
    }
    await checkIndex(s, seg, scanned, n === segments.length - 1, size, problem)
  }
  if (s.corrupt === null) await checkManifest(s, segments, problem) // else it disagrees with the damage by design
  const head = { nextOffset: expectOffset ?? s.nextOffset, hash: prevHash ?? s.headHash }
  if (problems.length === 0 && expectOffset === s.nextOffset && prevHash !== null && !prevHash.equals(s.headHash)) {
    problem({ offset: s.nextOffset, code: 'ERR_CHAIN_BROKEN', message: `the chain ends in ${prevHash.toString('hex')}, the stream's head is ${s.headHash.toString('hex')}` })
  }
  if (s.corrupt !== null && problems.length === 0) {
    problem({ offset: s.corrupt.offset, code: s.corrupt.code, message: s.corrupt.reason })
  }
  return { stream: s.name, records, checkpoints, head, problems }
}

/** Every entry the index holds (on disk, and in memory for the active segment) must be a scanned position. */
async function checkIndex(s: Stream, seg: Segment, scanned: number[], isActive: boolean, size: number, problem: (p: VerifyProblem) => void): Promise<void> {
  const compare = (what: string, idx: PositionList) => {
    const n = Math.min(idx.length, scanned.length)
    for (let i = 0; i < n; i++) {
      if (idx.at(i) !== scanned[i]) {
        problem({ offset: seg.firstOffset + i, code: 'ERR_CORRUPT', message: `${what} of ${segmentFileName(seg.num)} says position ${idx.at(i)} for offset ${seg.firstOffset + i}, the record is at ${scanned[i]}` })
        return
      }
    }
    if (idx.length > scanned.length) {
      problem({ offset: seg.firstOffset + scanned.length, code: 'ERR_CORRUPT', message: `${what} of ${segmentFileName(seg.num)} lists ${idx.length} records, the segment holds ${scanned.length}` })
    }
  }
  const loaded = await loadIndex(s.ctx.storage, seg.indexPath, size, (d) => s.core.crc32(d))
  // A shorter index is stale (the tail since it was saved), not wrong; a wrong entry is damage.
  if (loaded?.ok) compare('the index file', loaded.positions)
  if (isActive && seg.index !== null) {
    // Appends may have added entries since the sizes were taken: compare the snapshot's part.
    const snapshot = seg.index.slice(0, seg.index.length).filter((p) => p < size)
    compare('the in-memory index', PositionList.from(snapshot))
  }
}

async function checkManifest(s: Stream, segments: Segment[], problem: (p: VerifyProblem) => void): Promise<void> {
  const { manifest } = await readManifest(s.ctx.storage, s.dir)
  if (manifest === null) return // a missing or unreadable manifest is rebuilt on open: not damage to data
  const want = manifestOf(segments).segments
  for (const [i, m] of manifest.segments.entries()) {
    const d = want.find((w) => w.segment_num === m.segment_num)
    if (d === undefined) {
      if (m.next_offset > m.first_offset) problem({ offset: m.first_offset, code: 'ERR_CORRUPT', message: `the manifest lists ${segmentFileName(m.segment_num)} (offsets ${m.first_offset}..${m.next_offset}), the stream has no such segment` })
      continue
    }
    // The manifest's last entry may lag the data (appends, or a rotation, since it was written):
    // it is stale then, not wrong, as long as it claims no more than the data holds.
    const sealed = i < manifest.segments.length - 1
    if (m.first_offset !== d.first_offset || (sealed && (m.next_offset !== d.next_offset || m.size_bytes !== d.size_bytes)) || m.next_offset > d.next_offset || m.size_bytes > d.size_bytes) {
      problem({
        offset: d.first_offset, code: 'ERR_CORRUPT',
        message: `the manifest says ${segmentFileName(m.segment_num)} holds offsets ${m.first_offset}..${m.next_offset} in ${m.size_bytes} bytes, the data says ${d.first_offset}..${d.next_offset} in ${d.size_bytes}`,
      })
    }
  }
}
