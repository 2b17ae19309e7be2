// Log.memory(): the same API, records, hashes and files as a store on disk, with no file touched;
// saveTo(dir) writes it out as a store that Log.open and the CLI accept.
import test from 'ava'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { BACKENDS } from './helpers/cores.ts'
import { CLI, ensureBuilt } from './helpers/dist.ts'
import { codeOf, openLog, tempDir } from './helpers/log-dir.ts'
import { Log, type LogOptions } from '../ts/index.ts'

/** Every file under `dir` (relative path → bytes), LOCK aside. */
function filesOf(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>()
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name)
      if (e.isDirectory()) walk(p)
      else if (e.name !== 'LOCK') out.set(relative(dir, p), readFileSync(p))
    }
  }
  walk(dir)
  return out
}

/** The same appends, with caller timestamps, to any log: batches, conditions, checkpoints, rotation. */
async function workload(log: Log): Promise<void> {
  let ts = 1_700_000_000_000
  for (let i = 0; i < 40; i++) {
    const batch = Array.from({ length: 1 + (i % 7) }, (_, k) => `event-${i}-${k}-${'x'.repeat((i * 37 + k * 11) % 300)}`)
    const stream = ['orders', 'users', '42'][i % 3]
    await log.append(stream, batch, { timestamp: (ts += 3) })
  }
  const head = await log.head('orders')
  await log.append('orders', 'conditional', { expectedOffset: head.nextOffset, expectedHash: head.hash, timestamp: (ts += 1) })
  await log.checkpoint('users')
  // A group: concurrent appends to one stream go out together.
  await Promise.all(Array.from({ length: 20 }, (_, i) => log.append('users', `concurrent-${i}`, { timestamp: ts + 10 })))
  await log.flush()
}

const SHAPES: Array<[string, LogOptions]> = [
  ['plain', {}],
  ['small segments, checkpoint every 5, zstd', { maxSegmentBytes: 4096, checkpointEvery: 5, compression: 'zstd' }],
  ['lz4, sha256, no checkpoint policy', { compression: 'lz4', hash: 'sha256', checkpointEvery: false }],
]

