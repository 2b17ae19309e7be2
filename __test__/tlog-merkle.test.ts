import test from 'ava'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { ChainlogError } from '../ts/errors.ts'
import {
  completeNodes,
  consistencyPlan,
  EMPTY_ROOT,
  hashChildren,
  hashLeaf,
  inclusionPlan,
  memoryNodeReader,
  merkleRoot,
  MerkleFrontier,
  rootPlan,
  runPlan,
  verifyConsistency,
  verifyInclusion,
} from '../ts/tlog/merkle.ts'
import { buildTiles, parseTilePath, tileNodeReader, tilePath } from '../ts/tlog/tiles.ts'

// RFC 6962 / RFC 9162 tree math against the public vectors of github.com/transparency-dev/merkle
// and golang.org/x/mod (copied under __test__/vectors/tlog/, see its README), then every proof
// size of small trees generated and verified.

const VECTORS = join(import.meta.dirname, 'vectors', 'tlog')
const hex = (h: string) => Buffer.from(h, 'hex')
const b64 = (s: string | null | undefined) => Buffer.from(s ?? '', 'base64')

const rfc = JSON.parse(readFileSync(join(VECTORS, 'rfc6962.json'), 'utf8')) as {
  leafInputs: string[]
  nodeHashes: string[][]
  rootHashes: string[]
  hasher: { emptyRoot: string; emptyLeaf: string; leaf: { data: string; hash: string }; node: { left: string; right: string; hash: string } }
}
const leafHashes = rfc.leafInputs.map((d) => hashLeaf(hex(d)))

/** The error a call throws, asserting it is a ChainlogError (never a TypeError, RangeError …). */
function chainlogErrorOf(fn: () => unknown): ChainlogError | undefined {
  try {
    fn()
    return undefined
  } catch (err) {
    if (!(err instanceof ChainlogError)) throw new Error(`expected a ChainlogError, got ${String(err)}`, { cause: err })
    return err
  }
}

test('RFC 6962 hasher: empty root, leaf and node hashes match the published vectors', (t) => {
  t.is(EMPTY_ROOT.toString('hex'), rfc.hasher.emptyRoot)
  t.is(hashLeaf(Buffer.alloc(0)).toString('hex'), rfc.hasher.emptyLeaf)
  t.is(hashLeaf(Buffer.from(rfc.hasher.leaf.data)).toString('hex'), rfc.hasher.leaf.hash)
  t.is(hashChildren(Buffer.from(rfc.hasher.node.left), Buffer.from(rfc.hasher.node.right)).toString('hex'), rfc.hasher.node.hash)
})

test('RFC 6962 tree of 8 leaves: every complete node and every root of sizes 0..8 match the vectors', (t) => {
  const levels = completeNodes(leafHashes)
  t.deepEqual(levels.map((row) => row.map((h) => h.toString('hex'))), rfc.nodeHashes)
  for (let n = 0; n <= leafHashes.length; n++) {
    t.is(merkleRoot(leafHashes.slice(0, n)).toString('hex'), rfc.rootHashes[n], `root of size ${n}`)
    t.is(runPlan(rootPlan(n), memoryNodeReader(levels)).toString('hex'), rfc.rootHashes[n], `root of size ${n} from stored nodes`)
  }
})

test('MerkleFrontier: roots after each append, the nodes it completes, and a rebuild from stored nodes', (t) => {
  const f = MerkleFrontier.empty()
  t.is(f.root().toString('hex'), rfc.rootHashes[0])
  const seen: string[][] = []
  for (const [i, h] of leafHashes.entries()) {
    f.append(h, (level, index, hash) => {
      seen[level] ??= []
      seen[level][index] = hash.toString('hex')
    })
    t.is(f.root().toString('hex'), rfc.rootHashes[i + 1])
    // The compact range equals transparency-dev's CompactTrees(): one node per set bit of the size.
    const expected = MerkleFrontier.nodesFor(i + 1).map((n) => rfc.nodeHashes[n.level][n.index])
    t.deepEqual(f.hashes.map((x) => x.toString('hex')), expected)
    const rebuilt = MerkleFrontier.fromHashes(i + 1, expected.map(hex))
    t.is(rebuilt.root().toString('hex'), rfc.rootHashes[i + 1])
    t.deepEqual(MerkleFrontier.fromJSON(JSON.parse(JSON.stringify(f))).root(), f.root())
  }
  t.deepEqual(seen, rfc.nodeHashes)
  t.is(chainlogErrorOf(() => MerkleFrontier.fromHashes(3, [leafHashes[0]]))?.code, 'ERR_INVALID_ARGUMENT')
  t.is(chainlogErrorOf(() => MerkleFrontier.fromJSON({ size: 1, hashes: ['zz'] }))?.code, 'ERR_INVALID_ARGUMENT')
  t.is(chainlogErrorOf(() => f.append(Buffer.alloc(31)))?.code, 'ERR_INVALID_ARGUMENT')
})

