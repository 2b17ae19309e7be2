/**
 * A file written piece by piece under a temporary name and put under its real name only once it
 * is complete (a restored segment, written as it downloads): appends, a truncate back to an
 * earlier length, then commit — fdatasync, rename into place, fsync of both directories — or
 * discard. A crash or a discard never leaves a partial file under the real name; a crash can
 * leave the temporary file, whose name carries the temp marker (durable.ts).
 */
import { dirname } from 'node:path'
import { ioError } from './durable.ts'
import type { Storage, StorageFile } from './storage.ts'

export class StagedFile {
  private length = 0

  private constructor(
    private readonly storage: Storage,
    private readonly file: StorageFile,
    /** The temporary path (it must contain the temp marker `.tmp-`). */
    readonly tempPath: string,
  ) {}

  /** Creates (or empties) the temporary file at `tempPath`. */
  static async create(storage: Storage, tempPath: string): Promise<StagedFile> {
    try {
      return new StagedFile(storage, await storage.open(tempPath, 'create'), tempPath)
    } catch (err) {
      throw ioError(err, `cannot create ${tempPath}`)
    }
  }

  /** Bytes written so far (after truncates). */
  get size(): number {
    return this.length
  }

  async append(data: Uint8Array): Promise<void> {
    try {
      await this.file.write(data, this.length)
    } catch (err) {
      throw ioError(err, `cannot write ${this.tempPath}`)
    }
    this.length += data.length
  }

  /** Cuts the file back to `length` bytes (≤ size). */
  async truncate(length: number): Promise<void> {
    try {
      await this.file.truncate(length)
    } catch (err) {
      throw ioError(err, `cannot truncate ${this.tempPath}`)
    }
    this.length = length
  }

  /** Makes the bytes durable and renames the file to `path` (replacing any file there); the StagedFile is done. */
  async commit(path: string): Promise<void> {
    try {
      try {
        await this.file.datasync()
      } finally {
        await this.file.close()
      }
      await this.storage.rename(this.tempPath, path)
      await this.storage.syncDir(dirname(path))
      if (dirname(path) !== dirname(this.tempPath)) await this.storage.syncDir(dirname(this.tempPath))
    } catch (err) {
      await this.storage.remove(this.tempPath).catch(() => {})
      throw ioError(err, `cannot put ${path} in place`)
    }
  }

  /** Closes and removes the temporary file (errors ignored: called on a path that already failed). */
  async discard(): Promise<void> {
    await this.file.close().catch(() => {})
    await this.storage.remove(this.tempPath).catch(() => {})
  }
}
