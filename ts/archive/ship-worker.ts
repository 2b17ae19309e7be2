/**
 * The archive's shipping thread (ship-thread.ts starts it): an S3 client of its own, and the
 * sealed segments' uploads read from their files here, so none of that work runs on the event
 * loop the appends use. Answers every request with its result or a ChainlogError's code,
 * message and details; bodies it sends back are moved, not copied.
 */
import { createHash } from 'node:crypto'
import { getPriority, setPriority } from 'node:os'
import { parentPort } from 'node:worker_threads'
import { ChainlogError } from '../errors.ts'
import { openFileRange } from '../storage/file-range.ts'
import { multipartUpload, ObjectStore } from './s3.ts'
import { type ChunkHash, uploadSegment } from './segment-upload.ts'
import type { ShipReply, ShipRequest, WireError } from './ship-thread.ts'

/** With ArchiverOptions.lowPriority, how much lower than the process this thread runs (Linux nice steps). */
const NICE_STEPS = 10

const port = parentPort!
let objects: Promise<ObjectStore> | null = null

port.on('message', (m: ShipRequest) => {
  handle(m).then(
    ({ value, transfer }) => port.postMessage({ id: m.id, ok: true, value } satisfies ShipReply, transfer),
    (err: unknown) => port.postMessage({ id: m.id, ok: false, error: toWire(err) } satisfies ShipReply),
  )
})

async function handle(m: ShipRequest): Promise<{ value: unknown; transfer: ArrayBuffer[] }> {
  if (m.op === 'open') {
    // The process's multipart settings (tests and the bench lower them) hold on this thread too.
    Object.assign(multipartUpload, m.multipart)
    if (m.lowPriority) lowerThreadPriority(NICE_STEPS)
    objects = ObjectStore.open(m.url, m.config)
    objects.catch(() => {}) // reported to this request; later ones get it again
    await objects
    return { value: null, transfer: [] }
  }
  if (objects === null) throw new ChainlogError('ERR_CLOSED', 'the shipping thread has no S3 client (no open request came first)')
  const store = await objects
  switch (m.op) {
    case 'get': {
      const found = await store.get(m.rel)
      if (found === null) return { value: null, transfer: [] }
      const body = owned(found.body)
      return { value: { body, etag: found.etag }, transfer: [body.buffer as ArrayBuffer] }
    }
    case 'put':
      return { value: await store.put(m.rel, m.body, m.cond), transfer: [] }
    case 'putOnce':
      return { value: await store.putOnce(m.rel, m.body), transfer: [] }
    case 'exists':
      return { value: await store.exists(m.rel), transfer: [] }
    case 'remove':
      return { value: await store.remove(m.rel), transfer: [] }
    case 'list':
      return { value: await store.list(m.rel, m.delimiter), transfer: [] }
    case 'uploadFile':
      return { value: await uploadFile(store, m.key, m.path, m.size, m.recordStarts), transfer: [] }
  }
}

async function uploadFile(store: ObjectStore, key: string, path: string, size: number, recordStarts: Float64Array) {
  let file: Awaited<ReturnType<typeof openFileRange>>
  try {
    file = await openFileRange(path)
  } catch (err) {
    throw readFailure(err, path)
  }
  try {
    const read = (position: number, length: number) => file.read(position, length).catch((err: unknown) => Promise.reject(readFailure(err, path)))
    return await uploadSegment(store, key, size, read, recordStarts, () => new ThreadHash())
  } finally {
    await file.close().catch(() => {})
  }
}

function readFailure(err: unknown, path: string): ChainlogError {
  const errno = (err as { code?: string })?.code
  return new ChainlogError('ERR_IO', `reading ${path} to ship it failed: ${(err as Error)?.message ?? err}`, { errno })
}

/** SHA-256 on this thread (it is the thread the hashing was to be kept off the appends' loop by). */
class ThreadHash implements ChunkHash {
  private readonly h = createHash('sha256')
  update(chunk: Buffer): Buffer {
    this.h.update(chunk)
    return chunk
  }
  digest(): string {
    return this.h.digest('hex')
  }
  abandon(): void {}
}

/** A Uint8Array over memory of its own (a copy when it shares a larger buffer), to be moved to the other thread. */
function owned(b: Uint8Array): Uint8Array {
  return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength && b.buffer instanceof ArrayBuffer ? b : new Uint8Array(b)
}

function toWire(err: unknown): WireError {
  if (!(err instanceof ChainlogError)) return { code: 'ERR_IO', message: `the archive's shipping thread: ${(err as Error)?.message ?? err}`, details: {} }
  const details: WireError['details'] = {}
  // The cause (an SDK or fs error) stays here: only plain fields cross.
  for (const [k, v] of Object.entries(err.details)) if (k !== 'cause' && (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')) details[k] = v
  return { code: err.code, message: err.message, details }
}

/**
 * Lowers this thread's scheduling priority alone. Linux keeps a nice value per thread, and
 * setpriority() for "the caller" (ID 0) sets the calling thread's only; elsewhere it would set the
 * whole process's, so other systems (and a refusal) keep the process's priority: shipping still
 * works, it just competes with the appends as an equal.
 */
function lowerThreadPriority(steps: number): void {
  if (process.platform !== 'linux') return
  try {
    setPriority(0, Math.min(19, getPriority(0) + steps))
  } catch {
    // not permitted here (a sandbox): keep the process's priority
  }
}