// biome-ignore lint/suspicious/noExplicitAny: the probe files' JSON, shaped per probe kind
type Probe = Record<string, any>

function probeFiles(kind: 'inclusion' | 'consistency'): Array<{ name: string; probe: Probe }> {
  const root = join(VECTORS, 'merkle', kind)
  const out: Array<{ name: string; probe: Probe }> = []
  const walk = (dir: string) => {
    for (const e of readdirSync(dir).sort()) {
      const p = join(dir, e)
      if (statSync(p).isDirectory()) walk(p)
      else if (e.endsWith('.json')) out.push({ name: relative(root, p), probe: JSON.parse(readFileSync(p, 'utf8')) })
    }
  }
  walk(root)
  return out
}

/** All tree nodes of the vector tree, to generate proofs from. */
const vectorNodes = memoryNodeReader(completeNodes(leafHashes))
const b64list = (l: Buffer[]) => l.map((h) => h.toString('base64'))

test('transparency-dev inclusion probes: every positive one verifies, every negative one fails with a ChainlogError', (t) => {
  const probes = probeFiles('inclusion')
  t.true(probes.length >= 90, `found ${probes.length} probes`)
  let generated = 0
  for (const { name, probe } of probes) {
    const proof = (probe.proof ?? []).map(b64)
    const err = chainlogErrorOf(() => verifyInclusion(probe.leafIdx, probe.treeSize, b64(probe.leafHash), proof, b64(probe.root)))
    if (probe.wantErr) t.truthy(err, `${name} (${probe.desc}) must fail`)
    else t.is(err, undefined, `${name} (${probe.desc}) must verify: ${err?.message}`)
    // Positive probes over the RFC 6962 vector tree are also generation vectors: same path, byte for byte.
    if (!probe.wantErr && probe.treeSize <= leafHashes.length && b64(probe.root).toString('hex') === rfc.rootHashes[probe.treeSize]) {
      t.deepEqual(b64list(runPlan(inclusionPlan(probe.leafIdx, probe.treeSize), vectorNodes)), probe.proof ?? [], `${name}: generated path`)
      generated++
    }
  }
  t.true(generated >= 4, `${generated} generation checks`)
})

test('transparency-dev consistency probes: positive ones verify, negative ones fail; size1 = 0 follows RFC 9162 and tlog-witness', (t) => {
  const probes = probeFiles('consistency')
  t.true(probes.length >= 90, `found ${probes.length} probes`)
  let generated = 0
  for (const { name, probe } of probes) {
    const proof = (probe.proof ?? []).map(b64)
    const err = chainlogErrorOf(() => verifyConsistency(probe.size1, probe.size2, proof, b64(probe.root1), b64(probe.root2)))
    // transparency-dev refuses every consistency check from size 0 ("meaningless"). SPEC §8 and
    // tlog-witness accept it when the old root is SHA-256("") and the proof is empty: the empty
    // tree is a prefix of every tree. That one probe is the only place the two differ.
    const emptyTreeAccepted = probe.size1 === 0 && probe.size2 > 0 && proof.length === 0 && b64(probe.root1).equals(EMPTY_ROOT)
    if (emptyTreeAccepted) {
      t.is(name, 'additional/size1-is-zero-and-size2-is-not-zero.json')
      t.is(err, undefined)
    } else if (probe.wantErr) {
      t.truthy(err, `${name} (${probe.desc}) must fail`)
    } else {
      t.is(err, undefined, `${name} (${probe.desc}) must verify: ${err?.message}`)
    }
    if (!probe.wantErr && probe.size2 <= leafHashes.length && b64(probe.root2).toString('hex') === rfc.rootHashes[probe.size2] && b64(probe.root1).toString('hex') === rfc.rootHashes[probe.size1]) {
      t.deepEqual(b64list(runPlan(consistencyPlan(probe.size1, probe.size2), vectorNodes)), probe.proof ?? [], `${name}: generated proof`)
      generated++
    }
  }
  t.true(generated >= 4, `${generated} generation checks`)
})

