/**
 * iterate and read without a limit decode chunks ahead (several at once) and confirm a chunk's
 * last hash with the next chunk's first prev_hash. They must hand out exactly what a reader
 * without read-ahead can (read with a limit reads chunk by chunk), and fail with the same code,
 * wherever damage lies relative to the chunk ends.
 */
import test from 'ava'
import { crc32 } from 'node:zlib'
import { BACKENDS } from './helpers/cores.ts'
import { codeOf, openLog, readSegment, tempDir, writeSegment } from './helpers/log-dir.ts'
import { Log, type LogOptions } from '../ts/index.ts'

const PAYLOAD = 300
const RECORD = 66 + PAYLOAD
const RECORDS = 12_000 // about 4.2 MiB: four 1 MiB read chunks and more
/** Records per 1 MiB read chunk when every record is RECORD bytes (no checkpoints). */
const PER_CHUNK = Math.floor((1024 * 1024) / RECORD)

function payload(i: number): Buffer {
  const b = Buffer.alloc(PAYLOAD, i % 251)
  b.writeUInt32LE(i, 0)
  return b
}

async function build(t: Parameters<typeof tempDir>[0], backend: (typeof BACKENDS)[number], options: LogOptions): Promise<string> {
  const dir = tempDir(t)
  const log = await Log.open(dir, { backend, sync: 'never', ...options })
  for (let i = 0; i < RECORDS; i += 1000) await log.append('s', Array.from({ length: 1000 }, (_, k) => payload(i + k)))
  await log.close()
  return dir
}

/** Flips a payload byte of the record at byte position `at`; `fixCrc`: tampering, else plain corruption. */
function damage(dir: string, at: number, fixCrc: boolean): void {
  const seg = readSegment(dir, 's')
  const length = seg.readUInt32LE(at + 54)
  seg[at + 58 + 10] ^= 0x01
  if (fixCrc) seg.writeUInt32LE(crc32(seg.subarray(at, at + 58 + length)) >>> 0, at + 58 + length)
  writeSegment(dir, 's', 0, seg)
}

/** Offsets iterate hands out before it fails, and the failure's code. */
async function iterateUntilFailure(log: Log, from = 0): Promise<{ offsets: number[]; code: string | undefined }> {
  const offsets: number[] = []
  try {
    for await (const r of log.iterate('s', { from })) {
      t0check(r.payload, r.offset)
      offsets.push(r.offset)
    }
  } catch (err) {
    return { offsets, code: codeOf(err) }
  }
  return { offsets, code: undefined }
}

function t0check(p: Buffer, offset: number): void {
  if (p.length !== PAYLOAD) throw new Error(`record ${offset}: ${p.length} bytes`)
}

/** The most records a read with a limit (no read-ahead) returns from `from` before failing. */
async function longestLimitedRead(log: Log, from: number, upTo: number): Promise<number> {
  let lo = 0
  let hi = upTo
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2)
    const ok = await log.read('s', { from, limit: mid }).then((r) => r.length === mid, () => false)
    if (ok) lo = mid
    else hi = mid - 1
  }
  return lo
}

for (const backend of BACKENDS) {
  test(`${backend}: iterate and read over many chunks return every record, in order, as a limited read does`, async (t) => {
    const dir = await build(t, backend, { checkpointEvery: 1000 })
    const log = await openLog(t, backend, dir)
    const all = await log.read('s')
    const { offsets, code } = await iterateUntilFailure(log)
    t.is(code, undefined)
    t.is(offsets.length, RECORDS)
    t.deepEqual(offsets, all.map((r) => r.offset))
    for (const k of [0, 1, PER_CHUNK - 1, PER_CHUNK, 2 * PER_CHUNK + 5, RECORDS - 1]) {
      t.is(all[k].payload.readUInt32LE(0), k)
    }
    const limited = await log.read('s', { limit: RECORDS })
    t.true(limited.every((r, k) => r.hash.equals(all[k].hash) && r.prevHash.equals(all[k].prevHash) && r.payload.equals(all[k].payload)))
    // From the middle, anchored on a checkpoint.
    const from = all[5000].offset
    const tail = await iterateUntilFailure(log, from)
    t.deepEqual(tail.offsets, all.slice(5000).map((r) => r.offset))
  })

  // Records around the second and third chunk ends (no checkpoints, so the chunks are regular).
  const places = [2 * PER_CHUNK - 1, 2 * PER_CHUNK, 2 * PER_CHUNK + 1, 2 * PER_CHUNK + 700, 3 * PER_CHUNK - 1, 3 * PER_CHUNK]
  for (const fixCrc of [true, false]) {
    const what = fixCrc ? 'tampering (CRC fixed)' : 'a flipped payload bit'
    test(`${backend}: ${what} in a later chunk stops iterate and read where a read without read-ahead stops, with the same code`, async (t) => {
      const clean = await build(t, backend, { checkpointEvery: false })
      const bytes = readSegment(clean, 's')
      for (const n of places) {
        writeSegment(clean, 's', 0, bytes)
        damage(clean, n * RECORD, fixCrc)
        const log = await Log.open(clean, { backend, checkpointEvery: false, readOnly: true })
        try {
          const got = await iterateUntilFailure(log)
          t.is(got.code, fixCrc ? 'ERR_CHAIN_BROKEN' : 'ERR_CORRUPT', `record ${n}`)
          t.deepEqual(got.offsets, Array.from({ length: got.offsets.length }, (_, k) => k), `record ${n}: a prefix`)
          t.true(got.offsets.length <= n, `record ${n}: nothing from the damaged record on`)
          t.is(got.offsets.length, await longestLimitedRead(log, 0, n + 1), `record ${n}: as far as a limited read`)
          t.is(codeOf(await t.throwsAsync(log.read('s'))), got.code, `record ${n}: read`)
        } finally {
          await log.close()
        }
      }
    })
  }
}
