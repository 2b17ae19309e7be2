/**
 * RFC 6962 / RFC 9162 Merkle tree math over SHA-256, store-free: hashing, the right frontier
 * (compact range) of a growing tree, proof generation from stored node hashes, and proof
 * verification exactly as RFC 9162 §2.1.3.2 and §2.1.4.2 describe it.
 *
 * A node is named by (level, index): it covers leaves [index·2^level, (index+1)·2^level). Only
 * complete nodes are ever stored (tiles hold nothing else); the nodes on the right edge of a tree
 * whose size is not a power of two are "ephemeral" and are folded from complete ones here.
 *
 * Sizes and indexes are JavaScript numbers, safe integers: bit operators are 32-bit, so this file
 * uses arithmetic (% 2, Math.floor(x / 2)) instead of & and >>.
 */
import { createHash, hash as oneShotHash } from 'node:crypto'
import { ChainlogError } from '../errors.ts'

export const HASH_SIZE = 32
/** A tree of 2^53 leaves has 53 levels above its leaves; no honest proof is longer than this. */
export const MAX_INCLUSION_HASHES = 64
/** RFC 9162 bound for consistency proofs, and the tlog-witness limit on proof lines. */
export const MAX_CONSISTENCY_HASHES = 63

const LEAF_PREFIX = Buffer.from([0x00])
const NODE_PREFIX = Buffer.from([0x01])

/** Reused inputs of the one-shot hashes (0x00 ‖ leaf data, 0x01 ‖ left ‖ right): hashing is synchronous. */
const LEAF_INPUT = Buffer.alloc(1 + HASH_SIZE)
const NODE_INPUT = Buffer.from([0x01, ...new Uint8Array(2 * HASH_SIZE)])

/** SHA-256(""): the root of the empty tree. */
export const EMPTY_ROOT: Buffer = createHash('sha256').digest()

/** RFC 6962 leaf hash: SHA-256(0x00 ‖ data). */
export function hashLeaf(data: Uint8Array): Buffer {
  // The one-shot hash costs about half of a Hash object per call; trees hash twice per leaf.
  if (data.length === HASH_SIZE) {
    LEAF_INPUT.set(data, 1)
    return oneShotHash('sha256', LEAF_INPUT, 'buffer')
  }
  return createHash('sha256').update(LEAF_PREFIX).update(data).digest()
}

/** RFC 6962 interior node hash: SHA-256(0x01 ‖ left ‖ right). */
export function hashChildren(left: Uint8Array, right: Uint8Array): Buffer {
  if (left.length === HASH_SIZE && right.length === HASH_SIZE) {
    NODE_INPUT.set(left, 1)
    NODE_INPUT.set(right, 1 + HASH_SIZE)
    return oneShotHash('sha256', NODE_INPUT, 'buffer')
  }
  return createHash('sha256').update(NODE_PREFIX).update(left).update(right).digest()
}

/** A complete node of the tree: it covers leaves [index·2^level, (index+1)·2^level). */
export interface NodeId {
  /** Height above the leaves (0 = a leaf). */
  level: number
  /** Position within the level, from the left. */
  index: number
}

/** Reads the hash of a complete node (from tiles, memory, ...). */
export type ReadNode = (level: number, index: number) => Uint8Array

const pow2 = (k: number) => 2 ** k
const isOdd = (x: number) => x % 2 === 1
const half = (x: number) => Math.floor(x / 2)

/** The largest power of two strictly smaller than n (n ≥ 2). */
function splitPoint(n: number): number {
  let k = 1
  while (k * 2 < n) k *= 2
  return k
}

export function checkSize(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new ChainlogError('ERR_INVALID_ARGUMENT', `${name}: expected a non-negative safe integer, found ${String(value)}`)
  }
  return value
}

function checkHash(name: string, value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array) || value.length !== HASH_SIZE) {
    throw new ChainlogError('ERR_INVALID_ARGUMENT', `${name}: expected a ${HASH_SIZE}-byte hash, found ${value instanceof Uint8Array ? `${value.length} bytes` : typeof value}`)
  }
  return value
}

function checkHashList(name: string, value: unknown, max: number): Uint8Array[] {
  if (!Array.isArray(value)) throw new ChainlogError('ERR_INVALID_ARGUMENT', `${name}: expected an array of hashes`)
  if (value.length > max) throw new ChainlogError('ERR_INVALID_ARGUMENT', `${name}: at most ${max} hashes, found ${value.length}`)
  return value.map((h, i) => checkHash(`${name}[${i}]`, h))
}

