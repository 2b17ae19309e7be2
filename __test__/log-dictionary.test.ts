/**
 * log.trainDictionary and form 4 through the engine: training on the stream's own events, the
 * files it stores (durable before any record uses them), reopen, a deleted or edited dictionary
 * reported as damage (reads ERR_CORRUPT naming it, verify lists it, appends go on without it),
 * a SIGKILL during training, and bad input. The native core writes form 4; the JS core reads
 * stores the native core wrote, and refuses to train or to append to a stream with a dictionary.
 */
import test from 'ava'
import { spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, writeFileSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Log } from '../ts/index.ts'
import { BACKENDS } from './helpers/cores.ts'
import { openLog, tempDir } from './helpers/log-dir.ts'
import { jsonEvents } from './helpers/json-events.ts'

const TRAINER = fileURLToPath(new URL('./helpers/dictionary-trainer.ts', import.meta.url))
const KIND_AT = 52
const FORM_AT = 53
const LENGTH_AT = 54

/** The form byte of every data record in a stream's segment files (records end to end, SPEC §2). */
function formsOnDisk(dir: string, stream: string): number[] {
  const forms: number[] = []
  const files = readdirSync(join(dir, stream)).filter((f) => /^segment_\d+\.log$/.test(f)).sort()
  for (const f of files) {
    const d = readFileSync(join(dir, stream, f))
    for (let i = 0; i + 66 <= d.length; i += 66 + d.readUInt32LE(i + LENGTH_AT)) if ((d[i + KIND_AT] & 0x7f) === 0) forms.push(d[i + FORM_AT])
  }
  return forms
}

/**
 * A store whose stream 'events' holds 2000 events as form 2, a dictionary, then 2000 as form 4
 * (native core). Each test passes its own `seed`: the loaded dictionaries are process-wide and
 * shared by ID, so tests that lose one must not train the same one as a test running beside them.
 */
async function storeWithDictionary(t: import('ava').ExecutionContext, seed: number): Promise<{ dir: string; events: string[]; id: number; file: string }> {
  const dir = tempDir(t, 'dict')
  const log = await Log.open(dir, { backend: 'native', compression: 'zstd', checkpointEvery: false })
  const before = jsonEvents(seed * 1_000_000, 2000)
  await log.append('events', before)
  const r = await log.trainDictionary('events', { samples: 2000 })
  t.is(r.samples, 2000)
  t.is(r.file, `dictionary-${r.id}.zdict`)
  t.true(r.bytes > 0 && r.bytes <= 16 * 1024)
  const after = jsonEvents(seed * 1_000_000 + 5000, 2000)
  for (let k = 0; k < after.length; k += 500) await log.append('events', after.slice(k, k + 500))
  await log.close()
  return { dir, events: [...before, ...after], id: r.id, file: r.file }
}

const seedOf = (backend: string, n: number) => (backend === 'native' ? 10 : 20) + n

for (const backend of BACKENDS) {
  test(`${backend}: records after trainDictionary are form 4, read back byte for byte, verify, and survive reopen`, async (t) => {
    const { dir, events, id, file } = await storeWithDictionary(t, seedOf(backend, 1))
    const forms = formsOnDisk(dir, 'events')
    t.deepEqual([...new Set(forms.slice(0, 2000))], [2])
    t.deepEqual([...new Set(forms.slice(2000))], [4])
    const list = JSON.parse(readFileSync(join(dir, 'events', 'dictionaries.json'), 'utf8'))
    t.deepEqual(list.dictionaries.map((e: { id: number; file: string }) => [e.id, e.file]), [[id, file]])
    const log = await openLog(t, backend, dir)
    const got = await log.read('events', { from: 0, verify: 'genesis' })
    t.deepEqual(got.map((r) => r.payload.toString()), events)
    t.is((await log.get('events', 3999))?.payload.toString(), events[3999])
    const report = await log.verify()
    t.true(report.ok, JSON.stringify(report.streams[0].problems))
  })

  test(`${backend}: a deleted dictionary is damage: reads of records needing it are ERR_CORRUPT naming it, verify lists it, open and older records are fine`, async (t) => {
    const { dir, events, id, file } = await storeWithDictionary(t, seedOf(backend, 2))
    unlinkSync(join(dir, 'events', file))
    const log = await openLog(t, backend, dir)
    t.deepEqual((await log.read('events', { from: 0, limit: 2000 })).map((r) => r.payload.toString()), events.slice(0, 2000))
    await t.throwsAsync(log.read('events', { from: 2500, limit: 10 }), { code: 'ERR_CORRUPT', message: new RegExp(`dictionary ${id}`) })
    await t.throwsAsync(log.get('events', 3000), { code: 'ERR_CORRUPT' })
    const report = await log.verify('events')
    t.false(report.ok)
    const messages = report.streams[0].problems.map((p) => p.message)
    t.true(messages.some((m) => m.includes(`zstd dictionary ${id}`) && m.includes('missing')), messages.join('\n'))
  })

  test(`${backend}: an edited dictionary is damage: verify names it, its records do not read, nothing crashes`, async (t) => {
    const { dir, id, file } = await storeWithDictionary(t, seedOf(backend, 3))
    const path = join(dir, 'events', file)
    const bytes = readFileSync(path)
    bytes[bytes.length - 10] ^= 0x55
    writeFileSync(path, bytes)
    const log = await openLog(t, backend, dir)
    await t.throwsAsync(log.read('events', { from: 3000, limit: 5 }), { code: 'ERR_CORRUPT' })
    const report = await log.verify()
    t.false(report.ok)
    t.true(report.streams[0].problems.some((p) => p.message.includes(`zstd dictionary ${id}`) && p.message.includes('damaged')))
  })
}

