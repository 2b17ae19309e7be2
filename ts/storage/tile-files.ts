/**
 * A stream's tile cache on storage (SPEC §8): C2SP tlog-tiles paths under `<stream>/tile/`, a full
 * tile at `tile/<L>/<N>` (256 hashes, never rewritten with other bytes), the tile being filled at
 * `tile/<L>/<N>.part` (grown by writes at its end; a torn end is cut to a multiple of 32 when it
 * is read). The cache is never trusted: the engine checks what it reads against records and notes.
 * Also the stream's published note, `<stream>/checkpoint`, written atomically.
 */
import { dirname, join } from 'node:path'
import { tilePath } from '../tlog/tiles.ts'
import type { Storage, StorageFile } from './storage.ts'

export const TILE_HASHES = 256
const HASH_BYTES = 32
export const FULL_TILE_BYTES = TILE_HASHES * HASH_BYTES
/** A published note is a few hundred bytes; anything far larger is not ours. */
const MAX_NOTE_FILE_BYTES = 1024 * 1024

const missing = (err: unknown) => (err as NodeJS.ErrnoException)?.code === 'ENOENT'

export class TileFiles {
  /** Directories known to exist (created durably once). */
  private readonly dirs = new Set<string>()
  /**
   * Set for a pruned stream (SPEC §9): its tiles hold the only copy of the pruned leaves, so every
   * write is made durable, and never by truncating a file that holds them (full tiles and
   * rewritten parts go through an atomic replace; a grown part is fdatasynced).
   */
  durable = false

  constructor(
    private readonly storage: Storage,
    private readonly streamDir: string,
  ) {}

  private path(level: number, index: number, part: boolean): string {
    return join(this.streamDir, tilePath({ level, index, width: TILE_HASHES })) + (part ? '.part' : '')
  }

  /** A full tile's 8192 bytes; null when it is absent or not full (a torn write). */
  async readFull(level: number, index: number): Promise<Buffer | null> {
    const bytes = await this.readIfPresent(this.path(level, index, false))
    return bytes !== null && bytes.length === FULL_TILE_BYTES ? bytes : null
  }

  /** The hashes of a `.part` tile, its torn end cut to a multiple of 32; null when absent. */
  async readPart(level: number, index: number): Promise<Buffer | null> {
    const bytes = await this.readIfPresent(this.path(level, index, true))
    if (bytes === null) return null
    return bytes.subarray(0, Math.min(FULL_TILE_BYTES, bytes.length - (bytes.length % HASH_BYTES)))
  }

  private async readIfPresent(path: string): Promise<Buffer | null> {
    try {
      const size = await this.storage.fileSize(path)
      if (size === null || size > MAX_NOTE_FILE_BYTES) return null
      return await this.storage.readFile(path)
    } catch (err) {
      if (missing(err)) return null
      throw err
    }
  }

  private async ensureDir(path: string): Promise<void> {
    const dir = dirname(path)
    if (this.dirs.has(dir)) return
    await this.storage.makeDir(dir)
    this.dirs.add(dir)
  }

  /** Directories with entries created since the last syncDirs(). */
  private readonly newEntries = new Set<string>()

  /**
   * Writes a full tile and drops its `.part`. A cache, checked when read; `durable` (before a note
   * that depends on it is published) fdatasyncs it, and syncDirs() then makes its entry durable.
   * `dropPart` false: the caller knows it wrote no `.part` of it (one file operation less; a stray
   * `.part` beside a full tile is never read).
   */
  async writeFull(level: number, index: number, bytes: Uint8Array, durable = false, dropPart = true): Promise<void> {
    const path = this.path(level, index, false)
    await this.ensureDir(path)
    // A pruned stream's tiles (`this.durable`) are replaced atomically, never truncated in place.
    if (this.durable) await this.storage.writeFileAtomic(path, bytes)
    else await this.writeAt(path, bytes, durable)
    if (durable) this.newEntries.add(dirname(path))
    if (dropPart) await this.storage.remove(this.path(level, index, true))
  }

  /** Removes a `.part` tile (its tile is complete and not stored: level 0). */
  async removePart(level: number, index: number): Promise<void> {
    await this.storage.remove(this.path(level, index, true))
  }

