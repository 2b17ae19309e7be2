/**
 * The leaves of a stream's Merkle tree (SPEC §8) come from its records: leaf i is the chain hash
 * of record i. Read here, chunk by chunk, with the chain checked, for the engine's StreamTree.
 */
import type { DecodeResult } from '../core/interface.ts'
import { HASH_BYTES } from '../core/format.ts'
import type { Stream } from '../engine/stream.ts'
import { RecordCursor } from './cursor.ts'

/**
 * Hands `sink` the chain hashes of records [from, to) in order, in runs (first offset, count × 32
 * bytes). A run is handed over only once the cursor confirmed its last hash (the next record's
 * link, or the head), so a damaged record stops the reading before its hash reaches the tree.
 */
export async function readChainHashes(s: Stream, from: number, to: number, sink: (first: number, hashes: Buffer) => void): Promise<void> {
  if (from >= to) return
  const cursor = new RecordCursor(s, from, from === 0 ? 'genesis' : 'checkpoint', true)
  let pending: Array<{ first: number; d: DecodeResult }> = []
  cursor.onChunk = (first, d) => {
    pending.push({ first, d })
  }
  while ((await cursor.next(to)) !== null) {
    for (const { first, d } of pending) {
      const lo = Math.max(first, from)
      const hi = Math.min(first + d.count, to, cursor.position)
      if (hi > lo) sink(lo, d.hashes.subarray((lo - first) * HASH_BYTES, (hi - first) * HASH_BYTES))
    }
    pending = []
  }
}
