/**
 * Open-time replay of the store journal (docs/format.md §11), before any stream recovers: every
 * valid entry, in order, whose bytes its segment lacks (shorter, zeros, other bytes) is written
 * back at its position (the file created if missing, its directory fsynced); then the touched
 * files are fdatasynced and the journal emptied durably. A torn tail of the journal is cut; a bad
 * entry followed by a valid one is damage (ERR_CORRUPT, nothing changed). An entry for a stream
 * that no longer exists, or for a segment below a pruned stream's first one, is skipped with a
 * reason. Runs whatever the `journal` option says: a store once journaled is replayed.
 *
 * Read-only: nothing is written; entries whose bytes the segments lack make the open fail
 * (ERR_READ_ONLY: open it writable once), so a reader never sees less than was acknowledged.
 */
import { ChainlogError } from '../errors.ts'
import { ioError } from '../storage/durable.ts'
import { journalPath, parseJournal, type JournalEntry } from '../storage/journal-file.ts'
import { readPruned } from '../storage/pruned-file.ts'
import { segmentPath } from '../storage/segment-file.ts'
import type { Storage, StorageFile } from '../storage/storage.ts'
import { streamDirectory } from '../storage/store.ts'
import { isStreamName } from '../storage/stream-name.ts'
import type { RecoveryEvent } from '../types.ts'

/** What replay did: one event per entry restored or skipped, and per torn tail cut. */
export async function replayJournal(storage: Storage, dir: string, crc32: (d: Uint8Array) => number, readOnly: boolean): Promise<RecoveryEvent[]> {
  const path = journalPath(dir)
  let data: Buffer
  try {
    if ((await storage.fileSize(path)) === null) return []
    data = await storage.readFile(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw ioError(err, `cannot read the journal ${path}`)
  }
  if (data.length === 0) return []
  const parsed = parseJournal(data, crc32)
  if (parsed.damage !== null) {
    throw new ChainlogError('ERR_CORRUPT', `the journal ${path} is damaged at byte ${parsed.damage.position} (${parsed.damage.reason}): entries after it may hold acknowledged appends; nothing was replayed or changed`, {
      position: parsed.damage.position, file: path,
    })
  }
  const events: RecoveryEvent[] = []
  const files = new Files(storage, readOnly)
  try {
    for (const entry of parsed.entries) {
      const event = await replayEntry(dir, entry, files)
      if (event !== null) events.push(event)
    }
    if (readOnly) {
      const missing = events.filter((e) => e.action === 'replayed')
      if (missing.length > 0) {
        const e = missing[0]
        throw new ChainlogError('ERR_READ_ONLY', `the journal ${path} holds acknowledged appends the segments lack (${missing.length} entries, the first for stream ${e.stream} segment ${e.segment} at position ${e.position}); open the store writable once to replay it`, {
          stream: e.stream, position: e.position, file: path,
        })
      }
      return []
    }
    await files.syncAll()
  } finally {
    await files.closeAll()
  }
  if (parsed.tornReason !== null) {
    events.push({ stream: '', segment: -1, action: 'truncated', position: parsed.end, offset: null, bytes: data.length - parsed.end, reason: `journal.wal: torn tail (${parsed.tornReason})` })
  }
  try {
    const f = await storage.open(path, 'update')
    try {
      await f.truncate(0)
      await f.datasync()
    } finally {
      await f.close()
    }
  } catch (err) {
    throw ioError(err, `cannot empty the journal ${path} after replaying it`)
  }
  return events
}

async function replayEntry(dir: string, entry: JournalEntry, files: Files): Promise<RecoveryEvent | null> {
  const event = (action: RecoveryEvent['action'], reason: string): RecoveryEvent => ({
    stream: entry.stream, segment: entry.segment, action, position: entry.position, offset: null, bytes: entry.bytes.length, reason,
  })
  if (!isStreamName(entry.stream)) return event('skipped', 'journal entry: not a stream name')
  const streamDir = streamDirectory(dir, entry.stream)
  const stream = await files.stream(streamDir)
  if (!stream.exists) return event('skipped', 'journal entry for a stream that no longer exists')
  if (entry.segment < stream.firstSegment) return event('skipped', `journal entry for segment ${entry.segment}, below the pruned stream's first segment ${stream.firstSegment}`)
  const f = await files.get(segmentPath(streamDir, entry.segment), streamDir)
  if (f === null) return event('replayed', 'journal entry: the segment file is missing')
  const have = await f.read(entry.position, entry.bytes.length)
  if (have.equals(entry.bytes)) return null
  const reason = have.length < entry.bytes.length ? `the segment held ${have.length} of the entry's ${entry.bytes.length} bytes` : 'the segment held other bytes there'
  if (!files.readOnly) {
    try {
      files.touched(f)
      await f.write(entry.bytes, entry.position)
    } catch (err) {
      throw ioError(err, `cannot replay the journal into ${segmentPath(streamDir, entry.segment)}`, { stream: entry.stream, position: entry.position })
    }
  }
  return event('replayed', `journal entry restored: ${reason}`)
}

/** The segment files replay opened, kept open until all are synced. */
class Files {
  private readonly open = new Map<string, StorageFile>()
  /** Per stream directory: whether it exists, and its first segment (pruned.json; 0 when never pruned). */
  private readonly streams = new Map<string, { exists: boolean; firstSegment: number }>()
  private readonly written = new Set<StorageFile>()

  constructor(
    private readonly storage: Storage,
    readonly readOnly: boolean,
  ) {}

  /** Looked up once per stream: a journal holds many entries of each. */
  async stream(streamDir: string): Promise<{ exists: boolean; firstSegment: number }> {
    let known = this.streams.get(streamDir)
    if (known === undefined) {
      const exists = (await this.storage.list(streamDir)) !== null
      const pruned = exists ? await readPruned(this.storage, streamDir) : null
      known = { exists, firstSegment: pruned?.state?.firstSegment ?? 0 }
      this.streams.set(streamDir, known)
    }
    return known
  }

  /** The segment at `path`; a missing one is created (directory fsynced) unless read-only (null then). */
  async get(path: string, streamDir: string): Promise<StorageFile | null> {
    const known = this.open.get(path)
    if (known !== undefined) return known
    let f: StorageFile
    let exists: boolean
    try {
      exists = (await this.storage.fileSize(path)) !== null
      if (!exists && this.readOnly) return null
      f = await this.storage.open(path, exists ? (this.readOnly ? 'read' : 'update') : 'create')
      if (!exists) await this.storage.syncDir(streamDir)
    } catch (err) {
      throw ioError(err, `cannot open ${path} to replay the journal`)
    }
    this.open.set(path, f)
    if (!exists) this.written.add(f)
    return f
  }

  touched(f: StorageFile): void {
    this.written.add(f)
  }

  async syncAll(): Promise<void> {
    for (const f of this.written) {
      try {
        await f.datasync()
      } catch (err) {
        throw ioError(err, 'cannot fdatasync a segment the journal was replayed into')
      }
    }
  }

  async closeAll(): Promise<void> {
    for (const f of this.open.values()) await f.close().catch(() => {})
  }
}