/**
 * The complete nodes that make up leaves [begin, end) when `begin` is aligned to a power of two
 * at least end − begin (every range a proof or a root asks for is): largest first, left to right.
 */
function rangeNodes(begin: number, end: number): NodeId[] {
  const nodes: NodeId[] = []
  let at = begin
  while (at < end) {
    let level = 0
    while (at % pow2(level + 1) === 0 && at + pow2(level + 1) <= end) level++
    nodes.push({ level, index: at / pow2(level) })
    at += pow2(level)
  }
  return nodes
}

/** Folds the hashes of rangeNodes() into the range's Merkle Tree Hash (right to left). */
function foldRange(hashes: readonly Uint8Array[]): Buffer {
  if (hashes.length === 0) return EMPTY_ROOT
  let acc: Buffer = Buffer.from(hashes[hashes.length - 1])
  for (let i = hashes.length - 2; i >= 0; i--) acc = hashChildren(hashes[i], acc)
  return acc
}

/**
 * What a proof or root needs from storage, and how to put it together: `nodes` are read (in one
 * batch, e.g. from tiles), then `assemble(hashes)` gives the result. Keeps the storage access
 * (sync or async) with the caller and the math here.
 */
export interface NodePlan<T> {
  /** The complete nodes to read, in the order assemble() expects their hashes. */
  nodes: NodeId[]
  /** The result, from the hashes of `nodes` in order. */
  assemble(hashes: readonly Uint8Array[]): T
}

/** Plans a list of subtree hashes MTH(D[begin:end]), each folded from its complete nodes. */
function planRanges(ranges: Array<[number, number]>): NodePlan<Buffer[]> {
  const groups = ranges.map(([b, e]) => rangeNodes(b, e))
  return {
    nodes: groups.flat(),
    assemble(hashes) {
      if (hashes.length !== groups.reduce((n, g) => n + g.length, 0)) {
        throw new ChainlogError('ERR_INVALID_ARGUMENT', `expected ${groups.reduce((n, g) => n + g.length, 0)} node hashes, found ${hashes.length}`)
      }
      const out: Buffer[] = []
      let at = 0
      for (const g of groups) {
        out.push(foldRange(hashes.slice(at, at + g.length).map((h, i) => checkHash(`node ${g[i].level}/${g[i].index}`, h))))
        at += g.length
      }
      return out
    },
  }
}

/** The root of the tree of the first `size` leaves. */
export function rootPlan(size: number): NodePlan<Buffer> {
  checkSize('size', size)
  const plan = planRanges(size === 0 ? [] : [[0, size]])
  return { nodes: plan.nodes, assemble: (hashes) => plan.assemble(hashes)[0] ?? EMPTY_ROOT }
}

/** RFC 6962 §2.1.1 PATH(m, D[n]), as subtree ranges from the leaf's sibling up. */
function inclusionRanges(index: number, size: number): Array<[number, number]> {
  const out: Array<[number, number]> = []
  let begin = 0, end = size, m = index
  while (end - begin > 1) {
    const k = splitPoint(end - begin)
    if (m < k) {
      out.push([begin + k, end])
      end = begin + k
    } else {
      out.push([begin, begin + k])
      begin += k
      m -= k
    }
  }
  return out.reverse()
}

/** The audit path of leaf `index` in the tree of size `size` (0 ≤ index < size). */
export function inclusionPlan(index: number, size: number): NodePlan<Buffer[]> {
  checkSize('index', index)
  checkSize('size', size)
  if (index >= size) throw new ChainlogError('ERR_INVALID_ARGUMENT', `inclusion proof: index ${index} is not below tree size ${size}`)
  return planRanges(inclusionRanges(index, size))
}

/** RFC 6962 §2.1.2 PROOF(m, D[n]) = SUBPROOF(m, D[n], true), as subtree ranges. */
function consistencyRanges(oldSize: number, newSize: number): Array<[number, number]> {
  const out: Array<[number, number]> = []
  let begin = 0, end = newSize, m = oldSize, complete = true
  while (m !== end - begin) {
    const k = splitPoint(end - begin)
    if (m <= k) {
      out.push([begin + k, end])
      end = begin + k
    } else {
      out.push([begin, begin + k])
      begin += k
      m -= k
      complete = false
    }
  }
  if (!complete) out.push([begin, end])
  return out.reverse()
}