test('Certificate Transparency (Argon 2020): a real audit path and consistency proof verify; a flipped bit does not', (t) => {
  const dir = join(VECTORS, 'argon2020')
  const sth = JSON.parse(readFileSync(join(dir, 'sth.json'), 'utf8'))
  const entry = b64(JSON.parse(readFileSync(join(dir, 'entries.json'), 'utf8')).entries[0].leaf_input)
  const audit = JSON.parse(readFileSync(join(dir, 'proof.json'), 'utf8'))
  const consistency = JSON.parse(readFileSync(join(dir, 'consistency.json'), 'utf8')).consistency.map(b64)
  const root = b64(sth.sha256_root_hash)
  const oldRoot = b64('AuIZ5V6sDUj1vn3Y1K85oOaQ7y+FJJKtyRTl1edIKBQ=') // from x/mod's ct_test.go
  verifyInclusion(audit.leaf_index, sth.tree_size, hashLeaf(entry), audit.audit_path.map(b64), root)
  verifyConsistency(3654490, sth.tree_size, consistency, oldRoot, root)
  const bad = consistency.map((h: Buffer, i: number) => (i === 3 ? Buffer.from(h.map((x, j) => (j === 0 ? x ^ 1 : x))) : h))
  t.is(chainlogErrorOf(() => verifyConsistency(3654490, sth.tree_size, bad, oldRoot, root))?.code, 'ERR_CHAIN_BROKEN')
  t.is(chainlogErrorOf(() => verifyInclusion(audit.leaf_index + 1, sth.tree_size, hashLeaf(entry), audit.audit_path.map(b64), root))?.code, 'ERR_CHAIN_BROKEN')
  t.is(chainlogErrorOf(() => verifyConsistency(3654491, sth.tree_size, consistency, oldRoot, root))?.code, 'ERR_CHAIN_BROKEN')
})

/** A deterministic tree of n leaves. */
function tree(n: number) {
  const leaves = Array.from({ length: n }, (_, i) => hashLeaf(Buffer.from(`leaf ${i}`)))
  const levels = completeNodes(leaves)
  const roots: Buffer[] = []
  const f = MerkleFrontier.empty()
  roots.push(f.root())
  for (const l of leaves) {
    f.append(l)
    roots.push(f.root())
  }
  return { leaves, read: memoryNodeReader(levels), roots }
}

/** The sizes m to test against a tree of size n: all of them when small, else edges and powers of two. */
function sizesUpTo(n: number, all: boolean): number[] {
  if (all) return Array.from({ length: n }, (_, i) => i + 1)
  const s = new Set<number>([1, 2, 3, n - 2, n - 1, n, Math.floor(n / 2), Math.floor(n / 3)])
  for (let p = 1; p <= n; p *= 2) for (const d of [-1, 0, 1]) s.add(p + d)
  for (let k = 1; k <= 12; k++) s.add(1 + ((n * 7919 + k * 104729) % n)) // fixed pseudo-random picks
  return [...s].filter((m) => m >= 1 && m <= n).sort((a, b) => a - b)
}

