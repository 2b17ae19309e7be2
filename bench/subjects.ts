/**
 * The things a workload is run against, behind one small interface: chainlog on each core, the
 * peers (hypercore, classic-level), chainlog's floor (the native core's encode and a write, no
 * engine) and the raw-disk baseline. Each adapter does what its library does best for the
 * operation (batch appends, its own read stream), so the comparison is fair.
 */
import { closeSync, fdatasync, fdatasyncSync, openSync, readSync, readdirSync, statSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { CODEC_NONE, KIND_DATA, TREE_FRONTIER_BYTES } from '../ts/core/interface.ts'
import { HASH_BYTES, RECORD_OVERHEAD } from '../ts/core/format.ts'
import { loadCore } from '../ts/core/load.ts'
import { Log } from '../ts/index.ts'
import { generateKey } from '../ts/tlog/index.ts'

/**
 * 'native+journal' and 'js+journal': chainlog with the store journal on (LogOptions.journal; W3m).
 * 'native+tree' and 'floor+tree': the Merkle tree on (SubjectOptions.tree; W1).
 */
export type SubjectName = 'native' | 'js' | 'native+journal' | 'js+journal' | 'native+tree' | 'hypercore' | 'level' | 'floor' | 'floor+tree' | 'raw'
export type Codec = 'none' | 'zstd' | 'lz4'

export interface SubjectOptions {
  sync: 'always' | 'never'
  compression?: Codec
  /** The floor only: an async fdatasync every this many bytes, one in flight, as the engine's write-behind (bench/w1-engine.ts). */
  writeBehindBytes?: number
  /**
   * The Merkle tree on: chainlog opened with `tlog` (its trees follow the commit path, each
   * encodeBatch call extending them, and checkpoints carry signed notes); the floor extends the
   * stream's tree in its encode call the same way (bench/w1-engine.ts).
   */
  tree?: boolean
}

export interface Subject {
  /**
   * Appends one batch (to `stream`, for W3m; else to the subject's one stream); resolves when the
   * subject says it is written (and synced, under 'always').
   */
  append(batch: Buffer[], stream?: string): Promise<void>
  /** Reads every record in order (chainlog: chain verified from checkpoints); returns the count. */
  readAll(): Promise<number>
  /**
   * Reads the record at `index` in the subject's own form (chainlog: a LogRecord; hypercore and
   * level: the value), or undefined when there is none. The subject's own call, returned as is:
   * no extra async hop that one subject pays and another does not.
   */
  get(index: number): Promise<unknown>
  close(): Promise<void>
}

const STREAM = 'bench'
const TREE_ORIGIN = 'bench.example/tree'
const CHUNK = 64 * 1024

export async function openSubject(name: SubjectName, dir: string, opts: SubjectOptions): Promise<Subject> {
  switch (name) {
    case 'native':
    case 'js':
      return openChainlog(name, dir, opts)
    case 'native+journal':
    case 'js+journal':
      return openChainlog(name === 'native+journal' ? 'native' : 'js', dir, opts, true)
    case 'native+tree':
      return openChainlog('native', dir, { ...opts, tree: true })
    case 'hypercore':
      return openHypercore(dir)
    case 'level':
      return openLevel(dir, opts)
    case 'floor':
      return openFloor(dir, opts)
    case 'floor+tree':
      return openFloor(dir, { ...opts, tree: true })
    case 'raw':
      return openRaw(dir, opts)
  }
}

async function openChainlog(backend: 'native' | 'js', dir: string, opts: SubjectOptions, journal = false): Promise<Subject> {
  const tlog = opts.tree === true ? { origin: TREE_ORIGIN, signer: generateKey(TREE_ORIGIN).skey } : undefined
  const log = await Log.open(dir, { backend, sync: opts.sync, compression: opts.compression ?? 'none', journal, ...(tlog === undefined ? {} : { tlog }) })
  return {
    async append(batch, stream = STREAM) {
      await log.append(stream, batch)
    },
    async readAll() {
      let n = 0
      for await (const _record of log.iterate(STREAM, { verify: 'checkpoint' })) n++
      return n
    },
    get: (index) => log.get(STREAM, index),
    close: () => log.close(),
  }
}

// hypercore never fsyncs on append, so it is only compared under sync 'never' (and said so).
async function openHypercore(dir: string): Promise<Subject> {
  const { default: Hypercore } = await import('hypercore')
  const core = new Hypercore(dir)
  await core.ready()
  return {
    async append(batch) {
      await core.append(batch)
    },
    async readAll() {
      let n = 0
      for await (const _block of core.createReadStream()) n++
      return n
    },
    get: (index) => core.get(index),
    close: () => core.close(),
  }
}

async function openLevel(dir: string, opts: SubjectOptions): Promise<Subject> {
  const { ClassicLevel } = await import('classic-level')
  const db = new ClassicLevel<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' })
  await db.open()
  let next = 0
  // Big-endian keys keep LevelDB's order equal to append order; W3m's streams are a key prefix.
  const key = (i: number, stream = '') => {
    const k = Buffer.alloc(stream.length + 8)
    k.write(stream, 'latin1')
    k.writeBigUInt64BE(BigInt(i), stream.length)
    return k
  }
  return {
    async append(batch, stream) {
      await db.batch(batch.map((value) => ({ type: 'put' as const, key: key(next++, stream), value })), { sync: opts.sync === 'always' })
    },
    async readAll() {
      let n = 0
      for await (const _entry of db.iterator()) n++
      return n
    },
    get: (index) => db.get(key(index)),
    close: () => db.close(),
  }
}

/**
 * chainlog's floor, for W1 and W2: what an append of these records cannot skip — the events
 * copied into one buffer (the caller may reuse its own), the native core's encodeBatch (the
 * format's hashing and framing) and one write (fdatasync under 'always') — with none of the
 * engine around it: no queue, offset index, checkpoints, rotation or write-behind. native/floor
 * is what the engine costs, floor/raw what the format costs.
 */
async function openFloor(dir: string, opts: SubjectOptions): Promise<Subject> {
  const core = await loadCore('native')
  const fd = openSync(join(dir, 'floor.log'), 'w')
  let payloads = Buffer.alloc(0)
  let frames = Buffer.alloc(0)
  let prevHash: Buffer = Buffer.alloc(HASH_BYTES)
  let offset = 0
  let position = 0
  let sinceSync = 0
  let syncing: Promise<void> | null = null
  const frontier = opts.tree === true ? Buffer.alloc(TREE_FRONTIER_BYTES) : undefined
  const unsupported = async (): Promise<never> => {
    throw new Error('the floor subject only appends')
  }
  return {
    async append(batch) {
      const lengths = new Uint32Array(batch.length)
      let total = 0
      for (let i = 0; i < batch.length; i++) total += lengths[i] = batch[i].length
      if (payloads.length < total) payloads = Buffer.allocUnsafe(total)
      for (let i = 0, at = 0; i < batch.length; at += lengths[i], i++) payloads.set(batch[i], at)
      const bound = total + batch.length * RECORD_OVERHEAD // encodeBatch writes into `frames` when it holds this
      if (frames.length < bound) frames = Buffer.allocUnsafe(bound)
      const r = core.encodeBatch({
        hash: 'blake3', stream: STREAM, firstOffset: offset, prevHash, kind: KIND_DATA, codec: CODEC_NONE, level: 0,
        payloads: payloads.subarray(0, total), lengths, timestamps: new Float64Array(batch.length).fill(Date.now()), into: frames,
        treeFrontier: frontier,
      })
      if (frontier !== undefined && r.tree !== null) r.tree.copy(frontier, 0, 0, TREE_FRONTIER_BYTES) // the next batch extends the new compact range
      for (let done = 0; done < r.bytes.length; ) done += writeSync(fd, r.bytes, done, r.bytes.length - done, position + done)
      position += r.bytes.length
      offset += batch.length
      prevHash = r.lastHash
      if (opts.sync === 'always') fdatasyncSync(fd)
      else if (opts.writeBehindBytes !== undefined && (sinceSync += r.bytes.length) >= opts.writeBehindBytes) {
        if (syncing === null) {
          sinceSync = 0
          syncing = new Promise<void>((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve()))).finally(() => {
            syncing = null
          })
        } else await new Promise((resolve) => setImmediate(resolve)) // let its callback run, as the engine does
      }
    },
    readAll: unsupported,
    get: unsupported,
    async close() {
      await syncing
      closeSync(fd)
    },
  }
}