/** The consistency proof from the tree of size `oldSize` to that of size `newSize`. */
export function consistencyPlan(oldSize: number, newSize: number): NodePlan<Buffer[]> {
  checkSize('oldSize', oldSize)
  checkSize('newSize', newSize)
  if (oldSize > newSize) throw new ChainlogError('ERR_INVALID_ARGUMENT', `consistency proof: old size ${oldSize} is above new size ${newSize}`)
  // The empty tree and an identical tree are consistent without any proof (RFC 9162 §2.1.4).
  if (oldSize === 0 || oldSize === newSize) return planRanges([])
  return planRanges(consistencyRanges(oldSize, newSize))
}

/** Runs a plan against a synchronous node reader. */
export function runPlan<T>(plan: NodePlan<T>, read: ReadNode): T {
  return plan.assemble(plan.nodes.map((n) => read(n.level, n.index)))
}

/** Hash of every complete node of a tree given all its leaf hashes: levels[l][i]. */
export function completeNodes(leafHashes: readonly Uint8Array[]): Buffer[][] {
  const levels: Buffer[][] = [leafHashes.map((h) => Buffer.from(h))]
  while (levels[levels.length - 1].length > 1) {
    const below = levels[levels.length - 1]
    const row: Buffer[] = []
    for (let i = 0; i + 1 < below.length; i += 2) row.push(hashChildren(below[i], below[i + 1]))
    levels.push(row)
  }
  return levels
}

/** A ReadNode over completeNodes(): the in-memory tree, for tests and small exports. */
export function memoryNodeReader(levels: readonly Buffer[][]): ReadNode {
  return (level, index) => {
    const h = levels[level]?.[index]
    if (!h) throw new ChainlogError('ERR_INVALID_ARGUMENT', `node ${level}/${index} is not a complete node of this tree`)
    return h
  }
}

/** RFC 6962 MTH over leaf hashes (already hashed with hashLeaf). */
export function merkleRoot(leafHashes: readonly Uint8Array[]): Buffer {
  return runPlan(rootPlan(leafHashes.length), memoryNodeReader(completeNodes(leafHashes)))
}

/**
 * The right frontier (compact range [0, size)) of a growing tree: one complete node per set bit of
 * the size, largest first. Appending costs one leaf hash plus one node hash per trailing one bit
 * (two on average); the root is a fold of at most 53 hashes. Serialisable: the engine rebuilds it
 * from the stored nodes named by MerkleFrontier.nodesFor(size).
 */
export class MerkleFrontier {
  #size: number
  #hashes: Buffer[]

  private constructor(size: number, hashes: Buffer[]) {
    this.#size = size
    this.#hashes = hashes
  }

  /** The frontier of the empty tree. */
  static empty(): MerkleFrontier {
    return new MerkleFrontier(0, [])
  }

  /** The complete nodes a frontier of `size` leaves holds, largest first. */
  static nodesFor(size: number): NodeId[] {
    return rangeNodes(0, checkSize('size', size))
  }

  /** Rebuilds a frontier from the hashes of nodesFor(size), in that order. */
  static fromHashes(size: number, hashes: readonly Uint8Array[]): MerkleFrontier {
    const want = MerkleFrontier.nodesFor(size).length
    if (!Array.isArray(hashes) || hashes.length !== want) {
      throw new ChainlogError('ERR_INVALID_ARGUMENT', `a frontier of size ${size} has ${want} hashes, found ${Array.isArray(hashes) ? hashes.length : typeof hashes}`)
    }
    return new MerkleFrontier(size, hashes.map((h, i) => Buffer.from(checkHash(`frontier[${i}]`, h))))
  }

  /** Rebuilds a frontier from toJSON()'s output (hashes in hex). */
  static fromJSON(json: { size: number; hashes: string[] }): MerkleFrontier {
    if (!json || typeof json !== 'object' || !Array.isArray(json.hashes)) throw new ChainlogError('ERR_INVALID_ARGUMENT', 'frontier: expected { size, hashes }')
    return MerkleFrontier.fromHashes(json.size, json.hashes.map((h) => (typeof h === 'string' && /^[0-9a-f]{64}$/.test(h) ? Buffer.from(h, 'hex') : Buffer.alloc(0))))
  }

