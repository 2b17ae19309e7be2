/**
 * The archiver's shipping thread, seen from the appends' thread: an ObjectAccess whose calls run
 * on a worker thread (ship-worker.ts) holding the S3 client, and the upload of a sealed segment
 * straight from its file there. The SDK's request building and signing, HTTP, response parsing,
 * and the segment's reading and SHA-256 all happened on the event loop the appends use, which
 * slowed them (docs/perf-notes.md, "Shipping on its own thread"); now only small control messages
 * cross, and the bytes that must (tail chunks, small objects, bodies read back) are moved, not copied.
 *
 * One thread per archiver, made on first use and again after a crash (the calls in flight then
 * fail with ERR_IO, and the next pass gets a new thread). It keeps the process alive only while a
 * call is in flight; close() terminates it.
 */
import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'
import { ChainlogError, type ChainlogErrorDetails, type ErrorCode } from '../errors.ts'
import { type ArchiveClientConfig, multipartUpload, type ObjectAccess, type StoredObject } from './s3.ts'
import type { SegmentUpload } from './segment-upload.ts'

/** A call to the thread (ship-worker.ts answers each with a ShipReply of the same id). */
export type ShipRequest = { id: number } & (
  | { op: 'open'; url: string; config: ArchiveClientConfig; multipart: typeof multipartUpload; lowPriority: boolean }
  | { op: 'get'; rel: string }
  | { op: 'put'; rel: string; body: Uint8Array; cond: { ifNoneMatch: true } | { ifMatch: string } }
  | { op: 'putOnce'; rel: string; body: Uint8Array }
  | { op: 'exists'; rel: string }
  | { op: 'remove'; rel: string }
  | { op: 'list'; rel: string; delimiter?: string }
  | { op: 'uploadFile'; key: string; path: string; size: number; recordStarts: Float64Array }
)

/** A ChainlogError as it crosses threads (its cause stays behind). */
export interface WireError {
  code: ErrorCode
  message: string
  details: ChainlogErrorDetails
}

export type ShipReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: WireError }

/** Bodies from this size on are moved to the thread (their memory given away); smaller ones are copied. */
const MOVE_MIN_BYTES = 64 * 1024

/**
 * The thread's module: dist/archive-ship-worker.js next to the bundle (scripts/build.mjs), or
 * ship-worker.ts next to this file when the sources run under tsx (tests, bench). A worker thread
 * does not get tsx's loader from the process's `--import=tsx` (Node 20), so it registers it first.
 */
function startWorker(): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./archive-ship-worker.js', import.meta.url))
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href
  const module = new URL('./ship-worker.ts', import.meta.url).href
  return new Worker(`import(${JSON.stringify(tsx)}).then((t) => { t.register(); return import(${JSON.stringify(module)}) })`, { eval: true })
}

export class ShipThread implements ObjectAccess {
  private worker: Worker | null = null
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()
  private nextId = 0
  private closed = false
  /** Tests: called with each call's op just after it is sent (e.g. to kill() the thread mid-upload). */
  beforeReply: ((op: ShipRequest['op']) => void) | null = null

  private constructor(
    readonly url: string,
    private readonly config: ArchiveClientConfig,
    /** ArchiverOptions.lowPriority: the thread lowers its own CPU priority when it opens. */
    private readonly lowPriority: boolean,
  ) {}

  /**
   * The thread with its S3 client for `url`, or null when `config` cannot cross to a thread
   * (functions or class instances, such as a credential provider): the caller ships on its own thread then.
   */
  static async open(url: string, config: ArchiveClientConfig = {}, lowPriority = false): Promise<ShipThread | null> {
    if (!plainData(config)) return null
    const thread = new ShipThread(url, config, lowPriority)
    try {
      await thread.call({ op: 'open', url, config, multipart: { ...multipartUpload }, lowPriority }) // bad URLs, bad settings, a missing SDK: as from ObjectStore.open
    } catch (err) {
      await thread.close()
      throw err
    }
    return thread
  }

  async get(rel: string): Promise<StoredObject | null> {
    const found = (await this.call({ op: 'get', rel })) as { body: Uint8Array; etag: string } | null
    return found === null ? null : { body: Buffer.from(found.body.buffer, found.body.byteOffset, found.body.byteLength), etag: found.etag }
  }

  async put(rel: string, body: Uint8Array, cond: { ifNoneMatch: true } | { ifMatch: string }): Promise<string | null> {
    const moved = movable(body)
    return (await this.call({ op: 'put', rel, body: moved, cond }, [moved.buffer as ArrayBuffer])) as string | null
  }