  /** fdatasyncs a full tile written earlier without `durable`, and queues its entry for syncDirs(). */
  async syncFull(level: number, index: number): Promise<void> {
    const path = this.path(level, index, false)
    const file = await this.storage.open(path, 'update')
    try {
      await file.datasync()
    } finally {
      await file.close()
    }
    this.newEntries.add(dirname(path))
  }

  /** Makes the entries of the tiles written durably since the last call durable. */
  async syncDirs(): Promise<void> {
    for (const dir of this.newEntries) await this.storage.syncDir(dir)
    this.newEntries.clear()
  }

  /**
   * Grows a `.part` tile to `hashes` (all its hashes so far), of which `persisted` were written
   * before: only the new ones are written, at its end; the whole file when it is not as expected.
   */
  async writePart(level: number, index: number, hashes: Uint8Array, persisted: number, durable = false): Promise<void> {
    const path = this.path(level, index, true)
    await this.ensureDir(path)
    const size = await this.storage.fileSize(path)
    const grow = persisted > 0 && size !== null && size >= persisted * HASH_BYTES
    const from = grow ? persisted * HASH_BYTES : 0
    if (this.durable && !grow) return this.storage.writeFileAtomic(path, hashes)
    const file = await this.storage.open(path, grow ? 'update' : 'create')
    try {
      await file.write(hashes.subarray(from), from)
      if (grow && size! > hashes.length) await file.truncate(hashes.length)
      if (durable || this.durable) await file.datasync()
      if (durable && !grow) this.newEntries.add(dirname(path))
    } finally {
      await file.close()
    }
  }

  private async writeAt(path: string, bytes: Uint8Array, durable: boolean): Promise<void> {
    const file = await this.storage.open(path, 'create')
    try {
      await file.write(bytes, 0)
      if (durable) await file.datasync()
    } finally {
      await file.close()
    }
  }

  /**
   * Makes durable (fdatasync, then the directories) the level-0 tiles, full or `.part`, of
   * indexes [fromIndex, toIndex] and every tile of the levels above (a few: one per 65536 leaves).
   * Before a prune: below the first kept offset they become the only copy of the leaves.
   */
  async syncTiles(fromIndex: number, toIndex: number): Promise<void> {
    const dirs = new Set<string>()
    const sync = async (path: string): Promise<void> => {
      let file: StorageFile
      try {
        file = await this.storage.open(path, 'update')
      } catch (err) {
        if (missing(err)) return
        throw err
      }
      try {
        await file.datasync()
      } finally {
        await file.close()
      }
      dirs.add(dirname(path))
    }
    for (let index = fromIndex; index <= toIndex; index++) {
      await sync(this.path(0, index, false))
      await sync(this.path(0, index, true))
    }
    const walk = async (dir: string): Promise<void> => {
      for (const e of (await this.storage.list(dir)) ?? []) {
        const p = join(dir, e.name)
        if (e.isDirectory) await walk(p)
        else await sync(p)
      }
    }
    for (const e of (await this.storage.list(join(this.streamDir, 'tile'))) ?? []) {
      if (e.isDirectory && e.name !== '0') await walk(join(this.streamDir, 'tile', e.name))
    }
    // Directory entries from the leaf directories up to tile/ (new directories were made durable when created).
    for (const dir of dirs) await this.storage.syncDir(dir)
  }

  /** Removes every tile file (the cache is rebuilt from the records). Directories stay. */
  async removeAll(): Promise<void> {
    const walk = async (dir: string): Promise<void> => {
      for (const e of (await this.storage.list(dir)) ?? []) {
        const p = join(dir, e.name)
        if (e.isDirectory) await walk(p)
        else await this.storage.remove(p)
      }
    }
    await walk(join(this.streamDir, 'tile'))
  }

  /** The stream's last published note (`<stream>/checkpoint`), or null. */
  async readPublished(): Promise<string | null> {
    const bytes = await this.readIfPresent(join(this.streamDir, 'checkpoint'))
    return bytes === null ? null : bytes.toString('utf8')
  }

  /** Publishes a note: replaces `<stream>/checkpoint` atomically. */
  async writePublished(note: string): Promise<void> {
    await this.storage.writeFileAtomic(join(this.streamDir, 'checkpoint'), note)
  }
}
