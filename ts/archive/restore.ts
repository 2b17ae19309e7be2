/**
 * restore(url, dir): an archive back into a store directory (SPEC §10). Every object is checked
 * through the core's segment scan (chain included) before its bytes are written; files are
 * written with fsync and atomic renames, segment files byte-identical to the source's, each
 * stream's manifest and indexes beside them, and chainlog.json last, so an interrupted restore
 * never leaves a directory that opens as a store. A point-in-time restore (toOffset, toTime) cuts
 * at the last record that ends an append call's batch.
 */
import { resolve as resolvePath } from 'node:path'
import { ChainlogError, describe } from '../errors.ts'
import { loadCore } from '../core/load.ts'
import { diskStorage } from '../storage/disk-storage.ts'
import { ioError } from '../storage/durable.ts'
import { manifestOf, type SegmentExtent, writeManifest } from '../storage/manifest.ts'
import { encodeIndex, PositionList } from '../storage/offset-index.ts'
import { MIN_OPEN_FILES } from '../storage/open-files.ts'
import { segmentPath } from '../storage/segment-file.ts'
import { openStore, type RestoredBehind, streamDirectory } from '../storage/store.ts'
import { streamName } from '../storage/stream-name.ts'
import { readArchiveInfo } from './archive-store.ts'
import { archivedStreams, type StreamWalk, walkStream } from './remote-stream.ts'
import { type DictionaryEntry, saveDictionary } from '../storage/dictionary-files.ts'
import { ObjectStore } from './s3.ts'
import type { RestoreOptions, RestoreReport } from './types.ts'

/** Bit 7 of the kind byte: the record's append call continues after it (SPEC §2 batches). */
const BATCH_CONTINUES = 0x80

/** Restores the archive at `url` into `dir` (which must not exist or be empty); returns what each stream got. */
export async function restore(url: string, dir: string, options: RestoreOptions = {}): Promise<RestoreReport> {
  if (typeof dir !== 'string' || dir.length === 0) throw new ChainlogError('ERR_INVALID_ARGUMENT', `dir: expected a non-empty path string, got ${describe(dir)}`)
  if (typeof options !== 'object' || options === null) throw new ChainlogError('ERR_INVALID_ARGUMENT', `options: expected an object, got ${describe(options)}`)
  const toOffset = options.toOffset ?? Infinity
  if (toOffset !== Infinity && (typeof toOffset !== 'number' || !Number.isSafeInteger(toOffset) || toOffset < 0)) {
    throw new ChainlogError('ERR_INVALID_ARGUMENT', `toOffset: expected a non-negative integer, got ${describe(toOffset)}`)
  }
  const toTime = options.toTime instanceof Date ? options.toTime.getTime() : (options.toTime ?? Infinity)
  if (typeof toTime !== 'number' || Number.isNaN(toTime) || (toTime !== Infinity && !Number.isSafeInteger(toTime))) {
    throw new ChainlogError('ERR_INVALID_ARGUMENT', `toTime: expected milliseconds since the epoch or a Date, got ${describe(options.toTime)}`)
  }
  const wanted = options.streams?.map((s) => streamName(s))
  const target = resolvePath(dir)
  const storage = diskStorage(MIN_OPEN_FILES)
  const existing = await storage.list(target).catch((err: unknown) => {
    throw ioError(err, `cannot list ${target}`)
  })
  if (existing !== null && existing.length > 0) throw new ChainlogError('ERR_INVALID_ARGUMENT', `dir: expected a directory that does not exist or is empty, ${target} holds ${existing.length} entries`)

  const core = await loadCore(options.backend ?? 'auto')
  const objects = await ObjectStore.open(url, options.client)
  let releases = () => {}
  try {
    const info = await readArchiveInfo(objects)
    const names = await archivedStreams(objects)
    for (const w of wanted ?? []) if (!names.includes(w)) throw new ChainlogError('ERR_INVALID_ARGUMENT', `streams: the archive has no stream ${w}`, { stream: w })
    const walks: Array<{ name: string; walk: StreamWalk }> = []
    releases = () => {
      for (const w of walks) w.walk.release()
    }
    for (const name of wanted ?? names) walks.push({ name, walk: await walkStream(objects, core, info.hash, name) })
    const bytesTotal = walks.reduce((n, w) => n + w.walk.bytesTotal, 0)
    let bytesDone = 0
    await storage.makeDir(target)
    const report: RestoreReport = { streams: [] }
    const behind: RestoredBehind['streams'] = {}
    for (const { name, walk } of walks) {
      const streamDir = streamDirectory(target, name)
      const extents: SegmentExtent[] = []
      let bytes = 0
      let cut = false
      // Dictionaries before the segments whose records use them, as the engine writes them.
      let dictionaries: DictionaryEntry[] = []
      for await (const piece of walk.pieces) {
        const r = piece.scan
        let keep = 0
        while (keep < r.count && r.offsets[keep] < toOffset && r.timestamps[keep] <= toTime) keep++
        while (keep > 0 && (r.kinds[keep - 1] & BATCH_CONTINUES) !== 0) keep--
        cut = keep < r.count
        const size = keep < r.count ? r.positions[keep] : piece.bytes.length
        if (keep > 0) {
          if (extents.length === 0) {
            await storage.makeDir(streamDir)
            for (const d of walk.dictionaries) {
              await saveDictionary(storage, streamDir, dictionaries, d.entry, d.bytes)
              dictionaries = [...dictionaries, d.entry]
            }
          }
          const path = segmentPath(streamDir, piece.num)
          await storage.writeFileAtomic(path, piece.bytes.subarray(0, size))
          await storage.writeFileAtomic(`${path}.idx`, encodeIndex(PositionList.from(r.positions.subarray(0, keep)), (d) => core.crc32(d)))
          extents.push({ num: piece.num, firstOffset: r.offsets[0], nextOffset: r.offsets[keep - 1] + 1, size })
          bytes += size
        }
        bytesDone += piece.bytes.length
        options.onProgress?.({ bytesDone: Math.min(bytesDone, bytesTotal), bytesTotal })
        if (cut) break
      }
      if (cut) behind[name] = { nextOffset: extents.at(-1)?.nextOffset ?? 0, archiveNextOffset: walk.head.nextOffset }
      if (extents.length === 0) continue
      await writeManifest(storage, streamDir, manifestOf(extents))
      report.streams.push({ stream: name, nextOffset: extents[extents.length - 1].nextOffset, segments: extents.length, bytes, cut })
    }
    // The store file last: only a finished restore opens as a store. A store cut before HEAD
    // carries the mark that keeps it read-only until it is given a new origin.
    const restoredBehind: RestoredBehind | undefined = Object.keys(behind).length === 0 ? undefined : { archive: info.storeId, ...(info.origin === undefined ? {} : { origin: info.origin }), streams: behind }
    await openStore(storage, target, { hash: info.hash, readOnly: false, restoredBehind })
    await storage.syncDir(target)
    return report
  } finally {
    releases()
    objects.close()
  }
}