test('property: proofs generated from stored nodes verify, for every 1 ≤ m ≤ n ≤ 256 and a dense sample up to 2000', (t) => {
  const N = 2000
  const { leaves, read, roots } = tree(N)
  // Roots from stored nodes equal the frontier's after each append.
  for (let n = 0; n <= N; n++) if (!runPlan(rootPlan(n), read).equals(roots[n])) t.fail(`root of size ${n}`)
  let checks = 0
  for (let n = 1; n <= N; n++) {
    const all = n <= 256
    for (const m of sizesUpTo(n, all)) {
      const c = runPlan(consistencyPlan(m, n), read)
      verifyConsistency(m, n, c, roots[m], roots[n])
      const i = m - 1
      const p = runPlan(inclusionPlan(i, n), read)
      verifyInclusion(i, n, leaves[i], p, roots[n])
      checks++
      // A proof never verifies for a neighbouring leaf, size or a flipped hash.
      if (checks % 97 === 0) {
        if (p.length > 0) {
          const flipped = p.map((h, j) => (j === p.length - 1 ? hashLeaf(h) : h))
          t.is(chainlogErrorOf(() => verifyInclusion(i, n, leaves[i], flipped, roots[n]))?.code, 'ERR_CHAIN_BROKEN')
        }
        if (n > 1) t.is(chainlogErrorOf(() => verifyInclusion(i, n, leaves[(i + 1) % n], p, roots[n]))?.code, 'ERR_CHAIN_BROKEN')
        if (m < n) t.truthy(chainlogErrorOf(() => verifyConsistency(m, n, c.slice(0, -1), roots[m], roots[n])))
        if (m < n && m > 1) t.is(chainlogErrorOf(() => verifyConsistency(m - 1, n, c, roots[m], roots[n]))?.code, 'ERR_CHAIN_BROKEN')
      }
    }
  }
  t.true(checks > 80_000, `${checks} (m, n) pairs`)
})

test('property: the empty tree and equal sizes need empty proofs; impossible sizes are ERR_INVALID_ARGUMENT', (t) => {
  const { read, roots } = tree(5)
  t.deepEqual(runPlan(consistencyPlan(0, 5), read), [])
  t.deepEqual(runPlan(consistencyPlan(5, 5), read), [])
  verifyConsistency(0, 5, [], EMPTY_ROOT, roots[5])
  verifyConsistency(0, 0, [], EMPTY_ROOT, EMPTY_ROOT)
  verifyConsistency(5, 5, [], roots[5], roots[5])
  t.is(chainlogErrorOf(() => verifyConsistency(5, 5, [], roots[5], roots[4]))?.code, 'ERR_CHAIN_BROKEN')
  t.is(chainlogErrorOf(() => verifyConsistency(0, 5, [roots[1]], EMPTY_ROOT, roots[5]))?.code, 'ERR_CHAIN_BROKEN')
  t.is(chainlogErrorOf(() => verifyConsistency(0, 5, [], roots[1], roots[5]))?.code, 'ERR_CHAIN_BROKEN')
  t.is(chainlogErrorOf(() => verifyConsistency(6, 5, [], roots[5], roots[5]))?.code, 'ERR_INVALID_ARGUMENT')
  t.is(chainlogErrorOf(() => verifyConsistency(1.5, 5, [], roots[5], roots[5]))?.code, 'ERR_INVALID_ARGUMENT')
  t.is(chainlogErrorOf(() => verifyConsistency(-1, 5, [], roots[5], roots[5]))?.code, 'ERR_INVALID_ARGUMENT')
  t.is(chainlogErrorOf(() => verifyInclusion(5, 5, roots[1], [], roots[5]))?.code, 'ERR_INVALID_ARGUMENT')
  t.is(chainlogErrorOf(() => inclusionPlan(5, 5))?.code, 'ERR_INVALID_ARGUMENT')
  t.is(chainlogErrorOf(() => consistencyPlan(6, 5))?.code, 'ERR_INVALID_ARGUMENT')
  // Bounds are checked before any hashing: 65 inclusion hashes, 64 consistency hashes, a 31-byte hash.
  t.is(chainlogErrorOf(() => verifyInclusion(0, 5, roots[1], Array(65).fill(roots[1]), roots[5]))?.code, 'ERR_INVALID_ARGUMENT')
  t.is(chainlogErrorOf(() => verifyConsistency(1, 5, Array(64).fill(roots[1]), roots[1], roots[5]))?.code, 'ERR_INVALID_ARGUMENT')
  t.is(chainlogErrorOf(() => verifyInclusion(0, 5, roots[1], [Buffer.alloc(31)], roots[5]))?.code, 'ERR_INVALID_ARGUMENT')
  t.is(chainlogErrorOf(() => verifyInclusion(0, 5, Buffer.alloc(31), [], roots[5]))?.code, 'ERR_INVALID_ARGUMENT')
  // A proof of the right shape but too many hashes for the sizes is a proof that does not check out.
  t.is(chainlogErrorOf(() => verifyInclusion(0, 5, roots[1], Array(4).fill(roots[1]), roots[5]))?.code, 'ERR_CHAIN_BROKEN')
  // Sizes near 2^53 are handled with arithmetic, not 32-bit bit operators.
  const big = Number.MAX_SAFE_INTEGER
  t.is(inclusionPlan(big - 1, big).nodes.length, 52) // one left sibling per set bit above the last leaf
  t.is(chainlogErrorOf(() => verifyInclusion(2 ** 40 + 3, big, roots[1], [], roots[5]))?.code, 'ERR_CHAIN_BROKEN')
})

