/**
 * Fault suite, retention and repair (SPEC §9):
 * - prune crash: a child appending, signing and pruning after every append is SIGKILLed at a
 *   random moment; the store opens, verifies (its published note too), starts no later than the
 *   last prune the child saw finish, and keeps every acknowledged record from there on;
 * - pruned.json tampering: its prevHash, firstOffset or firstSegment changed, the file removed,
 *   truncated, or replaced by garbage, and a kept level-0 tile below the pruned offset changed:
 *   open or verify (with the note signed before) reports it, never accepts it;
 * - quarantine tampering: the files repair moved bytes to, changed, cut, removed or replaced by a
 *   directory: nothing reads them as data (open, verify and appends are unaffected), and a repair
 *   that would write over one holding other bytes refuses (ERR_IO) and cuts nothing.
 */
import test from 'ava'
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { BACKENDS } from './helpers/cores.ts'
import { count, faultSize, figures } from './helpers/faults.ts'
import { abandon, codeOf, readSegment, tempDir, writeSegment } from './helpers/log-dir.ts'
import { pruneCrashTrial } from './helpers/prune-crash.ts'
import { int, rng, seedFromEnv } from './helpers/random.ts'
import { Log } from '../ts/index.ts'
import { generateKey } from '../ts/tlog/index.ts'
import type { BackendName } from '../ts/core/interface.ts'

const SEED = seedFromEnv(20261205)
const ORIGIN = 'example.com/audit'

for (const backend of BACKENDS) {
  test.serial(`${backend}: prune crash — SIGKILL at random moments while pruning after every append; the store opens, verifies and keeps every acknowledged record from its start`, async (t) => {
    const rand = rng(SEED + (backend === 'js' ? 1 : 0))
    for (let trial = 0, n = faultSize(3, 30); trial < n; trial++) {
      const r = await pruneCrashTrial(t, backend, int(rand, 5, 1500))
      const f = figures('prune crash')
      f.trials++
      f.faults++
      f.records += r.acked
      f.lost += r.lost
      count('prune crash', `killed ${r.moment}`)
    }
  })
}

/** A signed store: stream 's' pruned to a random offset, with the note published before the prune. */
async function prunedStore(backend: BackendName, dir: string, rand: () => number): Promise<{ note: string; firstOffset: number }> {
  const key = generateKey(ORIGIN)
  const log = await Log.open(dir, { backend, hash: 'sha256', maxSegmentBytes: int(rand, 500, 1200), checkpointEvery: int(rand, 5, 40), tlog: { origin: ORIGIN, signer: key.skey } })
  const n = int(rand, 300, 900)
  for (let i = 0; i < n; i += 3) await log.append('s', [`a${i}`, `b${i}`, `c${i}`].slice(0, int(rand, 1, 3)))
  const cp = await log.checkpoint('s')
  const before = int(rand, 40, (await log.head('s')).nextOffset - 1)
  const r = await log.prune('s', { before })
  await log.close()
  return { note: cp.note!, firstOffset: r.firstOffset }
}

type PrunedTamper = (dir: string, state: Record<string, unknown>, rand: () => number) => string

const prunedFile = (dir: string) => join(dir, 's', 'pruned.json')
const rewrite = (dir: string, o: object) => writeFileSync(prunedFile(dir), JSON.stringify(o))

const TAMPERS: Record<string, PrunedTamper> = {
  'prevHash changed': (dir, state, rand) => {
    const h = Buffer.from(state.prevHash as string, 'hex')
    h[int(rand, 0, 31)] ^= int(rand, 1, 255)
    rewrite(dir, { ...state, prevHash: h.toString('hex') })
    return 'prevHash'
  },
  'firstOffset changed': (dir, state, rand) => {
    const d = int(rand, 1, 30) * (rand() < 0.5 ? -1 : 1)
    const to = Math.max(1, (state.firstOffset as number) + d)
    rewrite(dir, { ...state, firstOffset: to === state.firstOffset ? to + 1 : to })
    return 'firstOffset'
  },
  'firstSegment changed': (dir, state, rand) => {
    const to = Math.max(1, (state.firstSegment as number) + int(rand, 1, 3) * (rand() < 0.5 ? -1 : 1))
    rewrite(dir, { ...state, firstSegment: to === state.firstSegment ? to + 1 : to })
    return 'firstSegment'
  },
  'removed': (dir) => {
    rmSync(prunedFile(dir))
    return 'removed'
  },
  'truncated': (dir, _state, rand) => {
    const b = readFileSync(prunedFile(dir))
    writeFileSync(prunedFile(dir), b.subarray(0, int(rand, 0, b.length - 2)))
    return 'truncated'
  },
  'garbage': (dir, _state, rand) => {
    writeFileSync(prunedFile(dir), Buffer.from(Array.from({ length: int(rand, 1, 300) }, () => int(rand, 0, 255))))
    return 'garbage'
  },
  'a kept level-0 tile below firstOffset changed': (dir, state, rand) => {
    const leaf = int(rand, 0, (state.firstOffset as number) - 1)
    const index = Math.floor(leaf / 256)
    const name = String(index).padStart(3, '0') // below 1000 tiles: tile/0/NNN
    const base = join(dir, 's', 'tile', '0')
    const file = readdirSync(base).includes(name) ? join(base, name) : join(base, `${name}.part`)
    const b = readFileSync(file)
    b[(leaf % 256) * 32 + int(rand, 0, 31)] ^= int(rand, 1, 255)
    writeFileSync(file, b)
    return `tile leaf ${leaf}`
  },
}

