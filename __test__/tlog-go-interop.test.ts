import test from 'ava'
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKey, parseSignerKey, signNote } from '../ts/tlog/index.ts'
import { keyIdFor } from '../ts/tlog/note.ts'
import { Log } from '../ts/index.ts'
import { completeNodes, consistencyPlan, inclusionPlan, memoryNodeReader, rootPlan, runPlan } from '../ts/tlog/merkle.ts'
import { buildTiles } from '../ts/tlog/tiles.ts'
import { ROOT } from './helpers/dist.ts'
import { fixtureStream } from './helpers/tlog-fixture.ts'
import { checkpointRecords } from './helpers/log-dir.ts'

// chainlog's notes, keys, tiles and proofs checked by implementations nobody here wrote: Go's
// golang.org/x/mod/sumdb/note and sumdb/tlog, and github.com/transparency-dev/merkle, through the
// small Go program in __test__/go-tlog (built once into .cache/go-tlog/, modules from the Go
// module proxy as pinned by its go.sum).

const SOURCE = join(ROOT, '__test__', 'go-tlog')
const goVersion = spawnSync('go', ['version'], { encoding: 'utf8' })
const haveGo = goVersion.status === 0
const gotest = haveGo ? test.serial : test.skip
const why = haveGo ? '' : ` [SKIPPED: the \`go\` command is not on PATH (${goVersion.error?.message ?? goVersion.stderr?.trim()}); install Go ≥ 1.26 to run the reference verifier]`

let binary = ''
test.before(() => {
  if (!haveGo) return
  // Rebuilt whenever the program, its module pins or the Go toolchain change.
  const key = createHash('sha256')
  for (const f of ['main.go', 'go.mod', 'go.sum']) key.update(readFileSync(join(SOURCE, f)))
  key.update(goVersion.stdout)
  const dir = join(ROOT, '.cache', 'go-tlog')
  binary = join(dir, `go-tlog-${key.digest('hex').slice(0, 16)}`)
  if (existsSync(binary)) return
  mkdirSync(dir, { recursive: true })
  const tmp = `${binary}.${process.pid}.tmp`
  const built = spawnSync('go', ['build', '-o', tmp, '.'], { cwd: SOURCE, encoding: 'utf8', timeout: 600_000, env: { ...process.env, GOFLAGS: '-mod=readonly -buildvcs=false' } })
  if (built.status !== 0) {
    rmSync(tmp, { force: true })
    throw new Error(`go build of __test__/go-tlog failed (exit ${built.status}):\n${built.stderr}${built.error ? String(built.error) : ''}`)
  }
  renameSync(tmp, binary)
})

// biome-ignore lint/suspicious/noExplicitAny: the Go checker's JSON answers, shaped per request
type GoResult = { ok: boolean; err?: string; [k: string]: any }

/** Runs a batch of requests through the Go reference program. */
function goCheck(requests: object[]): GoResult[] {
  const r = spawnSync(binary, [], { input: JSON.stringify(requests), encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, timeout: 120_000 })
  if (r.status !== 0) throw new Error(`go-tlog exited ${r.status}: ${r.stderr}`)
  const out = JSON.parse(r.stdout) as GoResult[]
  if (out.length !== requests.length) throw new Error('go-tlog answered a different number of requests')
  return out
}

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64')
const ORIGIN = 'example.com/audit'

gotest(`Go sumdb/note accepts chainlog's keys, and signs exactly what chainlog signs${why}`, (t) => {
  const names = ['example.com/audit/orders', 'PeterNeumann', 'témoin.example/ü', 'a']
  const keys = names.map((n) => generateKey(n))
  const texts = ['example.com/audit/orders\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n', 'hello\n', 'line\n\nafter a blank line\n', 'ünïcödé ✓\n']
  const requests: object[] = keys.map((k) => ({ op: 'keys', skey: k.skey, vkeys: [k.vkey] }))
  for (const k of keys) for (const text of texts) requests.push({ op: 'note-sign', skey: k.skey, text })
  const res = goCheck(requests)
  keys.forEach((k, i) => {
    t.true(res[i].ok, res[i].err)
    t.is(res[i].name, names[i])
    t.is(k.vkey.split('+')[1], res[i].keyHash)
  })
  let at = keys.length
  for (const k of keys) {
    for (const text of texts) {
      t.true(res[at].ok, res[at].err)
      t.is(signNote(text, k.skey), res[at].signed, `${k.vkey} ${JSON.stringify(text)}`)
      at++
    }
  }
})

