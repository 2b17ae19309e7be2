/**
 * SPEC §8: a stream's tree follows the commit path (each encodeBatch extends it; engine/stream-tree.ts)
 * and must give exactly what rebuilding it from the records gives: roots, tiles, notes — through
 * group commits, multi-record batches, policy checkpoints, reopen, and on both cores.
 */
import test from 'ava'
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { BACKENDS } from './helpers/cores.ts'
import { tempDir } from './helpers/log-dir.ts'
import { Log } from '../ts/index.ts'
import { generateKey, openCheckpoint } from '../ts/tlog/index.ts'

const ORIGIN = 'example.com/follow'
const T0 = 1_700_000_000_000

function tileFiles(dir: string, stream: string): Map<string, Buffer> {
  const root = join(dir, stream, 'tile')
  const out = new Map<string, Buffer>()
  if (!existsSync(root)) return out
  for (const f of readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (f.isFile() && !f.name.endsWith('.part')) out.set(join(f.parentPath, f.name).slice(root.length), readFileSync(join(f.parentPath, f.name)))
  }
  return out
}

/** Appends in every shape the commit path has: single records, large batches, concurrent calls grouped into one commit. */
let ts = T0
async function writeShapes(log: Log, stream: string, rounds: number): Promise<void> {
  for (let r = 0; r < rounds; r++) {
    await log.append(stream, `one-${r}`, { timestamp: ts++ })
    await log.append(stream, Array.from({ length: 1000 }, (_, i) => `batch-${r}-${i}`), { timestamp: ts++ })
    await Promise.all(Array.from({ length: 20 }, (_, i) => log.append(stream, [`group-${r}-${i}`, `group-${r}-${i}b`], { timestamp: ts })))
    ts++
  }
}

for (const backend of BACKENDS) {
  test(`${backend}: a tree that follows commits gives the roots, tiles and notes a rebuild from the records gives`, async (t) => {
    const dir = tempDir(t)
    const key = generateKey(ORIGIN)
    let log = await Log.open(dir, { backend, hash: 'sha256', checkpointEvery: 333, tlog: { origin: ORIGIN, signer: key.skey } })
    try {
      await writeShapes(log, 's', 60) // 63,660 records plus policy checkpoints: level-1 tile nodes appear, a level-1 tile starts
      const signed = await log.checkpoint('s')
      await writeShapes(log, 's', 8) // past 65,536 leaves: the first full level-1 tile
      const head = await log.treeHead('s')
      t.true(head.size > 65_536)
      const c = openCheckpoint(signed.note!, { vkey: log.vkey('s'), origin: `${ORIGIN}/s` })
      t.is(c.size, signed.treeSize)
      t.true(c.root.equals(signed.root))
      await log.close()
      const followed = tileFiles(dir, 's')
      t.true(followed.has('/1/000'), 'a full level-1 tile')

      // Rebuilt from the records: tiles removed, opened without tlog (nothing follows commits before the first tree use).
      rmSync(join(dir, 's', 'tile'), { recursive: true })
      log = await Log.open(dir, { backend, hash: 'sha256', checkpointEvery: false })
      t.true((await log.treeHead('s', head.size)).root.equals(head.root)) // close() added a checkpoint
      t.true((await log.treeHead('s', signed.treeSize)).root.equals(signed.root))
      await log.close()
      const rebuilt = tileFiles(dir, 's')
      t.deepEqual([...followed.keys()].sort(), [...rebuilt.keys()].sort())
      for (const [path, bytes] of followed) t.true(bytes.equals(rebuilt.get(path)!), path)

      // Reopened with tlog: the tree resumes from the tiles and follows commits again.
      log = await Log.open(dir, { backend, hash: 'sha256', checkpointEvery: 333, tlog: { origin: ORIGIN, signer: key.skey } })
      await writeShapes(log, 's', 1)
      const later = await log.checkpoint('s')
      const proof = await log.consistency('s', signed.treeSize, later.treeSize)
      t.is(proof.newSize, later.treeSize)
      await log.close()
      log = await Log.open(dir, { backend, hash: 'sha256', checkpointEvery: false })
      t.true((await log.treeHead('s', later.treeSize)).root.equals(later.root))
    } finally {
      await log.close().catch(() => {})
    }
  })
}

for (const backend of BACKENDS) {
  test(`${backend}: a full tile a crash took back (tiles are not all fdatasynced) is rebuilt for proofs; the published note's frontier tiles are durable`, async (t) => {
    const dir = tempDir(t)
    const key = generateKey(ORIGIN)
    const tlog = { origin: ORIGIN, signer: key.skey }
    let log = await Log.open(dir, { backend, hash: 'sha256', checkpointEvery: false, tlog })
    try {
      for (let i = 0; i < 70; i++) await log.append('s', Array.from({ length: 1000 }, (_, k) => `e-${i}-${k}`), { timestamp: T0 })
      const signed = await log.checkpoint('s')
      const before = await log.prove('s', 300)
      const deep = await log.prove('s', 40_000)
      await log.close()
      // Lost: the full level-1 tile (the frontier's own tiles stay). Full level-0 tiles are not
      // stored at all: proofs recompute them from the records.
      t.false(existsSync(join(dir, 's', 'tile', '0', '001')))
      rmSync(join(dir, 's', 'tile', '1', '000'))
      log = await Log.open(dir, { backend, hash: 'sha256', checkpointEvery: false, tlog })
      const again = await log.prove('s', 300)
      t.deepEqual(again.proof, before.proof)
      t.deepEqual((await log.prove('s', 40_000)).proof, deep.proof)
      t.is(again.treeSize, signed.treeSize)
      t.true(existsSync(join(dir, 's', 'tile', '1', '000')), 'rebuilt tile saved again')
      t.false(existsSync(join(dir, 's', 'tile', '0', '001')), 'a level-0 tile recomputed for a proof is not stored')
      const c = await log.consistency('s', 1000)
      t.is(c.newSize, signed.treeSize)
    } finally {
      await log.close().catch(() => {})
    }
  })
}
