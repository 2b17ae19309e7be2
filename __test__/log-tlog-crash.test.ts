/**
 * SIGKILL with signing on (SPEC §8): after reopen, the tree, the tile cache and each stream's
 * `<stream>/checkpoint` agree with the records, and every note returned before the kill is
 * consistent with the tree now (verify({ trusted }) passes, and a consistency proof from it checks).
 */
import test from 'ava'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { BACKENDS } from './helpers/cores.ts'
import { runAndKill } from './helpers/run-and-kill.ts'
import { openLog, tempDir } from './helpers/log-dir.ts'
import { int, rng, seedFromEnv } from './helpers/random.ts'
import type { BackendName } from '../ts/core/interface.ts'
import { generateKey, hashLeaf, merkleRoot, openCheckpoint, verifyConsistencyProof } from '../ts/tlog/index.ts'
import { createHash } from 'node:crypto'

const WRITER = fileURLToPath(new URL('./helpers/tlog-crash-writer.ts', import.meta.url))
const ORIGIN = 'example.com/crash'
const TRIALS_PER_CORE = 3
const SEED = seedFromEnv(1313)

async function runWriter(dir: string, backend: BackendName, seed: number, keyFile: string, killAfterMs: number): Promise<Array<{ stream: string; note: string }>> {
  const { lines } = await runAndKill({ script: WRITER, args: [dir, backend, String(seed), keyFile], armed: (out) => out.includes('"note"'), killMs: killAfterMs, guardMs: 90_000 })
  return lines.filter((v) => v.note !== undefined) as Array<{ stream: string; note: string }>
}

for (const backend of BACKENDS) {
  for (let trial = 0; trial < TRIALS_PER_CORE; trial++) {
    test(`${backend}: signing crash trial ${trial}: tree, tiles and <stream>/checkpoint agree with the records after SIGKILL; every returned note is consistent`, async (t) => {
      const seed = SEED + trial * 100 + (backend === 'native' ? 1 : 0)
      const rand = rng(seed)
      const dir = tempDir(t, 'tlog-crash')
      const keyFile = join(tempDir(t, 'key'), 'skey')
      const key = generateKey(ORIGIN)
      writeFileSync(keyFile, key.skey, { mode: 0o600 })
      let notes = await runWriter(dir, backend, seed, keyFile, int(rand, 100, 400))
      if (trial % 2 === 1) notes = notes.concat(await runWriter(dir, backend, seed + 1, keyFile, int(rand, 100, 400)))
      t.true(notes.length > 0, 'the writer returned notes before it was killed')
      const log = await openLog(t, backend, dir, { hash: 'sha256', tlog: { origin: ORIGIN, signer: keyFile } })
      const report = await log.verify(undefined, { trusted: notes.map((n) => n.note) })
      t.true(report.ok, JSON.stringify(report.streams.map((s) => s.problems)))
      for (const stream of ['a', 'b']) {
        const head = await log.treeHead(stream)
        // The tree the engine holds is the tree of the records' chain hashes.
        const leaves: Buffer[] = []
        for (let i = 0; i < head.size; i++) leaves.push(hashLeaf(createHash('sha256').update((await log.prove(stream, i, { treeSize: head.size })).extra).digest()))
        t.true(head.root.equals(merkleRoot(leaves)), stream)
        const file = join(dir, stream, 'checkpoint')
        if (!existsSync(file)) {
          t.is(notes.filter((x) => x.stream === stream).length, 0, 'a returned note was published first')
          continue
        }
        const published = openCheckpoint(readFileSync(file, 'utf8'), { vkey: log.vkey(stream), origin: ORIGIN })
        t.true(published.root.equals((await log.treeHead(stream, published.size)).root), `${stream}/checkpoint agrees with the records`)
        for (const n of notes.filter((x) => x.stream === stream)) {
          const old = openCheckpoint(n.note, { vkey: log.vkey(stream), origin: ORIGIN })
          t.true(old.size <= published.size, 'a returned note is never newer than the published file')
        }
        // A new signature goes on from every returned note.
        const next = await log.checkpoint(stream)
        for (const n of notes.filter((x) => x.stream === stream)) {
          const old = openCheckpoint(n.note, { vkey: log.vkey(stream), origin: ORIGIN })
          const c = await log.consistency(stream, old.size)
          t.is(verifyConsistencyProof(c.text!, { vkey: log.vkey(stream), origin: ORIGIN, old: n.note }).size, next.treeSize)
        }
      }
    })
  }
}
