/**
 * The file-system Storage: what chainlog runs on unless it was opened with Log.memory(). Its
 * files are virtual handles over the store's open-file budget (open-files.ts): a descriptor is
 * opened on demand and may be closed while idle, so a store of any number of streams stays
 * within the process's limit.
 */
import fs, { promises as fsp, type BigIntStats } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'
import { fsyncDir, makeDirDurable, writeFileAtomic } from './durable.ts'
import { StoreLock } from './lock.ts'
import { OpenFiles, type Evictable } from './open-files.ts'
import type { OpenMode, Storage, StorageEntry, StorageFile, StorageLock } from './storage.ts'

/**
 * Writes of up to this many bytes are a synchronous write on the event loop: copying 1 MiB into the
 * page cache takes about as long as the thread-pool round trip of an async write (docs/perf-notes.md),
 * and most groups are far smaller. Larger writes go through the pool, so a big batch never stalls
 * the event loop for long.
 */
export const SYNC_WRITE_MAX_BYTES = 1024 * 1024

const FLAGS: Record<OpenMode, string> = { read: 'r', update: 'r+', create: 'w+' }

/** A file whose descriptor the budget may close while it is idle, and which reopens it on demand. */
class DiskFile implements StorageFile, Evictable {
  private handle: FileHandle | null
  /** Operations in progress: while any runs, the descriptor stays open. */
  private ops = 0
  private closing: Promise<void> | null = null
  /** Writes so far, and how many an fdatasync has covered: a descriptor with more is synced before it closes. */
  private writes = 0
  private syncedWrites = 0
  /** A failed fdatasync made when the budget closed the descriptor: thrown by every later operation. */
  private failure: unknown = null
  private closed = false

  constructor(
    private readonly budget: OpenFiles,
    private readonly path: string,
    /** How to reopen it: never 'w+' again (that would empty it). */
    private readonly reopenFlags: string,
    handle: FileHandle,
  ) {
    this.handle = handle
    budget.markIdle(this)
  }

  private async begin(): Promise<FileHandle> {
    if (this.failure !== null) throw this.failure
    this.ops++
    this.budget.markBusy(this)
    try {
      if (this.closing !== null) await this.closing
      if (this.failure !== null) throw this.failure
      if (this.handle === null) {
        await this.budget.acquire()
        try {
          this.handle = await fsp.open(this.path, this.reopenFlags)
        } catch (err) {
          this.budget.release()
          throw err
        }
      }
      return this.handle
    } catch (err) {
      this.end()
      throw err
    }
  }

  private end(): void {
    this.ops--
    if (this.ops === 0 && this.handle !== null && !this.closed) this.budget.markIdle(this)
  }

  async evict(): Promise<boolean> {
    if (this.ops > 0 || this.handle === null || this.closing !== null) return false
    const h = this.handle
    this.closing = (async () => {
      try {
        if (this.writes !== this.syncedWrites) {
          const covered = this.writes
          try {
            await h.datasync()
            this.syncedWrites = covered
          } catch (err) {
            this.failure ??= err // the kernel's one report of a lost write: kept for the next operation
          }
        }
        await h.close().catch(() => {})
      } finally {
        this.handle = null
        this.closing = null
        this.budget.release()
      }
    })()
    await this.closing
    return true
  }

  async read(position: number, length: number): Promise<Buffer> {
    const h = await this.begin()
    try {
      const buf = Buffer.allocUnsafe(length)
      let done = 0
      while (done < length) {
        const { bytesRead } = await h.read(buf, done, length - done, position + done)
        if (bytesRead === 0) break
        done += bytesRead
      }
      return done === length ? buf : buf.subarray(0, done)
    } finally {
      this.end()
    }
  }

  readSync(position: number, length: number): Buffer | null {
    const h = this.handle
    if (h === null || this.closing !== null || this.failure !== null) return null
    const buf = Buffer.allocUnsafe(length)
    let done = 0
    try {
      while (done < length) {
        const n = fs.readSync(h.fd, buf, done, length - done, position + done)
        if (n === 0) return null // short: read() reports it
        done += n
      }
    } catch {
      return null
    }
    this.budget.markIdle(this) // most recently used
    return buf
  }

