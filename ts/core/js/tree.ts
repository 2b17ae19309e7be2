/**
 * SPEC §8 in the JS core: a batch's leaves extend the stream's Merkle compact range, byte for
 * byte as crates/chainlog-core/src/tree.rs does (EncodeBatchInput.treeFrontier).
 */
import { hash as cryptoHash } from 'node:crypto'
import { TREE_FRONTIER_BYTES, treeOutBytes, treeTileNodes } from '../interface.ts'
import { HASH_BYTES } from '../format.ts'
import { invalid } from './args.ts'
import { readU64, writeU64 } from './hash.ts'

const TILE_HEIGHT = 8

/** Refuses a compact range that is malformed or not of `size` leaves (before anything is encoded). */
export function checkTreeFrontier(frontier: unknown, size: number): Uint8Array {
  if (!(frontier instanceof Uint8Array) || frontier.length !== TREE_FRONTIER_BYTES) {
    throw invalid(`treeFrontier must be ${TREE_FRONTIER_BYTES} bytes, got ${frontier instanceof Uint8Array ? frontier.length : typeof frontier}`)
  }
  const held = readU64(frontier, 0)
  if (held !== size) throw invalid(`treeFrontier holds a tree of ${held} leaves, the batch starts at offset ${size}`)
  return frontier
}

/** The tree after the leaves of `chainHashes` (n × 32 bytes) follow the checked `frontier` of `size` leaves: EncodeBatchResult.tree. */
export function extendTree(frontier: Uint8Array, size: number, chainHashes: Uint8Array): Buffer {
  const n = chainHashes.length / HASH_BYTES
  const out = Buffer.alloc(treeOutBytes(size, n))
  const stack: Buffer[] = []
  for (let j = 0, bits = popcount(size); j < bits; j++) stack.push(Buffer.from(frontier.subarray(8 + j * HASH_BYTES, 8 + (j + 1) * HASH_BYTES)))
  const levelAt: number[] = []
  let at = TREE_FRONTIER_BYTES + n * HASH_BYTES
  for (const l of treeTileNodes(size, n)) {
    levelAt[l.level] = at - l.first * HASH_BYTES
    at += l.count * HASH_BYTES
  }
  const leafInput = Buffer.alloc(1 + HASH_BYTES)
  const nodeInput = Buffer.alloc(1 + 2 * HASH_BYTES)
  nodeInput[0] = 1
  for (let i = 0; i < n; i++) {
    leafInput.set(chainHashes.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES), 1)
    let hash = cryptoHash('sha256', leafInput, 'buffer')
    hash.copy(out, TREE_FRONTIER_BYTES + i * HASH_BYTES)
    let index = size + i
    let level = 0
    while (index % 2 === 1) {
      nodeInput.set(stack.pop()!, 1)
      nodeInput.set(hash, 1 + HASH_BYTES)
      hash = cryptoHash('sha256', nodeInput, 'buffer')
      index = (index - 1) / 2
      level++
      if (level % TILE_HEIGHT === 0) hash.copy(out, levelAt[level / TILE_HEIGHT] + index * HASH_BYTES)
    }
    stack.push(hash)
  }
  writeU64(out, size + n, 0)
  for (let j = 0; j < stack.length; j++) stack[j].copy(out, 8 + j * HASH_BYTES)
  return out
}

function popcount(size: number): number {
  let bits = 0
  for (let v = size; v > 0; v = Math.floor(v / 2)) bits += v % 2
  return bits
}