/**
 * The physical limit: the same number of framed bytes (payload + 66 bytes of framing per record)
 * written with fs.writeSync in 64 KiB chunks, no hashing; fdatasync per batch under 'always'.
 */
function openRaw(dir: string, opts: SubjectOptions): Subject {
  const file = join(dir, 'raw.log')
  const fd = openSync(file, 'a')
  const pending = Buffer.alloc(CHUNK)
  let fill = 0
  const flush = () => {
    if (fill > 0) writeSync(fd, pending, 0, fill)
    fill = 0
  }
  return {
    async append(batch) {
      for (const payload of batch) {
        const frame = payload.length + 66
        if (fill + frame > CHUNK) flush()
        if (frame > CHUNK) {
          writeSync(fd, Buffer.alloc(66))
          writeSync(fd, payload)
          continue
        }
        pending.fill(0, fill, fill + 58)
        payload.copy(pending, fill + 58)
        pending.fill(0, fill + 58 + payload.length, fill + frame)
        fill += frame
      }
      flush()
      if (opts.sync === 'always') fdatasyncSync(fd)
    },
    async readAll() {
      flush()
      const rfd = openSync(file, 'r')
      const buf = Buffer.alloc(CHUNK)
      let bytes = 0
      for (let n: number; (n = readSync(rfd, buf, 0, CHUNK, null)) > 0; ) bytes += n
      closeSync(rfd)
      return bytes
    },
    async get() {
      return undefined
    },
    async close() {
      flush()
      closeSync(fd)
    },
  }
}

/** Bytes of all files under `dir`: what a workload left on disk (for compression ratios). */
export function bytesOnDisk(dir: string): number {
  let total = 0
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += statSync(join(entry.parentPath, entry.name)).size
  }
  return total
}
