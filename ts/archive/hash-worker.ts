/**
 * SHA-256 of the bytes a sealed segment uploads, computed on a worker thread: on the event loop
 * it took ~0.6 ms per MiB from the appends the archiver runs beside (docs/perf-notes.md, "The
 * archiver's cost on the append path"). Used where the archiver ships from the appends' own
 * thread (a store in memory, or client settings that cannot cross to the shipping thread,
 * ship-thread.ts); the shipping thread hashes what it reads itself. Each chunk is transferred to the worker, hashed there and
 * transferred back before it is sent, so the digest is of exactly the bytes uploaded, and no byte
 * is copied (except a chunk that shares its memory with others, copied once to be transferable).
 *
 * One worker per process, shared by every hashing in flight; it keeps the process alive only
 * while one is.
 */
import { Worker } from 'node:worker_threads'
import { ChainlogError } from '../errors.ts'

/** Plain CommonJS run with `eval`: the same under tsx and from dist, and nothing to resolve. */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads')
const { createHash } = require('node:crypto')
const hashes = new Map()
parentPort.on('message', (m) => {
  let h = hashes.get(m.id)
  if (h === undefined) hashes.set(m.id, (h = createHash('sha256')))
  if (m.buffer !== undefined) {
    h.update(new Uint8Array(m.buffer))
    parentPort.postMessage({ id: m.id, buffer: m.buffer }, [m.buffer])
  } else {
    hashes.delete(m.id)
    parentPort.postMessage({ id: m.id, digest: h.digest('hex') })
  }
})
`

interface Reply {
  id: number
  buffer?: ArrayBuffer
  digest?: string
}

let worker: Worker | null = null
/** Per hashing in flight: the answers awaited, in the order asked (the worker answers in order). */
const waiting = new Map<number, Array<{ resolve: (r: Reply) => void; reject: (e: Error) => void }>>()
let nextId = 0

function ensureWorker(): Worker {
  if (worker !== null) return worker
  // No inherited flags: --input-type=module or a loader would make the CommonJS source fail or load slowly.
  const w = new Worker(WORKER_SOURCE, { eval: true, execArgv: [] })
  w.on('message', (r: Reply) => waiting.get(r.id)?.shift()?.resolve(r))
  const fail = (err: unknown) => {
    if (worker === w) worker = null
    const e = new ChainlogError('ERR_IO', `the archive's hashing thread failed: ${(err as Error)?.message ?? err}`, { cause: err })
    for (const q of waiting.values()) for (const p of q.splice(0)) p.reject(e)
  }
  w.on('error', fail)
  w.on('exit', (code) => fail(new Error(`exited with code ${code}`)))
  worker = w
  return w
}

function ask(id: number, message: { id: number; buffer?: ArrayBuffer }, transfer: ArrayBuffer[]): Promise<Reply> {
  const w = ensureWorker()
  const queue = waiting.get(id)
  if (queue === undefined) return Promise.reject(new ChainlogError('ERR_CLOSED', 'this hash was already finished'))
  return new Promise((resolve, reject) => {
    queue.push({ resolve, reject })
    w.postMessage(message, transfer)
  })
}

/** One SHA-256 over a sequence of chunks; update() them in order, then digest() once. */
export class OffThreadSha256 {
  private readonly id = nextId++

  constructor() {
    waiting.set(this.id, [])
    ensureWorker().ref()
  }

  /**
   * Hashes `chunk`; resolves to the same bytes (in a Buffer of their own) once they are hashed.
   * `chunk` is given away: when it owns its memory, that memory moves to the worker and back.
   */
  async update(chunk: Buffer): Promise<Buffer> {
    // Only a whole ArrayBuffer can be transferred: a chunk sharing one with other data is copied.
    const own = chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength && chunk.buffer instanceof ArrayBuffer
    const buffer = own ? (chunk.buffer as ArrayBuffer) : new Uint8Array(chunk).buffer
    const r = await ask(this.id, { id: this.id, buffer }, [buffer])
    return Buffer.from(r.buffer!)
  }

  /** The hex digest; the hash is done with (call once). */
  async digest(): Promise<string> {
    try {
      return (await ask(this.id, { id: this.id }, [])).digest!
    } finally {
      this.forget()
    }
  }

  /** Drops the hash without its digest (a failed upload); the worker no longer keeps the process alive for it. */
  abandon(): void {
    if (!waiting.has(this.id)) return
    worker?.postMessage({ id: this.id }) // the worker drops its state on a digest request
    this.forget()
  }

  private forget(): void {
    waiting.delete(this.id)
    if (waiting.size === 0) worker?.unref()
  }
}