  async write(data: Uint8Array, position: number): Promise<void> {
    const h = await this.begin()
    try {
      this.writes++
      let done = 0
      if (data.length <= SYNC_WRITE_MAX_BYTES) {
        // fs.writeSync through the module object (not a named import), so a test can fail it.
        while (done < data.length) done += fs.writeSync(h.fd, data, done, data.length - done, position + done)
        return
      }
      while (done < data.length) {
        const { bytesWritten } = await h.write(data, done, data.length - done, position + done)
        done += bytesWritten
      }
    } finally {
      this.end()
    }
  }

  datasync(): Promise<void> {
    return this.syncWith((h) => h.datasync())
  }

  datasyncVia(sync: (fd: number) => Promise<void>): Promise<void> {
    return this.syncWith((h) => sync(h.fd))
  }

  private async syncWith(sync: (h: FileHandle) => Promise<void>): Promise<void> {
    const h = await this.begin()
    try {
      const covered = this.writes
      await sync(h)
      this.syncedWrites = covered
    } finally {
      this.end()
    }
  }

  async truncate(length: number): Promise<void> {
    const h = await this.begin()
    try {
      this.writes++
      await h.truncate(length)
    } finally {
      this.end()
    }
  }

  async size(): Promise<number> {
    const h = await this.begin()
    try {
      const st = (await h.stat({ bigint: true })) as BigIntStats
      return Number(st.size)
    } finally {
      this.end()
    }
  }

  /** Closes the file as FileHandle.close does (no fdatasync: the engine syncs what it must first). */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.budget.markBusy(this)
    if (this.closing !== null) await this.closing
    const h = this.handle
    if (h === null) return
    this.handle = null
    try {
      await h.close()
    } finally {
      this.budget.release()
    }
  }
}

/** A disk Storage whose descriptors stay within `maxOpenFiles` (see open-files.ts). */
export function diskStorage(maxOpenFiles: number): Storage & { readonly openFiles: OpenFiles } {
  const budget = new OpenFiles(maxOpenFiles)
  return {
    kind: 'disk',
    openFiles: budget,
    async open(path, mode) {
      await budget.acquire()
      let handle: FileHandle
      try {
        handle = await fsp.open(path, FLAGS[mode])
      } catch (err) {
        budget.release()
        throw err
      }
      return new DiskFile(budget, path, mode === 'read' ? 'r' : 'r+', handle)
    },
    list: (dir) =>
      budget.with(async () => {
        try {
          const entries = await fsp.readdir(dir, { withFileTypes: true })
          return entries.map((e): StorageEntry => ({ name: e.name, isDirectory: e.isDirectory() }))
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
          throw err
        }
      }),
    async fileSize(path) {
      try {
        return (await fsp.stat(path)).size
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
        throw err
      }
    },
    async stamp(path) {
      try {
        // Synchronous: open stamps thousands of files, and a stat of a cached inode costs less
        // than the thread-pool round trip of an asynchronous one.
        const st = fs.statSync(path, { bigint: true })
        return `${st.size}:${st.mtimeNs}:${st.ctimeNs}:${st.ino}`
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
        throw err
      }
    },
    readFile: (path) => budget.with(() => fsp.readFile(path)),
    writeFileAtomic: (path, data) => budget.with(() => writeFileAtomic(path, data)),
    remove: (path) => fsp.rm(path, { force: true }),
    removeDir: (dir) =>
      fsp.rmdir(dir).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err
      }),
    rename: (from, to) => fsp.rename(from, to),
    makeDir: (dir) => budget.with(() => makeDirDurable(dir)),
    syncDir: (dir) => budget.with(() => fsyncDir(dir)),
    lock: (dir): Promise<StorageLock> => budget.with(() => StoreLock.acquire(dir)),
  }
}
