/**
 * The storage a store lives on: every file operation the engine makes goes through one Storage.
 * Two implementations: the file system (disk-storage.ts) and memory (memory-storage.ts, for
 * `Log.memory()`). Paths are plain strings joined with node:path; failures are thrown as the
 * file system would throw them (an Error with an errno `code` such as 'ENOENT'), and the callers
 * turn them into ChainlogErrors as they always did.
 */

/** An open file of the store. */
export interface StorageFile {
  /** Up to `length` bytes at `position`; shorter only at the end of the file. */
  read(position: number, length: number): Promise<Buffer>
  /** The same read without a promise when it can be done synchronously; null: use read(). */
  readSync(position: number, length: number): Buffer | null
  /** Writes all of `data` at `position`. */
  write(data: Uint8Array, position: number): Promise<void>
  /** Makes the file's data durable (fdatasync). */
  datasync(): Promise<void>
  /**
   * datasync() with the fdatasync itself made by `sync` on the file's descriptor (which stays open
   * until `sync` settles): how a store-level round syncs many files in one call. Disk files only.
   */
  datasyncVia?(sync: (fd: number) => Promise<void>): Promise<void>
  truncate(length: number): Promise<void>
  size(): Promise<number>
  close(): Promise<void>
}

/** How a file is opened: 'read' only, 'update' an existing one, 'create' (or empty) a new one. */
export type OpenMode = 'read' | 'update' | 'create'

/** A directory entry. */
export interface StorageEntry {
  name: string
  isDirectory: boolean
}

/** The store's exclusive writer lock, held until released. */
export interface StorageLock {
  release(): Promise<void>
}

export interface Storage {
  /** 'disk' or 'memory'. */
  readonly kind: 'disk' | 'memory'
  open(path: string, mode: OpenMode): Promise<StorageFile>
  /** The entries of a directory; null when it does not exist. */
  list(dir: string): Promise<StorageEntry[] | null>
  /** A file's size; null when it does not exist. */
  fileSize(path: string): Promise<number | null>
  /** A stamp that changes whenever the file or directory changes (size, times, identity); null when absent. */
  stamp(path: string): Promise<string | null>
  readFile(path: string): Promise<Buffer>
  /** Replaces `path` with `data` so that a crash leaves the old or the new file, never a mix. */
  writeFileAtomic(path: string, data: Uint8Array | string): Promise<void>
  /** Removes a file; nothing when it does not exist. */
  remove(path: string): Promise<void>
  /** Removes an empty directory; nothing when it does not exist. */
  removeDir(dir: string): Promise<void>
  /** Renames a file over another (atomic on one file system); the caller fsyncs the directory. */
  rename(from: string, to: string): Promise<void>
  /** Creates a directory (and missing parents) and makes its entry durable. */
  makeDir(dir: string): Promise<void>
  /** Makes the entries created or renamed in a directory durable. */
  syncDir(dir: string): Promise<void>
  /** Takes the store's writer lock (ERR_LOCKED when a live writer holds it). */
  lock(dir: string): Promise<StorageLock>
}
