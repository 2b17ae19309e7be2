import test from 'ava'
import { core } from './helpers/cores.ts'
import { CODEC_NONE, KIND_CHECKPOINT, TREE_FRONTIER_BYTES, treeOutBytes, treeTileNodes, type ChainlogCore, type EncodeBatchInput } from '../ts/core/interface.ts'
import { ChainlogError } from '../ts/errors.ts'
import { hashLeaf, MerkleFrontier, rootPlan } from '../ts/tlog/merkle.ts'

// SPEC §8: encodeBatch extends the stream's Merkle compact range in the same call; both cores
// must give the same bytes, and the tree ts/tlog/merkle.ts builds leaf by leaf.

function batch(firstOffset: number, prevHash: Buffer, n: number, treeFrontier: Uint8Array): EncodeBatchInput {
  const payloads = Buffer.alloc(n * 16, firstOffset & 0xff)
  return {
    hash: 'sha256', stream: 's', firstOffset, prevHash, kind: 0, codec: CODEC_NONE, level: 0, payloads,
    lengths: new Uint32Array(n).fill(16), timestamps: new Float64Array(n).fill(1700000000000), treeFrontier,
  }
}

/** Encodes `sizes` batches in turn with the tree on; returns every tree output and the chain hashes. */
function run(c: ChainlogCore, sizes: number[]): { outs: Buffer[]; chain: Buffer[] } {
  let frontier: Uint8Array = Buffer.alloc(TREE_FRONTIER_BYTES)
  let prev: Buffer = Buffer.alloc(32)
  let offset = 0
  const outs: Buffer[] = []
  const chain: Buffer[] = []
  for (const n of sizes) {
    const r = c.encodeBatch({ ...batch(offset, prev, n, frontier), wantHashes: true })
    for (let i = 0; i < n; i++) chain.push(r.hashes!.subarray(i * 32, (i + 1) * 32))
    outs.push(r.tree!)
    frontier = Buffer.from(r.tree!.subarray(0, TREE_FRONTIER_BYTES))
    prev = r.lastHash
    offset += n
  }
  return { outs, chain }
}

test('both cores extend the tree byte for byte, as the reference frontier does, tile nodes included', async (t) => {
  const [native, js] = [await core('native'), await core('js')]
  const sizes = [1, 2, 255, 1, 300, 1000, 65_000, 600, 1]
  const a = run(native, sizes)
  const b = run(js, sizes)
  t.is(a.outs.length, b.outs.length)
  for (let i = 0; i < a.outs.length; i++) t.true(a.outs[i].equals(b.outs[i]), `batch ${i}`)
  const reference = MerkleFrontier.empty()
  const nodes = new Map<string, Buffer>()
  let size = 0
  for (let i = 0; i < sizes.length; i++) {
    const n = sizes[i]
    const out = a.outs[i]
    t.is(out.length, treeOutBytes(size, n))
    for (let k = 0; k < n; k++) {
      const leaf = hashLeaf(a.chain[size + k])
      t.true(out.subarray(TREE_FRONTIER_BYTES + k * 32, TREE_FRONTIER_BYTES + (k + 1) * 32).equals(leaf))
      reference.append(leaf, (level, index, hash) => {
        if (level > 0 && level % 8 === 0) nodes.set(`${level / 8}/${index}`, hash)
      })
    }
    let at = TREE_FRONTIER_BYTES + n * 32
    for (const l of treeTileNodes(size, n)) {
      for (let j = 0; j < l.count; j++, at += 32) t.true(out.subarray(at, at + 32).equals(nodes.get(`${l.level}/${l.first + j}`)!), `node ${l.level}/${l.first + j}`)
    }
    t.is(at, out.length)
    size += n
    t.is(out.readBigUInt64LE(0), BigInt(size))
    const hashes = MerkleFrontier.nodesFor(size).map((_, j) => out.subarray(8 + j * 32, 8 + (j + 1) * 32))
    t.true(MerkleFrontier.fromHashes(size, hashes).root().equals(reference.root()))
  }
  t.is(rootPlan(size).nodes.length > 0, true)
})

test('a checkpoint record extends the tree too', async (t) => {
  for (const backend of ['native', 'js'] as const) {
    const c = await core(backend)
    const r = c.encodeBatch({ ...batch(0, Buffer.alloc(32), 1, Buffer.alloc(TREE_FRONTIER_BYTES)), kind: KIND_CHECKPOINT, payloads: Buffer.alloc(40), lengths: Uint32Array.of(40), timestamps: Float64Array.of(0) })
    t.true(r.tree!.subarray(TREE_FRONTIER_BYTES).equals(hashLeaf(r.lastHash)), backend)
    t.is(r.hashes, null)
  }
})

test('a bad tree frontier is refused with ERR_INVALID_ARGUMENT, by both cores, before anything is written', async (t) => {
  for (const backend of ['native', 'js'] as const) {
    const c = await core(backend)
    const prev = Buffer.alloc(32, 1)
    const wrongSize = Buffer.alloc(TREE_FRONTIER_BYTES) // a tree of 0 leaves, the batch at offset 5
    const into = Buffer.alloc(4096, 0xaa)
    for (const frontier of [wrongSize, Buffer.alloc(10), new Uint8Array(0)]) {
      const err = t.throws(() => c.encodeBatch({ ...batch(5, prev, 3, frontier), into }), { instanceOf: ChainlogError }, backend)
      t.is((err as ChainlogError).code, 'ERR_INVALID_ARGUMENT', backend)
    }
    t.true(into.every((b) => b === 0xaa), `${backend}: nothing written`)
    const shared = Buffer.alloc(8192)
    const err = t.throws(() => c.encodeBatch({ ...batch(0, Buffer.alloc(32), 1, shared.subarray(0, TREE_FRONTIER_BYTES)), into: shared }), { instanceOf: ChainlogError })
    t.is((err as ChainlogError).code, 'ERR_INVALID_ARGUMENT')
  }
})