gotest(`Go sumdb/note opens chainlog's notes; ignores unknown cosignatures; rejects a failing known one${why}`, (t) => {
  const log = generateKey(`${ORIGIN}/orders`)
  const witnesses = Array.from({ length: 17 }, (_, i) => generateKey(`witness${i}.example`))
  const text = `${ORIGIN}/orders\n5\n${b64(Buffer.alloc(32, 9))}\n`
  const note = signNote(text, [log.skey, ...witnesses.map((w) => w.skey)])
  const corrupted = note.replace(/(— witness3\.example \S{10})(.)/, (_m, p: string, c: string) => p + (c === 'A' ? 'B' : 'A'))
  const res = goCheck([
    { op: 'note-open', msg: note, vkeys: [log.vkey] },
    { op: 'note-open', msg: note, vkeys: [log.vkey, ...witnesses.map((w) => w.vkey)] },
    { op: 'note-open', msg: corrupted, vkeys: [log.vkey] },
    { op: 'note-open', msg: corrupted, vkeys: [log.vkey, witnesses[3].vkey] },
  ])
  t.true(res[0].ok, res[0].err)
  t.is(res[0].text, text)
  t.is(res[0].unverified, 17)
  t.is(res[1].verified.length, 18)
  t.true(res[2].ok, res[2].err)
  t.false(res[3].ok)
  t.regex(res[3].err!, /invalid signature/)
})