test('native: after a lost dictionary, appends go on without one (form 2) and read back', async (t) => {
  const { dir, file } = await storeWithDictionary(t, 7)
  unlinkSync(join(dir, 'events', file))
  const log = await openLog(t, 'native', dir, { compression: 'zstd' })
  const more = jsonEvents(90_000, 100)
  const r = await log.append('events', more)
  t.deepEqual((await log.read('events', { from: r.firstOffset })).map((x) => x.payload.toString()), more)
  t.deepEqual([...new Set(formsOnDisk(dir, 'events').slice(-100))], [2])
})

test('native: a second dictionary replaces the first for new records; both stay readable after reopen', async (t) => {
  const { dir, events, id } = await storeWithDictionary(t, 8)
  const log = await openLog(t, 'native', dir, { compression: 'zstd' })
  const r = await log.trainDictionary('events', { samples: jsonEvents(70_000, 1500), maxBytes: 4096 })
  t.not(r.id, id)
  const more = jsonEvents(80_000, 300)
  await log.append('events', more)
  await log.close()
  const again = await openLog(t, 'native', dir)
  t.deepEqual((await again.read('events', { from: 0, verify: 'genesis' })).map((x) => x.payload.toString()), [...events, ...more])
  t.true((await again.verify()).ok)
  const list = JSON.parse(readFileSync(join(dir, 'events', 'dictionaries.json'), 'utf8'))
  t.deepEqual(list.dictionaries.map((e: { id: number }) => e.id), [id, r.id])
})

test('js: refuses to train, and to append zstd records to a stream with a dictionary (ERR_UNSUPPORTED); appends without zstd go on', async (t) => {
  const { dir } = await storeWithDictionary(t, 9)
  const log = await openLog(t, 'js', dir, { compression: 'zstd' })
  await t.throwsAsync(log.trainDictionary('events'), { code: 'ERR_UNSUPPORTED' })
  await t.throwsAsync(log.append('events', ['{"a":1}']), { code: 'ERR_UNSUPPORTED' })
  await log.append('plain', ['{"a":1}'])
  await log.close()
  const lz4 = await openLog(t, 'js', dir, { compression: 'lz4' })
  const more = jsonEvents(1, 3)
  const r = await lz4.append('events', more)
  t.deepEqual((await lz4.read('events', { from: r.firstOffset })).map((x) => x.payload.toString()), more)
  t.true((await lz4.verify()).ok)
})

for (const backend of BACKENDS) {
  test(`${backend}: trainDictionary refuses bad input with stable codes and stores nothing`, async (t) => {
    const dir = tempDir(t, 'dict-bad')
    const log = await openLog(t, backend, dir, { compression: 'zstd' })
    await log.append('s', jsonEvents(0, 50))
    const nothingStored = () => t.false(existsSync(join(dir, 's', 'dictionaries.json')))
    await t.throwsAsync(log.trainDictionary('absent'), { code: 'ERR_INVALID_ARGUMENT' })
    await t.throwsAsync(log.trainDictionary('../x'), { code: 'ERR_INVALID_ARGUMENT' })
    for (const options of [{ samples: 0 }, { samples: -1 }, { samples: [] }, { samples: [1] }, { maxBytes: 10 }, { maxBytes: 2 ** 21 }, { other: 1 }, 'x']) {
      await t.throwsAsync(log.trainDictionary('s', options as never), { code: 'ERR_INVALID_ARGUMENT' }, JSON.stringify(options))
    }
    // Too few samples for libzstd's trainer (native); no trainer at all (js).
    await t.throwsAsync(log.trainDictionary('s', { samples: ['a', 'b'] }), { code: backend === 'native' ? 'ERR_INVALID_ARGUMENT' : 'ERR_UNSUPPORTED' })
    nothingStored()
    await log.close()
    await t.throwsAsync(log.trainDictionary('s'), { code: 'ERR_CLOSED' })
    const ro = await openLog(t, backend, dir, { readOnly: true })
    await t.throwsAsync(ro.trainDictionary('s'), { code: 'ERR_READ_ONLY' })
    nothingStored()
  })
}

test('native: SIGKILL during training and storing leaves a store that opens, reads every acknowledged record and verifies', async (t) => {
  for (const killAfterMs of [5, 60, 400]) {
    const dir = tempDir(t, 'dict-crash')
    const stored = await new Promise<number>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import=tsx', TRAINER, dir], { stdio: ['ignore', 'pipe', 'pipe'] })
      let out = ''
      let err = ''
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString()
        if (out.startsWith('ready\n') && !out.includes('killing')) {
          out += 'killing'
          setTimeout(() => child.kill('SIGKILL'), killAfterMs)
        }
      })
      child.stderr.on('data', (d: Buffer) => (err += d.toString()))
      const guard = setTimeout(() => child.kill('SIGKILL'), 60_000)
      child.on('exit', (code, signal) => {
        clearTimeout(guard)
        if (signal !== 'SIGKILL') return reject(new Error(`trainer exited on its own (code ${code}): ${err}`))
        resolve(out.split('\n').filter((l) => l.startsWith('{')).length)
      })
    })
    const log = await Log.open(dir, { backend: 'native' })
    const records = await log.read('events', { from: 0, verify: 'genesis' })
    t.true(records.length >= 500 + 50 * stored, `${records.length} records after ${stored} trainings`)
    const report = await log.verify()
    t.true(report.ok, JSON.stringify(report.streams.map((s) => s.problems)))
    await log.close()
  }
})