for (const backend of BACKENDS) {
  for (const [kind, tamper] of Object.entries(TAMPERS)) {
    test(`${backend}: pruned store tampering — ${kind} — is reported by open or verify, never accepted`, async (t) => {
      for (let i = 0, n = faultSize(2, 25); i < n; i++) {
        const seed = SEED + i * 31 + kind.length + (backend === 'js' ? 7 : 0)
        const rand = rng(seed)
        const dir = tempDir(t, 'pruned-tamper')
        const { note, firstOffset } = await prunedStore(backend, dir, rand)
        const state = JSON.parse(readFileSync(prunedFile(dir), 'utf8'))
        t.is(state.firstOffset, firstOffset)
        const what = tamper(dir, state, rand)
        const f = figures('prune tampering')
        f.trials++
        f.faults++
        const log = await Log.open(dir, { backend, readOnly: true })
        try {
          const head = await log.head('s')
          const report = await log.verify('s', { trusted: [note] })
          f.records += report.streams[0]?.records ?? 0
          const caught = !report.ok
          t.true(caught, `seed ${seed}: ${what}: verify accepted it (damage at open: ${JSON.stringify(head.damage)})`)
          if (caught) f.found++
          if (head.damage !== undefined) count('prune tampering', 'marked damaged at open')
        } finally {
          await log.close()
        }
      }
    })
  }
}

/** A record of a 7-byte payload. */
const REC = 73

/** A store whose stream 's' was repaired: its quarantine file holds the bytes moved from the active segment. */
async function repairedStore(backend: BackendName, dir: string, rand: () => number): Promise<{ quarantine: string; kept: number }> {
  let log = await Log.open(dir, { backend, checkpointEvery: false })
  const n = int(rand, 8, 30)
  for (let i = 0; i < n; i++) await log.append('s', `ev-${String(i).padStart(4, '0')}`)
  await abandon(log)
  const seg = readSegment(dir, 's')
  const bad = int(rand, 1, n - 2)
  seg[bad * REC + 60] ^= 0xff
  writeSegment(dir, 's', 0, seg)
  log = await Log.open(dir, { backend })
  const done = await log.repair('s')
  await log.close()
  return { quarantine: done.quarantine!, kept: bad }
}

const QUARANTINE_TAMPERS: Record<string, (path: string, rand: () => number) => void> = {
  'a byte changed': (p, rand) => {
    const b = readFileSync(p)
    b[int(rand, 0, b.length - 1)] ^= int(rand, 1, 255)
    writeFileSync(p, b)
  },
  'cut short': (p, rand) => writeFileSync(p, readFileSync(p).subarray(0, int(rand, 0, 10))),
  'removed': (p) => rmSync(p),
  'replaced by a directory': (p) => {
    rmSync(p)
    mkdirSync(p)
    writeFileSync(join(p, 'x'), 'x')
  },
}

for (const backend of BACKENDS) {
  test(`${backend}: quarantine tampering — files changed, cut, removed or replaced by a directory — changes nothing the store reads; a repair over another file's bytes refuses`, async (t) => {
    const rand = rng(SEED + 99 + (backend === 'js' ? 1 : 0))
    for (let i = 0, n = faultSize(2, 20); i < n; i++) {
      for (const [kind, tamper] of Object.entries(QUARANTINE_TAMPERS)) {
        const dir = tempDir(t, 'quarantine')
        const { quarantine, kept } = await repairedStore(backend, dir, rand)
        const copy = readFileSync(quarantine)
        tamper(quarantine, rand)
        const f = figures('quarantine tampering')
        f.trials++
        f.faults++
        let log = await Log.open(dir, { backend })
        t.deepEqual(log.recovered, [], kind)
        t.true((await log.verify()).ok, kind)
        t.is((await log.read('s')).length, kept, kind)
        await log.append('s', 'after-1')
        // The same damage again at the same position: repair must not write over a quarantine
        // file holding other bytes (evidence), and must cut nothing when it refuses.
        await abandon(log)
        const seg = readSegment(dir, 's')
        writeSegment(dir, 's', 0, Buffer.concat([seg.subarray(0, kept * REC), copy]))
        log = await Log.open(dir, { backend })
        const sizeBefore = readSegment(dir, 's').length
        const err = await log.repair('s').catch((e) => e)
        if (kind === 'removed') {
          t.like(err, { repaired: true }, `${kind}: nothing to protect there, the repair goes through`)
        } else {
          t.is(codeOf(err), 'ERR_IO', `${kind}: a repair refuses to overwrite other bytes in quarantine`)
          t.is(readSegment(dir, 's').length, sizeBefore, `${kind}: and cuts nothing`)
          f.found++
        }
        f.records += kept
        await log.close()
      }
    }
  })
}