  /** The size and the frontier hashes in hex, for storing. */
  toJSON(): { size: number; hashes: string[] } {
    return { size: this.#size, hashes: this.#hashes.map((h) => h.toString('hex')) }
  }

  /** The number of leaves appended. */
  get size(): number {
    return this.#size
  }

  /** The frontier's node hashes, largest subtree first (as nodesFor(size) names them). */
  get hashes(): readonly Buffer[] {
    return this.#hashes
  }

  /** An independent copy. */
  clone(): MerkleFrontier {
    return new MerkleFrontier(this.#size, this.#hashes.slice())
  }

  /**
   * Appends one leaf hash. `onNode` sees every node this completes — the leaf itself at level 0,
   * then each parent — so that a caller can write tiles as the tree grows.
   */
  append(leafHash: Uint8Array, onNode?: (level: number, index: number, hash: Buffer) => void): void {
    checkHash('leafHash', leafHash)
    if (this.#size >= Number.MAX_SAFE_INTEGER) throw new ChainlogError('ERR_INVALID_ARGUMENT', 'tree size would exceed 2^53 - 1')
    let hash: Buffer = Buffer.from(leafHash)
    let index = this.#size
    let level = 0
    onNode?.(0, index, hash)
    while (isOdd(index)) {
      hash = hashChildren(this.#hashes.pop()!, hash)
      index = half(index)
      level++
      onNode?.(level, index, hash)
    }
    this.#hashes.push(hash)
    this.#size++
  }

  /** The Merkle Tree Hash of all leaves appended so far. */
  root(): Buffer {
    return foldRange(this.#hashes)
  }
}

// --- Verification (RFC 9162 §2.1.3.2 and §2.1.4.2) ------------------------------------------

const broken = (message: string, details: Record<string, unknown> = {}) => new ChainlogError('ERR_CHAIN_BROKEN', message, details)

const isPowerOfTwo = (x: number) => {
  while (x > 1 && x % 2 === 0) x /= 2
  return x === 1
}

/** The number of hashes in the audit path of leaf `index` in a tree of `size` (index < size). */
function inclusionProofLength(index: number, size: number): number {
  return inclusionRanges(index, size).length
}

/** The number of hashes in a consistency proof from `oldSize` to `newSize` (0 < old < new). */
function consistencyProofLength(oldSize: number, newSize: number): number {
  return consistencyRanges(oldSize, newSize).length
}

/**
 * RFC 9162 §2.1.3.2: the root an audit path leads to, or ERR_CHAIN_BROKEN when the path cannot
 * belong to a tree of this size. The hash count is checked before any hashing.
 */
export function rootFromInclusionProof(index: number, size: number, leafHash: Uint8Array, proof: readonly Uint8Array[]): Buffer {
  checkSize('index', index)
  checkSize('size', size)
  checkHash('leafHash', leafHash)
  const path = checkHashList('inclusion proof', proof, MAX_INCLUSION_HASHES)
  // 1. Compare leaf_index against tree_size. If leaf_index is greater than or equal to tree_size, fail.
  if (index >= size) throw new ChainlogError('ERR_INVALID_ARGUMENT', `inclusion proof: index ${index} is not below tree size ${size}`)
  const want = inclusionProofLength(index, size)
  if (path.length !== want) throw broken(`inclusion proof for index ${index} in a tree of size ${size} has ${want} hashes, found ${path.length}`)
  // 2.-3.
  let fn = index, sn = size - 1
  let r: Buffer = Buffer.from(leafHash)
  // 4.
  for (const p of path) {
    // a. If sn is 0, then stop the iteration and fail the proof verification.
    if (sn === 0) throw broken(`inclusion proof for index ${index} in a tree of size ${size} is too long`)
    // b.
    if (isOdd(fn) || fn === sn) {
      r = hashChildren(p, r)
      if (!isOdd(fn)) {
        while (!isOdd(fn) && fn !== 0) {
          fn = half(fn)
          sn = half(sn)
        }
      }
    } else {
      r = hashChildren(r, p)
    }
    // c.
    fn = half(fn)
    sn = half(sn)
  }
  // 5. sn must be 0.
  if (sn !== 0) throw broken(`inclusion proof for index ${index} in a tree of size ${size} is too short`)
  return r
}

/** Checks an audit path against a root (RFC 9162 §2.1.3.2). Throws ERR_CHAIN_BROKEN on mismatch. */
export function verifyInclusion(index: number, size: number, leafHash: Uint8Array, proof: readonly Uint8Array[], root: Uint8Array): void {
  const got = rootFromInclusionProof(index, size, leafHash, proof)
  if (!(root instanceof Uint8Array) || !got.equals(root)) {
    throw broken(`inclusion proof for index ${index} leads to root ${got.toString('hex')}, not the expected root of the tree of size ${size}`, { offset: index })
  }
}

/**
 * Checks a consistency proof between two tree heads (RFC 9162 §2.1.4.2), with the cases the RFC
 * leaves to the caller: old = new needs an empty proof and equal roots; the empty tree (root
 * SHA-256("")) is consistent with every tree and needs an empty proof. Throws ERR_CHAIN_BROKEN
 * when the proof does not check out, ERR_INVALID_ARGUMENT for impossible sizes or malformed hashes.
 */
export function verifyConsistency(oldSize: number, newSize: number, proof: readonly Uint8Array[], oldRoot: Uint8Array, newRoot: Uint8Array): void {
  checkSize('oldSize', oldSize)
  checkSize('newSize', newSize)
  const path = checkHashList('consistency proof', proof, MAX_CONSISTENCY_HASHES)
  if (!(oldRoot instanceof Uint8Array) || !(newRoot instanceof Uint8Array)) throw new ChainlogError('ERR_INVALID_ARGUMENT', 'consistency proof: roots must be bytes')
  const o = Buffer.from(oldRoot), n = Buffer.from(newRoot)
  if (oldSize > newSize) throw new ChainlogError('ERR_INVALID_ARGUMENT', `consistency proof: old size ${oldSize} is above new size ${newSize}`)
  if (oldSize === newSize) {
    if (path.length !== 0) throw broken(`consistency proof between equal sizes ${oldSize} must be empty, found ${path.length} hashes`)
    if (!o.equals(n)) throw broken(`trees of the same size ${oldSize} have different roots`)
    if (oldSize === 0 && !o.equals(EMPTY_ROOT)) throw broken('the empty tree has a root other than SHA-256("")')
    return
  }
  if (oldSize === 0) {
    if (path.length !== 0) throw broken(`consistency proof from the empty tree must be empty, found ${path.length} hashes`)
    if (!o.equals(EMPTY_ROOT)) throw broken('the empty tree has a root other than SHA-256("")')
    return
  }
  // 1. If consistency_path is an empty array, stop and fail the proof verification.
  if (path.length === 0) throw broken(`consistency proof from size ${oldSize} to ${newSize} is empty`)
  const want = consistencyProofLength(oldSize, newSize)
  if (path.length !== want) throw broken(`consistency proof from size ${oldSize} to ${newSize} has ${want} hashes, found ${path.length}`)
  // 2. If first is an exact power of 2, then prepend first_hash to the consistency_path array.
  const c: Uint8Array[] = isPowerOfTwo(oldSize) ? [o, ...path] : path.slice()
  // 3. Set fn to first - 1 and sn to second - 1.
  let fn = oldSize - 1, sn = newSize - 1
  // 4. If LSB(fn) is set, then right-shift both fn and sn equally until LSB(fn) is not set.
  while (isOdd(fn)) {
    fn = half(fn)
    sn = half(sn)
  }
  // 5. Set both fr and sr to the first value in the consistency_path array.
  let fr: Buffer = Buffer.from(c[0]), sr: Buffer = Buffer.from(c[0])
  // 6. For each subsequent value c in the consistency_path array:
  for (let i = 1; i < c.length; i++) {
    // a. If sn is 0, then stop the iteration and fail the proof verification.
    if (sn === 0) throw broken(`consistency proof from size ${oldSize} to ${newSize} is too long`)
    // b.
    if (isOdd(fn) || fn === sn) {
      fr = hashChildren(c[i], fr)
      sr = hashChildren(c[i], sr)
      if (!isOdd(fn)) {
        while (!isOdd(fn) && fn !== 0) {
          fn = half(fn)
          sn = half(sn)
        }
      }
    } else {
      sr = hashChildren(sr, c[i])
    }
    // c.
    fn = half(fn)
    sn = half(sn)
  }
  // 7. fr = first_hash, sr = second_hash, sn = 0.
  if (sn !== 0) throw broken(`consistency proof from size ${oldSize} to ${newSize} is too short`)
  if (!fr.equals(o)) throw broken(`consistency proof does not lead to the root of the tree of size ${oldSize}`)
  if (!sr.equals(n)) throw broken(`consistency proof does not lead to the root of the tree of size ${newSize}`)
}
