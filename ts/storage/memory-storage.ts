/**
 * A Storage in memory, for `Log.memory()`: files are byte arrays in a map, directories a set of
 * paths. Nothing touches the file system. Durability calls are no-ops (there is nothing a crash
 * could keep); everything else behaves as the file system does, errors included ('ENOENT',
 * 'EEXIST'), so the engine above runs the same code on both.
 */
import { dirname } from 'node:path'
import { ChainlogError } from '../errors.ts'
import type { OpenMode, Storage, StorageEntry, StorageFile, StorageLock } from './storage.ts'

function fsError(code: string, syscall: string, path: string): Error {
  return Object.assign(new Error(`${code}: ${syscall} '${path}'`), { code, syscall, path })
}

/** A file's bytes: `data` holds at least `length` of them (it grows by doubling). */
class MemoryData {
  data = Buffer.alloc(0)
  length = 0
  /** Bumped by every change (for stamp). */
  version = 0

  ensure(length: number): void {
    if (length <= this.data.length) return
    const grown = Buffer.alloc(Math.max(length, this.data.length * 2, 4096))
    this.data.copy(grown, 0, 0, this.length)
    this.data = grown
  }

  bytes(): Buffer {
    return this.data.subarray(0, this.length)
  }
}

class MemoryFile implements StorageFile {
  private closed = false

  constructor(
    private readonly file: MemoryData,
    private readonly writable: boolean,
    private readonly path: string,
  ) {}

  private check(write: boolean): void {
    if (this.closed) throw fsError('EBADF', 'read', this.path)
    if (write && !this.writable) throw fsError('EBADF', 'write', this.path)
  }

  async read(position: number, length: number): Promise<Buffer> {
    return this.copy(position, length)
  }

  readSync(position: number, length: number): Buffer | null {
    const out = this.copy(position, length)
    return out.length === length ? out : null
  }

  private copy(position: number, length: number): Buffer {
    this.check(false)
    const end = Math.min(this.file.length, position + length)
    // A copy, as a read from a file is: the caller may keep it while the file changes.
    return Buffer.from(this.file.data.subarray(Math.min(position, end), end))
  }

  async write(data: Uint8Array, position: number): Promise<void> {
    this.check(true)
    const end = position + data.length
    this.file.ensure(end)
    if (position > this.file.length) this.file.data.fill(0, this.file.length, position)
    this.file.data.set(data, position)
    this.file.length = Math.max(this.file.length, end)
    this.file.version++
  }

  async datasync(): Promise<void> {
    this.check(false)
  }

  async truncate(length: number): Promise<void> {
    this.check(true)
    this.file.ensure(length)
    if (length > this.file.length) this.file.data.fill(0, this.file.length, length)
    this.file.length = length
    this.file.version++
  }

  async size(): Promise<number> {
    this.check(false)
    return this.file.length
  }

  async close(): Promise<void> {
    this.closed = true
  }
}

export class MemoryStorage implements Storage {
  readonly kind = 'memory'
  private readonly files = new Map<string, MemoryData>()
  private readonly dirs = new Set<string>()
  private readonly locked = new Set<string>()
  private readonly serials = new WeakMap<MemoryData, number>()
  private nextSerial = 0
  /** Bumped when any entry is created or removed (a directory's stamp). */
  private entryChanges = 0

  /** Every file and its bytes (for saveTo), in path order. */
  entries(): Array<[string, Buffer]> {
    return [...this.files.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([p, f]) => [p, f.bytes()])
  }

  /** Bytes held (for tests of memory use). */
  bytesHeld(): number {
    let n = 0
    for (const f of this.files.values()) n += f.data.length
    return n
  }

  /** Frees everything. */
  clear(): void {
    this.files.clear()
    this.dirs.clear()
  }

  private parentMustExist(path: string, syscall: string): void {
    if (!this.dirs.has(dirname(path))) throw fsError('ENOENT', syscall, path)
  }

  async open(path: string, mode: OpenMode): Promise<StorageFile> {
    let file = this.files.get(path)
    if (mode === 'create') {
      this.parentMustExist(path, 'open')
      if (file === undefined) {
        this.files.set(path, (file = new MemoryData()))
        this.entryChanges++
      }
      file.length = 0
      file.version++
    } else if (file === undefined) throw fsError('ENOENT', 'open', path)
    return new MemoryFile(file, mode !== 'read', path)
  }

  async list(dir: string): Promise<StorageEntry[] | null> {
    if (!this.dirs.has(dir)) return null
    const out: StorageEntry[] = []
    for (const d of this.dirs) if (d !== dir && dirname(d) === dir) out.push({ name: d.slice(dir.length + 1), isDirectory: true })
    for (const f of this.files.keys()) if (dirname(f) === dir) out.push({ name: f.slice(dir.length + 1), isDirectory: false })
    return out
  }

  async fileSize(path: string): Promise<number | null> {
    return this.files.get(path)?.length ?? null
  }

  async stamp(path: string): Promise<string | null> {
    const f = this.files.get(path)
    if (f !== undefined) return `${f.length}:${f.version}:${this.serial(f)}`
    return this.dirs.has(path) ? `dir:${this.entryChanges}` : null
  }

  /** Distinguishes a replaced file from the one before it (as an inode number does). */
  private serial(f: MemoryData): number {
    let n = this.serials.get(f)
    if (n === undefined) this.serials.set(f, (n = ++this.nextSerial))
    return n
  }

  async readFile(path: string): Promise<Buffer> {
    const f = this.files.get(path)
    if (f === undefined) throw fsError('ENOENT', 'open', path)
    return Buffer.from(f.bytes())
  }

  async writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
    this.parentMustExist(path, 'open')
    const f = new MemoryData()
    const bytes = typeof data === 'string' ? Buffer.from(data) : data
    f.ensure(bytes.length)
    f.data.set(bytes, 0)
    f.length = bytes.length
    this.files.set(path, f)
    this.entryChanges++
  }

  async remove(path: string): Promise<void> {
    if (this.files.delete(path)) this.entryChanges++
  }

  async removeDir(dir: string): Promise<void> {
    for (const path of this.files.keys()) if (dirname(path) === dir) throw fsError('ENOTEMPTY', 'rmdir', dir)
    for (const d of this.dirs) if (d !== dir && dirname(d) === dir) throw fsError('ENOTEMPTY', 'rmdir', dir)
    if (this.dirs.delete(dir)) this.entryChanges++
  }

  async rename(from: string, to: string): Promise<void> {
    const f = this.files.get(from)
    if (f === undefined) throw fsError('ENOENT', 'rename', from)
    this.parentMustExist(to, 'rename')
    this.files.delete(from)
    this.files.set(to, f)
    this.entryChanges++
  }

  async makeDir(dir: string): Promise<void> {
    for (let d = dir; !this.dirs.has(d); d = dirname(d)) {
      this.dirs.add(d)
      if (dirname(d) === d) break
    }
  }

  async syncDir(dir: string): Promise<void> {
    if (!this.dirs.has(dir)) throw fsError('ENOENT', 'open', dir)
  }

  async lock(dir: string): Promise<StorageLock> {
    if (this.locked.has(dir)) throw new ChainlogError('ERR_LOCKED', `${dir} is locked by another Log in this process; expected no other writer`)
    this.locked.add(dir)
    return { release: async () => void this.locked.delete(dir) }
  }
}