for (const backend of BACKENDS) {
  for (const [shape, options] of SHAPES) {
    test(`${backend}: a memory log writes the same files, byte for byte, as a disk store given the same appends (${shape})`, async (t) => {
      const disk = await openLog(t, backend, tempDir(t), options)
      const diskDir = (disk as unknown as { ctx: { dir: string } }).ctx.dir
      const mem = await Log.memory({ backend, ...options })
      t.teardown(() => mem.close().catch(() => {}))
      await workload(disk)
      await workload(mem)
      for (const stream of await disk.streams()) {
        t.deepEqual(await mem.head(stream), await disk.head(stream))
        const a = await disk.read(stream, { verify: 'genesis' })
        const b = await mem.read(stream, { verify: 'genesis' })
        t.deepEqual(b, a)
      }
      t.deepEqual(await mem.streams(), await disk.streams())
      const saved = join(tempDir(t, 'saved'), 'store')
      await mem.saveTo(saved)
      const want = filesOf(diskDir)
      const got = filesOf(saved)
      t.deepEqual([...got.keys()].sort(), [...want.keys()].sort().filter((f) => f !== 'chainlog.json').concat('chainlog.json').sort())
      for (const [file, bytes] of want) {
        if (file === 'chainlog.json') continue // holds its creation time
        t.true(got.get(file)?.equals(bytes), `${file} differs`)
      }
      // Closing writes the same closing checkpoints on both.
      await disk.close()
      await mem.close()
    })
  }

  test(`${backend}: saveTo writes a store that Log.open reads and verifies, and the CLI verifies`, async (t) => {
    const mem = await Log.memory({ backend, checkpointEvery: 3 })
    t.teardown(() => mem.close().catch(() => {}))
    await mem.append('s', ['a', 'b', 'c', 'd'])
    await mem.append(7, 'seven')
    const dir = join(tempDir(t, 'saved'), 'nested', 'store')
    await mem.saveTo(dir)
    const log = await openLog(t, backend, dir)
    t.true((await log.verify()).ok)
    t.deepEqual((await log.read('s')).map((r) => r.payload.toString()), ['a', 'b', 'c', 'd'])
    t.deepEqual(await log.streams(), ['7', 's'])
    t.deepEqual(await log.head('s'), await mem.head('s'))
    await log.close()
    ensureBuilt()
    const r = spawnSync(process.execPath, [CLI, 'verify', dir], { encoding: 'utf8', env: { ...process.env, CHAINLOG_BACKEND: backend } })
    t.is(r.status, 0, r.stdout + r.stderr)
  })

  test(`${backend}: a memory log checks what it holds: a byte changed in memory is found by verify and by reads`, async (t) => {
    const mem = await Log.memory({ backend })
    t.teardown(() => mem.close().catch(() => {}))
    await mem.append('s', ['first', 'second', 'third'])
    const files = (mem as unknown as { ctx: { storage: { entries(): Array<[string, Buffer]> } } }).ctx.storage.entries()
    const segment = files.find(([p]) => p.endsWith('segment_000000.log'))![1]
    const at = segment.indexOf('second')
    segment[at] ^= 0x01 // the storage hands out its own bytes here: a stand-in for damage
    const report = await mem.verify('s')
    t.false(report.ok)
    t.is(report.streams[0].problems[0].offset, 1)
    const err = await t.throwsAsync(mem.read('s', { verify: 'genesis' }))
    t.true(['ERR_CORRUPT', 'ERR_CHAIN_BROKEN'].includes(codeOf(err)!))
  })

  test(`${backend}: memory logs are independent of each other, and close() frees one`, async (t) => {
    const a = await Log.memory({ backend })
    const b = await Log.memory({ backend })
    t.teardown(() => Promise.all([a.close(), b.close()]).then(() => {}))
    await a.append('s', 'only in a')
    t.deepEqual(await b.streams(), [])
    t.is((await b.head('s')).nextOffset, 0)
    const storage = (a as unknown as { ctx: { storage: { bytesHeld(): number } } }).ctx.storage
    t.true(storage.bytesHeld() > 0)
    await a.close()
    t.is(storage.bytesHeld(), 0)
    t.is(codeOf(await t.throwsAsync(a.append('s', 'x'))), 'ERR_CLOSED')
    t.is(codeOf(await t.throwsAsync(a.saveTo(tempDir(t)))), 'ERR_CLOSED')
  })

  test(`${backend}: memory options and saveTo refuse bad input with a ChainlogError and write nothing`, async (t) => {
    t.is(codeOf(await t.throwsAsync(Log.memory({ backend, readOnly: true }))), 'ERR_INVALID_ARGUMENT')
    t.is(codeOf(await t.throwsAsync(Log.memory({ backend, maxSegmentBytes: -1 }))), 'ERR_INVALID_ARGUMENT')
    t.is(codeOf(await t.throwsAsync(Log.memory({ backend, bogus: 1 } as LogOptions))), 'ERR_INVALID_ARGUMENT')
    for (const sync of ['always', 'never'] as const) {
      const m = await Log.memory({ backend, sync })
      await m.append('s', 'x', { sync: 'always' })
      t.is((await m.read('s')).length, 1)
      await m.close()
    }
    const mem = await Log.memory({ backend })
    t.teardown(() => mem.close().catch(() => {}))
    await mem.append('s', 'x')
    const full = tempDir(t)
    writeFileSync(join(full, 'keep.txt'), 'mine')
    t.is(codeOf(await t.throwsAsync(mem.saveTo(full))), 'ERR_INVALID_ARGUMENT')
    t.deepEqual(readdirSync(full), ['keep.txt'])
    for (const bad of ['', 42, null] as unknown[]) t.is(codeOf(await t.throwsAsync(mem.saveTo(bad as string))), 'ERR_INVALID_ARGUMENT')
    const file = join(tempDir(t), 'a-file')
    writeFileSync(file, 'x')
    t.is(codeOf(await t.throwsAsync(mem.saveTo(join(file, 'store')))), 'ERR_IO')
    const disk = await openLog(t, backend, tempDir(t))
    t.is(codeOf(await t.throwsAsync(disk.saveTo(tempDir(t)))), 'ERR_UNSUPPORTED')
  })

  test(`${backend}: a memory log touches no file: the whole API runs with every fs call counted, in a fresh working and temp directory`, async (t) => {
    const cwd = mkdtempSync(join(tmpdir(), 'chainlog-memory-cwd-'))
    const tmp = mkdtempSync(join(tmpdir(), 'chainlog-memory-tmp-'))
    t.teardown(() => {
      rmSync(cwd, { recursive: true, force: true })
      rmSync(tmp, { recursive: true, force: true })
    })
    const script = fileURLToPath(new URL('./helpers/memory-no-files.ts', import.meta.url))
    const out = execFileSync(process.execPath, [`--import=${import.meta.resolve('tsx')}`, script, backend], { cwd, env: { ...process.env, TMPDIR: tmp }, encoding: 'utf8' })
    const result = JSON.parse(out.trim().split('\n').pop()!)
    t.deepEqual(result.fsCalls, [], 'no fs call while the memory log ran')
    t.true(result.records > 0)
    t.deepEqual(readdirSync(cwd), [])
    t.deepEqual(readdirSync(tmp).filter((n) => !n.startsWith('tsx-')), []) // tsx keeps its compile cache there
    t.throws(() => statSync('/chainlog-memory'), { code: 'ENOENT' })
    mkdirSync(join(cwd, 'x')) // the directory itself is usable (a sanity check of the check)
    t.deepEqual(readdirSync(cwd), ['x'])
  })
}