test('tiles: paths follow C2SP tlog-tiles (x001/x234/067, .p/<W>, entries) and parse back strictly', (t) => {
  t.is(tilePath({ level: 0, index: 1234067, width: 256 }), 'tile/0/x001/x234/067')
  t.is(tilePath({ level: 1, index: 3057500, width: 2 }), 'tile/1/x003/x057/500.p/2')
  t.is(tilePath({ level: 2, index: 0, width: 1 }), 'tile/2/000.p/1')
  t.is(tilePath({ level: 0, index: 1000, width: 256 }), 'tile/0/x001/000')
  t.deepEqual(parseTilePath('tile/3/x123/x456/078.p/2'), { level: 3, index: 123456078, width: 2, entries: false })
  t.deepEqual(parseTilePath('tile/entries/x001/x234/067'), { level: 0, index: 1234067, width: 256, entries: true })
  for (const bad of ['tile/3/123/456/078', 'tile/0/-1', 'tile/0/x000/001', 'tile/0/001.p/256', 'tile/0/001.p/0', 'tile/0/001.p/05', 'tile/64/000', 'tile/01/000', 'tile/0/01', 'tile/8/0/000', 'tile/0/000/']) {
    t.is(chainlogErrorOf(() => parseTilePath(bad))?.code, 'ERR_INVALID_ARGUMENT', bad)
  }
})

test('tiles: the C2SP examples of which tiles a size has, and proofs read from tiles equal proofs read from memory', (t) => {
  const N = 70_000
  const leaves = Array.from({ length: N }, (_, i) => hashLeaf(Buffer.from(`leaf ${i}`)))
  const tiles = buildTiles(leaves)
  // "a tree of size 70,000 will be represented by 273 full level 0 tiles, one partial level 0 tile
  // of width 112, one full level 1 tile, one partial level 1 tile of width 17, and one partial level
  // 2 tile of width 1"
  const paths = [...tiles.keys()]
  t.is(paths.filter((p) => /^tile\/0\/[x0-9/]+$/.test(p)).length, 273)
  t.true(tiles.has('tile/0/273.p/112') && tiles.has('tile/1/000') && tiles.has('tile/1/001.p/17') && tiles.has('tile/2/000.p/1'))
  t.is(paths.length, 273 + 4)
  t.deepEqual([...buildTiles(leaves.slice(0, 256)).keys()], ['tile/0/000', 'tile/1/000.p/1'])
  const readTile = (level: number, index: number, width: number) => {
    const full = tiles.get(tilePath({ level, index, width: 256 }))
    if (full) return full
    const partial = [...tiles.entries()].find(([p]) => p.startsWith(tilePath({ level, index, width: 256 }) + '.p/'))
    if (!partial || partial[1].length < width * 32) throw new Error(`no tile ${level}/${index} of width ${width}`)
    return partial[1]
  }
  const fromTiles = tileNodeReader(readTile)
  const levels = completeNodes(leaves)
  const fromMemory = memoryNodeReader(levels)
  const root = runPlan(rootPlan(N), fromMemory)
  t.deepEqual(runPlan(rootPlan(N), fromTiles), root)
  t.deepEqual(tiles.get('tile/2/000.p/1'), levels[16][0])
  for (const [i, n] of [[0, N], [69_999, N], [65_535, 65_536], [65_536, 65_537], [300, 513], [12_345, 67_890]]) {
    t.deepEqual(runPlan(inclusionPlan(i, n), fromTiles), runPlan(inclusionPlan(i, n), fromMemory), `inclusion ${i} in ${n}`)
    t.deepEqual(runPlan(consistencyPlan(i + 1, n), fromTiles), runPlan(consistencyPlan(i + 1, n), fromMemory), `consistency ${i + 1} → ${n}`)
  }
})
