/**
 * log.repair() and `chainlog repair` (SPEC §9): the wedged stream of the README's Known limits
 * (valid-looking records after damage at the end of the active segment) is made appendable again
 * by moving the bytes from the cut to quarantine/ (durable first), never deleting them.
 */
import { spawnSync, spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import test from 'ava'
import { BACKENDS } from './helpers/cores.ts'
import { abandon, codeOf, readSegment, segmentFile, tempDir, texts, writeSegment, fileHashes } from './helpers/log-dir.ts'
import { Log } from '../ts/index.ts'
import { generateKey } from '../ts/tlog/index.ts'
import type { BackendName } from '../ts/core/interface.ts'

const ROOT = join(import.meta.dirname, '..')
const REC = 73 // a record of a 7-byte payload

const events = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `event-${from + i}`)

/**
 * A store whose stream 's' holds 10 events appended in pairs, left without close(), then a
 * CRC-breaking flip in record 6 (the first of the batch [6, 7]): valid records follow, so open
 * calls it damage and refuses appends.
 */
async function wedged(t: Parameters<typeof tempDir>[0], backend: BackendName, flipRecord = 6): Promise<string> {
  const dir = tempDir(t)
  const log = await Log.open(dir, { backend, checkpointEvery: false })
  for (let i = 0; i < 10; i += 2) await log.append('s', events(i, i + 2))
  await abandon(log) // no index saved: open validates the whole active segment, as after a crash

  const seg = readSegment(dir, 's')
  seg[flipRecord * REC + 60] ^= 0xff
  writeSegment(dir, 's', 0, seg)
  return dir
}

function cli(args: string[]) {
  return spawnSync(process.execPath, [`--import=${import.meta.resolve('tsx')}`, join(ROOT, 'ts', 'cli', 'main.ts'), ...args], { encoding: 'utf8', timeout: 120_000 })
}