  async putOnce(rel: string, body: Uint8Array): Promise<'written' | 'same' | 'different'> {
    const moved = movable(body)
    return (await this.call({ op: 'putOnce', rel, body: moved }, [moved.buffer as ArrayBuffer])) as 'written' | 'same' | 'different'
  }

  async exists(rel: string): Promise<boolean> {
    return (await this.call({ op: 'exists', rel })) as boolean
  }

  async remove(rel: string): Promise<void> {
    await this.call({ op: 'remove', rel })
  }

  async list(rel: string, delimiter?: string): Promise<{ keys: Array<{ key: string; size: number }>; folders: string[] }> {
    return (await this.call({ op: 'list', rel, delimiter })) as { keys: Array<{ key: string; size: number }>; folders: string[] }
  }

  /** Uploads `size` bytes of the file at `path` under `key`, read, hashed and sent on the thread (segment-upload.ts). */
  async uploadFile(key: string, path: string, size: number, recordStarts: Float64Array): Promise<SegmentUpload> {
    return (await this.call({ op: 'uploadFile', key, path, size, recordStarts }, [recordStarts.buffer as ArrayBuffer])) as SegmentUpload
  }

  /** Terminates the thread now, as a crash would: the calls in flight fail with ERR_IO; the next call starts a new thread. */
  kill(): void {
    void this.worker?.terminate()
  }

  /** Terminates the thread (after the caller let its calls finish); calls after this fail with ERR_CLOSED. */
  async close(): Promise<void> {
    this.closed = true
    const w = this.worker
    this.worker = null
    if (w !== null) await w.terminate()
    this.failAll(new ChainlogError('ERR_CLOSED', `${this.url}: the archive's shipping thread was closed`))
  }

  private call(request: DistributiveOmit<ShipRequest, 'id'>, transfer: ArrayBuffer[] = []): Promise<unknown> {
    if (this.closed) return Promise.reject(new ChainlogError('ERR_CLOSED', `${this.url}: the archive's shipping thread was closed`))
    const w = this.ensureWorker()
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject })
      w.ref()
      w.postMessage({ ...request, id }, transfer)
      this.beforeReply?.(request.op)
    })
  }

  private ensureWorker(): Worker {
    if (this.worker !== null) return this.worker
    const w = startWorker()
    w.unref()
    w.on('message', (r: ShipReply) => {
      const p = this.pending.get(r.id)
      if (p === undefined) return
      this.pending.delete(r.id)
      if (this.pending.size === 0) w.unref()
      if (r.ok) p.resolve(r.value)
      else p.reject(new ChainlogError(r.error.code, r.error.message, r.error.details))
    })
    const fail = (why: string) => {
      if (this.worker !== w) return
      this.worker = null
      this.failAll(new ChainlogError('ERR_IO', `${this.url}: the archive's shipping thread ${why}; the next pass starts a new one`))
    }
    w.on('error', (err) => fail(`failed: ${err?.message ?? err}`))
    w.on('exit', (code) => fail(`exited (code ${code})`))
    this.worker = w
    // Every thread opens its own client first; the calls after it wait for it there.
    if (this.nextId > 0) w.postMessage({ op: 'open', url: this.url, config: this.config, multipart: { ...multipartUpload }, lowPriority: this.lowPriority, id: -1 })
    return w
  }

  private failAll(e: ChainlogError): void {
    const waiting = [...this.pending.values()]
    this.pending.clear()
    for (const p of waiting) p.reject(e)
  }
}

type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never

/** `body`, or a copy of it, in memory that can be moved to the thread without taking anyone else's bytes with it. */
function movable(body: Uint8Array): Uint8Array {
  // A large body owns its memory (Buffer's pool serves small ones only); a small one is copied: cheap, and never the pool.
  return body.byteLength >= MOVE_MIN_BYTES && body.buffer instanceof ArrayBuffer ? body : new Uint8Array(body)
}

/** Whether `v` survives a structured clone unchanged: primitives, arrays and plain objects only. */
function plainData(v: unknown): boolean {
  if (v === null || typeof v !== 'object') return typeof v !== 'function' && typeof v !== 'symbol'
  if (Array.isArray(v)) return v.every(plainData)
  const proto = Object.getPrototypeOf(v)
  return (proto === Object.prototype || proto === null) && Object.values(v).every(plainData)
}
