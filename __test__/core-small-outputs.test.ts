import test from 'ava'
import { BACKENDS, core } from './helpers/cores.ts'
import { CODEC_NONE, KIND_DATA, type EncodeBatchResult } from '../ts/core/interface.ts'

// The native core carves small batches' outputs (positions, last hash, hashes) from shared slabs
// (ts/core/native.ts, OutputSlab): every output a caller keeps must stay its own, unchanged by
// the calls after it, across many slabs, and equal what the other core gives.
const CALLS = 2_000

/** CALLS chained batches of 1–16 records (one append each, as groups of one are with many streams), every result kept. */
async function encodeChain(backend: (typeof BACKENDS)[number]): Promise<EncodeBatchResult[]> {
  const c = await core(backend)
  const results: EncodeBatchResult[] = []
  let prevHash: Buffer = Buffer.alloc(32)
  let firstOffset = 0
  const into = Buffer.alloc(64 * 1024)
  for (let i = 0; i < CALLS; i++) {
    const n = 1 + (i % 16)
    const lengths = Uint32Array.from({ length: n }, (_, k) => 1 + ((i + k) % 40))
    const payloads = Buffer.alloc(lengths.reduce((a, b) => a + b, 0), i % 251)
    const r = c.encodeBatch({
      hash: 'sha256', stream: 's', firstOffset, prevHash, kind: KIND_DATA, codec: CODEC_NONE, level: 0,
      payloads, lengths, timestamps: new Float64Array(n).fill(1_700_000_000_000 + i), wantHashes: i % 3 === 0,
      // Every other call into a reused buffer, as the commit path does: the records are copied out.
      into: i % 2 === 0 ? into : undefined,
    })
    results.push({ ...r, bytes: Buffer.from(r.bytes) })
    prevHash = r.lastHash
    firstOffset += n
  }
  return results
}

for (const backend of BACKENDS) {
  test(`${backend}: kept outputs of ${CALLS} small batches stay as encoded, and equal the other core's`, async (t) => {
    const other = backend === 'native' ? 'js' : 'native'
    const [kept, expected] = await Promise.all([encodeChain(backend), encodeChain(other)])
    for (let i = 0; i < CALLS; i++) {
      const a = kept[i]
      const b = expected[i]
      if (!a.bytes.equals(b.bytes) || !a.lastHash.equals(b.lastHash) || !Buffer.from(a.positions.buffer, a.positions.byteOffset, a.positions.byteLength).equals(Buffer.from(b.positions.buffer, b.positions.byteOffset, b.positions.byteLength))) {
        t.fail(`call ${i}: the kept outputs differ from the other core's`)
        return
      }
      if ((a.hashes === null) !== (b.hashes === null) || (a.hashes !== null && !a.hashes.equals(b.hashes!))) {
        t.fail(`call ${i}: the kept hashes differ from the other core's`)
        return
      }
    }
    t.pass()
  })
}