for (const backend of BACKENDS) {
  test(`${backend}: repair moves the damaged tail to quarantine (durable, byte for byte), cuts at a batch boundary and appends work again`, async (t) => {
    const dir = await wedged(t, backend)
    const before = readSegment(dir, 's')
    const log = await Log.open(dir, { backend })
    t.teardown(() => log.close())
    t.is(log.recovered[0]?.action, 'corrupt')
    t.is(codeOf(await t.throwsAsync(log.append('s', 'x'))), 'ERR_CORRUPT')
    // A dry run changes nothing.
    const files = fileHashes(dir)
    const plan = await log.repair('s', { dryRun: true })
    t.like(plan, { stream: 's', repaired: false, segment: 0, position: 6 * REC, offset: 6, bytes: before.length - 6 * REC })
    t.deepEqual(fileHashes(dir), files)
    const done = await log.repair('s')
    t.like(done, { repaired: true, segment: 0, position: 6 * REC, offset: 6, bytes: before.length - 6 * REC })
    t.is(done.quarantine, join(dir, 's', 'quarantine', 'segment_000000.log.360.bin'.replace('360', String(6 * REC))))
    t.true(readFileSync(done.quarantine!).equals(before.subarray(6 * REC)), 'the quarantine file holds the moved bytes exactly')
    t.true(readSegment(dir, 's').equals(before.subarray(0, 6 * REC)))
    t.deepEqual(texts(await log.read('s')), events(0, 6))
    const r = await log.append('s', ['new-6', 'new-7'])
    t.is(r.firstOffset, 6)
    t.true((await log.verify()).ok)
    // A healthy stream: a clear no-op.
    const again = await log.repair('s')
    t.like(again, { repaired: false, segment: null, bytes: 0, quarantine: null })
    t.regex(again.reason, /healthy/)
    await log.close()
    const reopened = await Log.open(dir, { backend })
    t.deepEqual(reopened.recovered, [])
    t.deepEqual(texts(await reopened.read('s')), [...events(0, 6), 'new-6', 'new-7'])
    await reopened.close()
  })

  test(`${backend}: damage in the second record of a batch cuts the whole batch`, async (t) => {
    const dir = await wedged(t, backend, 7) // batch [6, 7]: record 6 is whole, 7 is damaged
    const log = await Log.open(dir, { backend })
    t.teardown(() => log.close())
    // Reads go up to the damage (record 6 is readable: its batch may have been acknowledged)…
    t.is((await log.head('s')).nextOffset, 7)
    const done = await log.repair('s')
    // …but repair cuts at the batch boundary before it.
    t.like(done, { repaired: true, position: 6 * REC, offset: 6 })
    t.deepEqual(texts(await log.read('s')), events(0, 6))
  })

  test(`${backend}: repair refuses a checkpoint past the cut (ERR_CHAIN_BROKEN), damage that is not the active segment's end (ERR_UNSUPPORTED), and bad calls; nothing changes`, async (t) => {
    // A checkpoint after the damage: records that may have been published.
    const dir = tempDir(t)
    const log = await Log.open(dir, { backend, checkpointEvery: false })
    for (let i = 0; i < 6; i += 2) await log.append('s', events(i, i + 2))
    await log.checkpoint('s')
    await log.append('s', 'after')
    await abandon(log)
    const seg = readSegment(dir, 's')
    seg[2 * REC + 60] ^= 0xff
    writeSegment(dir, 's', 0, seg)
    const files = fileHashes(dir)
    const l = await Log.open(dir, { backend })
    t.is(codeOf(await t.throwsAsync(l.repair('s'))), 'ERR_CHAIN_BROKEN')
    t.is(codeOf(await t.throwsAsync(l.repair('s', { dryRun: true }))), 'ERR_CHAIN_BROKEN')
    // Bad input.
    for (const bad of [() => l.repair(-1 as unknown as string), () => l.repair('../x'), () => l.repair('s', { dryRun: 1 } as unknown as object), () => l.repair('s', { yes: true } as object), () => l.repair('s', 5 as unknown as object), () => l.repair('nosuch')]) {
      t.is(codeOf(await t.throwsAsync(bad())), 'ERR_INVALID_ARGUMENT')
    }
    await l.close()
    t.is(codeOf(await t.throwsAsync(l.repair('s'))), 'ERR_CLOSED')
    const ro = await Log.open(dir, { backend, readOnly: true })
    t.is(codeOf(await t.throwsAsync(ro.repair('s'))), 'ERR_READ_ONLY')
    await ro.close()
    const after = fileHashes(dir)
    delete after['.clean']
    t.deepEqual(after, files)

    // Damage that is not bytes at the end of the active segment: a missing middle segment.
    const d2 = tempDir(t)
    const w = await Log.open(d2, { backend, checkpointEvery: false, maxSegmentBytes: 4 * REC })
    for (let i = 0; i < 12; i += 2) await w.append('s', events(i, i + 2))
    await w.close()
    const { rmSync } = await import('node:fs')
    rmSync(segmentFile(d2, 's', 1))
    const files2 = fileHashes(d2)
    const l2 = await Log.open(d2, { backend })
    t.is(l2.recovered[0]?.action, 'corrupt')
    t.is(codeOf(await t.throwsAsync(l2.repair('s'))), 'ERR_UNSUPPORTED')
    await l2.close()
    const after2 = fileHashes(d2)
    delete after2['.clean']
    delete files2['.clean']
    t.deepEqual(Object.keys(after2).filter((f) => f.endsWith('.log')), Object.keys(files2).filter((f) => f.endsWith('.log')))
    for (const f of Object.keys(after2).filter((f) => f.endsWith('.log'))) t.is(after2[f], files2[f], f)
  })

  test(`${backend}: repair refuses a cut below the last published note even when the checkpoint record past the cut is damaged too (ERR_CHAIN_BROKEN); nothing changes`, async (t) => {
    const dir = tempDir(t)
    const key = generateKey('example.com/repair')
    const tlog = { origin: 'example.com/repair', signer: key.skey }
    const log = await Log.open(dir, { backend, hash: 'sha256', checkpointEvery: false, tlog })
    for (let i = 0; i < 6; i += 2) await log.append('s', events(i, i + 2))
    const published = await log.checkpoint('s') // offset 6; its note covers records 0..5
    t.is(published.treeSize, 6)
    await log.append('s', 'after')
    await abandon(log)
    const seg = readSegment(dir, 's')
    seg[2 * REC + 60] ^= 0xff // record 2: the cut goes there
    seg[6 * REC + 60] ^= 0xff // the checkpoint record: no valid checkpoint frame is left past the cut
    writeSegment(dir, 's', 0, seg)
    const files = fileHashes(dir)
    const l = await Log.open(dir, { backend, hash: 'sha256', tlog })
    t.is(l.recovered[0]?.action, 'corrupt')
    const err = await t.throwsAsync(l.repair('s'))
    t.is(codeOf(err), 'ERR_CHAIN_BROKEN')
    t.regex(err!.message, /published/)
    t.is(codeOf(await t.throwsAsync(l.repair('s', { dryRun: true }))), 'ERR_CHAIN_BROKEN')
    await l.close()
    const after = fileHashes(dir)
    delete after['.clean']
    delete files['.clean']
    t.deepEqual(after, files)
  })

  test(`${backend}: chainlog repair without --yes shows what it would move and changes nothing; with --yes it repairs`, async (t) => {
    const dir = await wedged(t, backend)
    const files = fileHashes(dir)
    const dry = cli(['repair', dir, 's'])
    t.is(dry.status, 0, dry.stderr)
    t.regex(dry.stdout, /would move \d+ bytes from position 438 of segment_000000\.log .*dry run: nothing changed/)
    t.deepEqual(fileHashes(dir), files)
    const yes = cli(['repair', dir, 's', '--yes', '--json'])
    t.is(yes.status, 0, yes.stderr)
    const result = JSON.parse(yes.stdout)
    t.like(result, { repaired: true, position: 438, offset: 6, dryRun: false })
    t.true(existsSync(result.quarantine))
    const verify = cli(['verify', dir])
    t.is(verify.status, 0, verify.stdout + verify.stderr)
    const healthy = cli(['repair', dir, 's', '--yes'])
    t.is(healthy.status, 0)
    t.regex(healthy.stdout, /healthy/)
    t.is(cli(['repair', dir, 'nosuch']).status, 2)
  })

  test(`${backend}: kill -9 at random moments of a repair: the store opens, and every moved byte is in the segment or in quarantine`, async (t) => {
    const base = await wedged(t, backend)
    const whole = readSegment(base, 's')
    const cut = 6 * REC
    const { cpSync } = await import('node:fs')
    const run = (dir: string) => {
      const child = spawn(process.execPath, [`--import=${import.meta.resolve('tsx')}`, join(ROOT, 'ts', 'cli', 'main.ts'), 'repair', dir, 's', '--yes'], {
        stdio: 'ignore', env: { ...process.env, CHAINLOG_BACKEND: backend },
      })
      const exited = new Promise((resolve) => child.once('exit', resolve)) // also when it ends before the kill
      return { child, exited }
    }
    // How long a whole repair takes here (the machine's load varies): kills land across it.
    const timing = tempDir(t, 'timing')
    cpSync(base, timing, { recursive: true })
    const started = Date.now()
    await run(timing).exited
    const whole_ms = Date.now() - started
    let repaired = 0
    let wedgedStill = 0
    const ROUNDS = 4
    for (let round = 0; round < ROUNDS; round++) {
      const dir = tempDir(t, `kill${round}`)
      cpSync(base, dir, { recursive: true })
      const { child, exited } = run(dir)
      await new Promise((resolve) => setTimeout(resolve, whole_ms * (0.55 + (0.5 * round) / ROUNDS)))
      child.kill('SIGKILL')
      await exited
      const seg = readSegment(dir, 's')
      const q = join(dir, 's', 'quarantine', `segment_000000.log.${cut}.bin`)
      // Never neither: the tail bytes are still in the segment, or whole in quarantine.
      if (seg.length === whole.length) t.true(seg.equals(whole))
      else {
        t.true(seg.equals(whole.subarray(0, cut)))
        t.true(readFileSync(q).equals(whole.subarray(cut)))
      }
      const l = await Log.open(dir, { backend })
      if (l.recovered.some((e) => e.action === 'corrupt')) {
        wedgedStill++
        // A second repair finishes the job (reusing a quarantine file of the same bytes).
        const done = await l.repair('s')
        t.true(done.repaired)
        t.true(readFileSync(q).equals(whole.subarray(cut)))
        await l.append('s', 'x')
        t.true((await l.verify()).ok)
      } else {
        repaired++
        await l.append('s', 'x')
        t.true((await l.verify()).ok)
      }
      await l.close()
    }
    t.log(`a whole repair took ${whole_ms} ms; ${repaired} rounds found repaired, ${wedgedStill} still wedged (killed before the cut)`)
    t.is(repaired + wedgedStill, ROUNDS)
  })
}