gotest(`Go sumdb/tlog builds the same roots, tiles and proofs as chainlog, byte for byte${why}`, (t) => {
  const N = 70_000
  const s = fixtureStream(ORIGIN, 'orders', generateKey(`${ORIGIN}/orders`).skey, N)
  const read = memoryNodeReader(completeNodes(s.leafHashes))
  const sizes = [0, 1, 2, 3, 255, 256, 257, 65_535, 65_536, 65_537, N]
  const pairs: Array<[number, number]> = []
  for (const n of [1, 2, 7, 8, 9, 256, 257, 1000, 65_536, 65_537, N]) {
    for (const i of [0, 1, Math.floor(n / 2), n - 2, n - 1]) if (i >= 0 && i < n) pairs.push([i, n])
  }
  const [res] = goCheck([{ op: 'tree', leaves: s.chainHashes.map(b64), sizes, pairs }])
  t.true(res.ok, res.err)
  for (const n of sizes) t.is(res.roots[String(n)], b64(runPlan(rootPlan(n), read)), `root of size ${n}`)
  // Go names tiles tile/<H>/<L>/<N> with the height; C2SP tlog-tiles fixes H = 8 and drops it.
  const ours = buildTiles(s.leafHashes)
  const theirs = new Map(Object.entries(res.tiles as Record<string, string>).map(([p, d]) => [p.replace(/^tile\/8\//, 'tile/'), d]))
  t.deepEqual([...ours.keys()].sort(), [...theirs.keys()].sort())
  for (const [path, data] of ours) t.is(b64(data), theirs.get(path) as string, path)
  pairs.forEach(([i, n], k) => {
    t.deepEqual(runPlan(inclusionPlan(i, n), read).map(b64), res.recordProofs[k], `audit path of ${i} in ${n}`)
    if (i >= 1) t.deepEqual(runPlan(consistencyPlan(i, n), read).map(b64), res.treeProofs[k], `consistency ${i} → ${n}`)
  })
})

gotest(`Go sumdb/tlog and transparency-dev/merkle verify chainlog's proofs for every size up to 160, and reject altered ones${why}`, (t) => {
  const N = 160
  const s = fixtureStream(ORIGIN, 'orders', generateKey(`${ORIGIN}/orders`).skey, N)
  const read = memoryNodeReader(completeNodes(s.leafHashes))
  const roots = Array.from({ length: N + 1 }, (_, n) => runPlan(rootPlan(n), read))
  const requests: Array<{ op: string; [k: string]: unknown }> = []
  for (let n = 1; n <= N; n++) {
    for (let m = 1; m <= n; m++) {
      requests.push({ op: 'inclusion', index: m - 1, size: n, leaf: b64(s.chainHashes[m - 1]), proof: runPlan(inclusionPlan(m - 1, n), read).map(b64), root: b64(roots[n]) })
      requests.push({ op: 'consistency', old: m, size: n, proof: runPlan(consistencyPlan(m, n), read).map(b64), oldRoot: b64(roots[m]), root: b64(roots[n]) })
    }
  }
  const res = goCheck(requests)
  const failed = res.map((r, i) => (r.ok ? undefined : `${JSON.stringify(requests[i]).slice(0, 80)}: ${r.err}`)).filter(Boolean)
  t.deepEqual(failed, [])
  t.true(res.length > 25_000)
  // The reference verifiers do check: an altered proof is refused by both.
  const altered = requests.filter((r) => (r.proof as string[]).length > 1).slice(0, 200).map((r) => ({ ...r, proof: [...(r.proof as string[]).slice(1), (r.proof as string[])[0]] }))
  t.true(goCheck(altered).every((r) => !r.ok))
})

gotest(`A Go verifier checks chainlog tlog-proof texts and add-checkpoint bodies with sumdb/note and both Merkle libraries${why}`, (t) => {
  const s = fixtureStream(ORIGIN, 'orders', generateKey(`${ORIGIN}/orders`).skey, 300)
  const origin = `${ORIGIN}/orders`
  const requests: object[] = []
  const expect: boolean[] = []
  for (const [i, n] of [[0, 1], [5, 9], [255, 256], [256, 257], [299, 300], [0, 300]]) {
    requests.push({ op: 'tlog-proof', msg: s.prove(i, n), vkeys: [s.vkey], origin })
    expect.push(true)
  }
  for (const [m, n] of [[1, 2], [3, 7], [8, 9], [255, 300], [300, 300]]) {
    requests.push({ op: 'add-checkpoint', msg: s.consistency(m, n), vkeys: [s.vkey], origin, oldNote: s.note(m) })
    expect.push(true)
  }
  // A proof against another key, and a body against a note of another tree, are refused by Go too.
  requests.push({ op: 'tlog-proof', msg: s.prove(5, 9), vkeys: [generateKey(origin).vkey], origin })
  expect.push(false)
  requests.push({ op: 'add-checkpoint', msg: s.consistency(3, 7), vkeys: [s.vkey], origin, oldNote: s.note(4) })
  expect.push(false)
  const res = goCheck(requests)
  for (const [i, r] of res.entries()) t.is(r.ok, expect[i], `${JSON.stringify(requests[i]).slice(0, 100)}: ${r.err}`)
})

for (const backend of ['native', 'js'] as const) {
  gotest(`${backend}: the engine's tile cache, signed checkpoints, tlog-proofs and add-checkpoint bodies are what Go sumdb/tlog and sumdb/note compute and accept${why}`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'chainlog-go-engine-'))
    t.teardown(() => rmSync(dir, { recursive: true, force: true }))
    const key = generateKey(ORIGIN)
    const log = await Log.open(dir, { backend, hash: 'sha256', checkpointEvery: 100, tlog: { origin: ORIGIN, signer: key.skey } })
    t.teardown(() => log.close().catch(() => {}))
    for (let i = 0; i < 250; i++) await log.append('orders', `event-${i}`)
    const first = await log.checkpoint('orders')
    for (let i = 250; i < 620; i++) await log.append('orders', `event-${i}`)
    const second = await log.checkpoint('orders')
    const origin = `${ORIGIN}/orders`
    const vkey = log.vkey('orders')
    // The leaves' data: each record's chain hash (checkpoints too), from the proofs' preimages.
    const all = (await log.treeHead('orders')).size // the second checkpoint's own leaf too
    const chainHashes: Buffer[] = []
    for (let i = 0; i < all; i++) chainHashes.push(createHash('sha256').update((await log.prove('orders', i, { treeSize: all })).extra).digest())
    // Every checkpoint record (the policy's every 100 records, and both checkpoint() calls) carries the signed note of the records before it.
    const embedded = checkpointRecords(dir, 'orders')
    t.deepEqual(embedded.map((c) => c.offset), [100, 201, 252, 353, 454, 555, 626])
    t.is(embedded.find((c) => c.offset === first.offset)!.note, first.note!)
    t.is(embedded.find((c) => c.offset === second.offset)!.note, second.note!)
    const sizes = [...new Set([first.treeSize, second.treeSize, ...embedded.map((c) => c.offset)])]
    const requests: object[] = [{ op: 'tree', leaves: chainHashes.map(b64), sizes, pairs: [] }, { op: 'note-open', msg: second.note, vkeys: [vkey] }]
    for (const c of embedded) requests.push({ op: 'note-open', msg: c.note, vkeys: [vkey] })
    // The store's key under the stream's name (as the engine derives it; Go's NewSigner checks the key ID): Go signs each checkpoint text into the very note the record holds.
    const streamKey = `PRIVATE+KEY+${origin}+${keyIdFor(origin, parseSignerKey(key.skey).publicKey).toString(16).padStart(8, '0')}+${key.skey.split('+').slice(4).join('+')}`
    const signAt = requests.length
    for (const c of embedded) requests.push({ op: 'note-sign', skey: streamKey, text: c.note!.slice(0, c.note!.indexOf('\n\n') + 1) })
    const offsets = [0, 1, 99, 100, 255, 256, 300, second.treeSize - 1]
    for (const i of offsets) requests.push({ op: 'tlog-proof', msg: (await log.prove('orders', i)).text, vkeys: [vkey], origin })
    requests.push({ op: 'add-checkpoint', msg: (await log.consistency('orders', first.treeSize)).text, vkeys: [vkey], origin, oldNote: first.note })
    // The tiles of the published tree (what export-tiles writes), by Go.
    requests.push({ op: 'tree', leaves: chainHashes.slice(0, second.treeSize).map(b64), sizes: [second.treeSize], pairs: [] })
    const res = goCheck(requests)
    for (const [i, r] of res.slice(1).entries()) t.true(r.ok, `${JSON.stringify(requests[i + 1]).slice(0, 120)}: ${r.err}`)
    const tree = res[0]
    t.true(tree.ok, tree.err)
    t.is(tree.roots[String(first.treeSize)], b64(first.root))
    t.is(tree.roots[String(second.treeSize)], b64(second.root))
    // Go's note-open gives each embedded note's text: a checkpoint of exactly the records before it, with Go's root for that size.
    embedded.forEach((c, k) => {
      t.is(res[2 + k].text, `${origin}\n${c.offset}\n${tree.roots[String(c.offset)]}\n`, `the note in the checkpoint record at offset ${c.offset}`)
      t.is(res[signAt + k].signed, c.note, `Go's signature of the checkpoint at offset ${c.offset}, byte for byte`)
    })
    // Go's tiles (tile/8/<L>/<N>[.p/<W>]) against the engine's cache (tile/<L>/<N>, the growing one
    // <N>.part; full level-0 tiles are not stored, SPEC §8) and, every level, against the static
    // log export-tiles writes (tile/<L>/<N>[.p/<W>]).
    const mine = new Map<string, string>()
    const root = join(dir, 'orders')
    for (const f of readdirSync(join(root, 'tile'), { recursive: true }) as string[]) {
      const p = join(root, 'tile', f)
      if (statSync(p).isFile()) mine.set(`tile/${f}`, b64(readFileSync(p)))
    }
    const exportDir = mkdtempSync(join(tmpdir(), 'chainlog-go-export-'))
    t.teardown(() => rmSync(exportDir, { recursive: true, force: true }))
    await log.exportTiles('orders', exportDir)
    const exported = new Map<string, string>()
    for (const f of readdirSync(join(exportDir, 'tile'), { recursive: true }) as string[]) {
      const p = join(exportDir, 'tile', f)
      if (!f.startsWith('entries') && statSync(p).isFile()) exported.set(`tile/${f}`, b64(readFileSync(p)))
    }
    const goTiles = Object.entries(tree.tiles as Record<string, string>)
    const fullLeafTile = (path: string) => /^tile\/8\/0\/\d+$/.test(path)
    for (const [path, data] of goTiles) {
      const ours = path.replace(/^tile\/8\//, 'tile/').replace(/\.p\/\d+$/, '.part')
      if (fullLeafTile(path)) t.false(mine.has(ours), `${path} is not stored`)
      else t.is(mine.get(ours), data, path)
    }
    t.true(goTiles.some(([path]) => fullLeafTile(path)), 'the tree has full level-0 tiles')
    t.is(mine.size, goTiles.filter(([path]) => !fullLeafTile(path)).length)
    const published = res[res.length - 1]
    t.true(published.ok, published.err)
    const goPublished = Object.entries(published.tiles as Record<string, string>)
    for (const [path, data] of goPublished) t.is(exported.get(path.replace(/^tile\/8\//, 'tile/')), data, `export-tiles ${path}`)
    t.true(goPublished.some(([path]) => fullLeafTile(path)))
    t.is(exported.size, goPublished.length)
  })
}

for (const backend of ['native', 'js'] as const) {
  gotest(`${backend}: after a prune, tlog-proofs of kept records and the add-checkpoint body from a note signed before the prune are accepted by Go sumdb/tlog and sumdb/note${why}`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'chainlog-go-prune-'))
    t.teardown(() => rmSync(dir, { recursive: true, force: true }))
    const key = generateKey(ORIGIN)
    const opts = { backend, hash: 'sha256', maxSegmentBytes: 4096, checkpointEvery: false, tlog: { origin: ORIGIN, signer: key.skey } } as const
    let log = await Log.open(dir, opts)
    t.teardown(() => log.close().catch(() => {}))
    for (let i = 0; i < 600; i++) await log.append('orders', `event-${i}`)
    const before = await log.checkpoint('orders') // signed before the prune
    const pruned = await log.prune('orders', { before: 520 })
    t.true(pruned.firstOffset > 0 && pruned.firstOffset < before.treeSize, `pruned to ${pruned.firstOffset}: the note covers pruned leaves`)
    for (let i = 600; i < 700; i++) await log.append('orders', `event-${i}`)
    await log.close()
    log = await Log.open(dir, opts) // the tree of the pruned leaves now comes from the tiles only
    const after = await log.checkpoint('orders')
    const origin = `${ORIGIN}/orders`
    const vkey = log.vkey('orders')
    const requests: object[] = []
    for (const i of [pruned.firstOffset, pruned.firstOffset + 1, 650, after.treeSize - 1]) requests.push({ op: 'tlog-proof', msg: (await log.prove('orders', i)).text, vkeys: [vkey], origin })
    requests.push({ op: 'add-checkpoint', msg: (await log.consistency('orders', before.treeSize)).text, vkeys: [vkey], origin, oldNote: before.note })
    const res = goCheck(requests)
    for (const [i, r] of res.entries()) t.true(r.ok, `${JSON.stringify(requests[i]).slice(0, 120)}: ${r.err}`)
  })
}
