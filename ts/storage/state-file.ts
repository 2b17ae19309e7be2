/**
 * `tlog.stateFile` (SPEC §8): a small JSON file outside the store that keeps the last published
 * tree size and root of each stream, so that a store restored from an older copy behind the
 * writer's back is caught at open. Written atomically after each published note.
 */
import { ChainlogError } from '../errors.ts'
import { ioError } from './durable.ts'
import type { Storage } from './storage.ts'

/** The file holds a few hundred bytes per stream; anything far larger is not ours. */
const MAX_STATE_FILE_BYTES = 64 * 1024 * 1024

/** A published tree head. */
export interface KeptHead {
  size: number
  root: Buffer
}

export class TlogStateFile {
  private constructor(
    private readonly storage: Storage,
    private readonly path: string,
    private readonly origin: string,
    private readonly heads: Map<string, KeptHead>,
  ) {}

  /** Reads the file (a missing one is empty); ERR_STORE_MISMATCH when it belongs to another origin, ERR_CORRUPT when unreadable. */
  static async open(storage: Storage, path: string, origin: string): Promise<TlogStateFile> {
    const heads = new Map<string, KeptHead>()
    let size: number | null
    try {
      size = await storage.fileSize(path)
    } catch (err) {
      throw ioError(err, `cannot read the tlog state file ${path}`)
    }
    if (size === null) return new TlogStateFile(storage, path, origin, heads)
    if (size > MAX_STATE_FILE_BYTES) throw new ChainlogError('ERR_CORRUPT', `${path}: expected a small JSON tlog state file, found ${size} bytes`)
    let value: { origin?: unknown; streams?: Record<string, { size?: unknown; root?: unknown }> }
    try {
      value = JSON.parse((await storage.readFile(path)).toString('utf8'))
    } catch (err) {
      if (err instanceof SyntaxError) throw new ChainlogError('ERR_CORRUPT', `${path}: the tlog state file is not JSON`)
      throw ioError(err, `cannot read the tlog state file ${path}`)
    }
    if (typeof value !== 'object' || value === null || typeof value.streams !== 'object' || value.streams === null) throw new ChainlogError('ERR_CORRUPT', `${path}: expected { origin, streams }`)
    if (value.origin !== origin) throw new ChainlogError('ERR_STORE_MISMATCH', `${path}: the tlog state file is for origin ${JSON.stringify(value.origin)}, not ${JSON.stringify(origin)}`)
    for (const [stream, h] of Object.entries(value.streams)) {
      if (!Number.isSafeInteger(h?.size) || (h.size as number) < 0 || typeof h.root !== 'string' || !/^[0-9a-f]{64}$/.test(h.root)) {
        throw new ChainlogError('ERR_CORRUPT', `${path}: stream ${JSON.stringify(stream)} has no valid { size, root }`)
      }
      heads.set(stream, { size: h.size as number, root: Buffer.from(h.root, 'hex') })
    }
    return new TlogStateFile(storage, path, origin, heads)
  }

  get(stream: string): KeptHead | undefined {
    return this.heads.get(stream)
  }

  streams(): string[] {
    return [...this.heads.keys()]
  }

  async set(stream: string, head: KeptHead): Promise<void> {
    this.heads.set(stream, head)
    const streams = Object.fromEntries([...this.heads].map(([name, h]) => [name, { size: h.size, root: h.root.toString('hex') }]))
    try {
      await this.storage.writeFileAtomic(this.path, JSON.stringify({ origin: this.origin, streams }) + '\n')
    } catch (err) {
      throw ioError(err, `cannot write the tlog state file ${this.path}`)
    }
  }
}
