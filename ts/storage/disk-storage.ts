/** The file-system Storage: what chainlog runs on unless it was opened with Log.memory(). */
import fs, { promises as fsp, type BigIntStats } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'
import { fsyncDir, makeDirDurable, writeFileAtomic } from './durable.ts'
import { StoreLock } from './lock.ts'
import type { OpenMode, Storage, StorageEntry, StorageFile, StorageLock } from './storage.ts'

/**
 * Writes of up to this many bytes are a synchronous write on the event loop: copying 1 MiB into the
 * page cache takes about as long as the thread-pool round trip of an async write (docs/perf-notes.md),
 * and most groups are far smaller. Larger writes go through the pool, so a big batch never stalls
 * the event loop for long.
 */
export const SYNC_WRITE_MAX_BYTES = 1024 * 1024

const FLAGS: Record<OpenMode, string> = { read: 'r', update: 'r+', create: 'w+' }

class DiskFile implements StorageFile {
  constructor(private readonly handle: FileHandle) {}

  async read(position: number, length: number): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(length)
    let done = 0
    while (done < length) {
      const { bytesRead } = await this.handle.read(buf, done, length - done, position + done)
      if (bytesRead === 0) break
      done += bytesRead
    }
    return done === length ? buf : buf.subarray(0, done)
  }

  readSync(position: number, length: number): Buffer | null {
    const buf = Buffer.allocUnsafe(length)
    let done = 0
    try {
      while (done < length) {
        const n = fs.readSync(this.handle.fd, buf, done, length - done, position + done)
        if (n === 0) return null // short: read() reports it
        done += n
      }
    } catch {
      return null
    }
    return buf
  }

  async write(data: Uint8Array, position: number): Promise<void> {
    let done = 0
    if (data.length <= SYNC_WRITE_MAX_BYTES) {
      // fs.writeSync through the module object (not a named import), so a test can fail it.
      while (done < data.length) done += fs.writeSync(this.handle.fd, data, done, data.length - done, position + done)
      return
    }
    while (done < data.length) {
      const { bytesWritten } = await this.handle.write(data, done, data.length - done, position + done)
      done += bytesWritten
    }
  }

  datasync(): Promise<void> {
    return this.handle.datasync()
  }

  truncate(length: number): Promise<void> {
    return this.handle.truncate(length)
  }

  async size(): Promise<number> {
    const st = (await this.handle.stat({ bigint: true })) as BigIntStats
    return Number(st.size)
  }

  close(): Promise<void> {
    return this.handle.close()
  }
}

export const diskStorage: Storage = {
  kind: 'disk',
  async open(path, mode) {
    return new DiskFile(await fsp.open(path, FLAGS[mode]))
  },
  async list(dir) {
    try {
      const entries = await fsp.readdir(dir, { withFileTypes: true })
      return entries.map((e): StorageEntry => ({ name: e.name, isDirectory: e.isDirectory() }))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
      throw err
    }
  },
  async fileSize(path) {
    try {
      return (await fsp.stat(path)).size
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
      throw err
    }
  },
  readFile: (path) => fsp.readFile(path),
  writeFileAtomic,
  remove: (path) => fsp.rm(path, { force: true }),
  makeDir: makeDirDurable,
  syncDir: fsyncDir,
  lock: (dir): Promise<StorageLock> => StoreLock.acquire(dir),
}
