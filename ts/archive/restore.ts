/**
 * restore(url, dir): an archive back into a store directory (SPEC §10). Every object is streamed
 * through the core's segment scan (chain included) a bounded piece at a time (remote-stream.ts),
 * each piece appended to a temporary file as it is checked; only once the whole segment has passed
 * its checks (chain, SHA-256, metadata) is the file fsynced and renamed into place, so memory
 * stays at about one piece whatever the segment size, and a segment that fails leaves no file.
 * Files are written with fsync and atomic renames, segment files byte-identical to the source's, each
 * stream's manifest and indexes beside them, and chainlog.json last, so an interrupted restore
 * never leaves a directory that opens as a store; a restore that fails removes what it wrote, so
 * it can be run again into the same directory. A point-in-time restore (toOffset, toTime) cuts
 * at the last record that ends an append call's batch.
 */
import { dirname, join as joinPath, resolve as resolvePath } from 'node:path'
import { ChainlogError, describe } from '../errors.ts'
import { loadCore } from '../core/load.ts'
import { diskStorage } from '../storage/disk-storage.ts'
import type { Storage } from '../storage/storage.ts'
import { ioError } from '../storage/durable.ts'
import { manifestOf, type SegmentExtent, writeManifest } from '../storage/manifest.ts'
import { encodeIndex, PositionList } from '../storage/offset-index.ts'
import { MIN_OPEN_FILES } from '../storage/open-files.ts'
import { segmentPath } from '../storage/segment-file.ts'
import { StagedFile } from '../storage/staged-file.ts'
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
  if (existing !== null && existing.length > 0) throw new ChainlogError('ERR_INVALID_ARGUMENT', `dir: expected a directory that does not exist or is empty, ${target} holds ${existing.length} entries (a restore killed part-way leaves its files: remove them first)`)

  const core = await loadCore(options.backend ?? 'auto')
  const objects = await ObjectStore.open(url, options.client)
  let releases = () => {}
  let made = false
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
    made = true
    const report: RestoreReport = { streams: [] }
    const behind: RestoredBehind['streams'] = {}
    // One segment at a time is written here as it downloads, and renamed into its stream's
    // directory once checked (the `.tmp-` marks it as a temporary file).
    const tempPath = joinPath(target, 'segment.tmp-restore')
    for (const { name, walk } of walks) {
      const streamDir = streamDirectory(target, name)
      const extents: SegmentExtent[] = []
      let bytes = 0
      let cut = false
      // Dictionaries before the segments whose records use them, as the engine writes them.
      let dictionaries: DictionaryEntry[] = []
      // The segment being downloaded: its staged file and index so far, its records seen, and
      // the end of its last whole append (a batch never spans segments, but may span pieces).
      let staged: StagedFile | null = null
      const positions = new PositionList()
      let seen = 0
      let kept = { size: 0, count: 0, nextOffset: 0 }
      let firstOffset = 0
      // The requested point lies in this segment: the rest of it is downloaded and checked, not written.
      let past = false
      try {
        for await (const piece of walk.pieces) {
          const r = piece.scan
          if (seen === 0 && r.count > 0) firstOffset = r.offsets[0]
          seen += r.count
          let keep = 0
          if (!past) {
            while (keep < r.count && r.offsets[keep] < toOffset && r.timestamps[keep] <= toTime) keep++
            past = keep < r.count
          }
          if (keep > 0) {
            staged ??= await StagedFile.create(storage, tempPath)
            const endOf = (i: number) => (i + 1 < r.count ? r.positions[i + 1] : piece.position + piece.bytes.length)
            await staged.append(piece.bytes.subarray(0, endOf(keep - 1) - piece.position))
            for (let i = 0; i < keep; i++) {
              positions.push(r.positions[i])
              if ((r.kinds[i] & BATCH_CONTINUES) === 0) kept = { size: endOf(i), count: positions.length, nextOffset: r.offsets[i] + 1 }
            }
          }
          bytesDone += piece.bytes.length
          options.onProgress?.({ bytesDone: Math.min(bytesDone, bytesTotal), bytesTotal })
          if (!piece.segmentEnd) continue
          // The segment has passed its checks: its records up to the last whole append go in place.
          cut = kept.count < seen
          if (kept.count > 0) {
            if (extents.length === 0) {
              await storage.makeDir(streamDir)
              for (const d of walk.dictionaries) {
                await saveDictionary(storage, streamDir, dictionaries, d.entry, d.bytes)
                dictionaries = [...dictionaries, d.entry]
              }
            }
            if (staged!.size > kept.size) await staged!.truncate(kept.size)
            positions.truncate(kept.count)
            const path = segmentPath(streamDir, piece.num)
            await staged!.commit(path)
            staged = null
            await storage.writeFileAtomic(`${path}.idx`, encodeIndex(positions, (d) => core.crc32(d)))
            extents.push({ num: piece.num, firstOffset, nextOffset: kept.nextOffset, size: kept.size })
            bytes += kept.size
          }
          await staged?.discard()
          staged = null
          positions.truncate(0)
          seen = 0
          kept = { size: 0, count: 0, nextOffset: 0 }
          if (cut) break
        }
      } finally {
        // A segment that failed its checks (or a restore that failed writing it) leaves no file.
        await staged?.discard()
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
  } catch (err) {
    // The directory was empty or absent: all it holds now is this restore's, and a retry needs it empty again.
    if (made) await removeTree(storage, target, existing !== null).catch(() => {})
    throw err
  } finally {
    releases()
    objects.close()
  }
}


/** Removes what `dir` holds, files and directories, and `dir` itself unless `keep`. */
async function removeTree(storage: Storage, dir: string, keep: boolean): Promise<void> {
  for (const e of (await storage.list(dir)) ?? []) {
    const path = joinPath(dir, e.name)
    if (e.isDirectory) await removeTree(storage, path, false)
    else await storage.remove(path)
  }
  if (!keep) await storage.removeDir(dir)
  await storage.syncDir(keep ? dir : dirname(dir))
}
