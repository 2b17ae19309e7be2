/**
 * verify()'s tree check (SPEC §8): the stream's Merkle tree recomputed from its records (never
 * from the tile cache) must give the root of every trusted note and of the published
 * `<stream>/checkpoint`. This is what catches "edit a record, then recompute every hash after it",
 * which the chain check alone cannot see. A mismatch is reported at the note's size − 1, or at the
 * first leaf where the records and the tile cache differ when the tiles still give the note's root.
 */
import { ChainlogError } from '../errors.ts'
import type { Stream } from '../engine/stream.ts'
import { FULL_TILE_BYTES, TILE_HASHES, TileFiles } from '../storage/tile-files.ts'
import { openCheckpoint, parseCheckpoint } from '../tlog/checkpoint.ts'
import { hashLeaf, MerkleFrontier, merkleRoot, rootPlan } from '../tlog/merkle.ts'
import { type NoteVerifier, parseNote } from '../tlog/note.ts'
import { tileNodeReader } from '../tlog/tiles.ts'
import type { VerifyProblem } from '../types.ts'
import { readChainHashes } from './tree-leaves.ts'
import type { EmbeddedNote } from './verify.ts'

const HASH_BYTES = 32

/** A tree head the records must give: from a trusted note or the published checkpoint file. */
export interface ExpectedHead {
  size: number
  root: Buffer
  /** Where it came from, for the message. */
  source: string
}

/**
 * The published `<stream>/checkpoint` as a head to check, or the problem it is: ERR_CORRUPT when
 * it does not parse, ERR_CHAIN_BROKEN when its signature does not check with `keys`.
 */
export async function publishedHead(s: Stream, keys: ReadonlyArray<string | NoteVerifier>, origin: string | null): Promise<ExpectedHead | VerifyProblem | null> {
  const text = await new TileFiles(s.ctx.storage, s.dir).readPublished()
  if (text === null) return null
  let size: number, root: Buffer
  try {
    ;({ size, root } = parseCheckpoint(parseNote(text).text))
  } catch (err) {
    return { offset: null, code: 'ERR_CORRUPT', message: `${s.name}/checkpoint does not hold a signed checkpoint: ${err instanceof Error ? err.message : String(err)}` }
  }
  if (keys.length > 0) {
    try {
      openCheckpoint(text, { vkey: keys, ...(origin === null ? {} : { origin: `${origin}/${s.name}` }) })
    } catch (err) {
      return { offset: null, code: 'ERR_CHAIN_BROKEN', message: `${s.name}/checkpoint: ${err instanceof Error ? err.message : String(err)}` }
    }
  }
  return { size, root, source: `the published checkpoint (${s.name}/checkpoint)` }
}

/**
 * The heads the notes in a stream's checkpoint records sign (SPEC §2, §8), and the problems they
 * are: a note that does not parse is ERR_CORRUPT; one for another size, origin or stream, or
 * whose signature does not check with `keys`, is ERR_CHAIN_BROKEN. Their roots are then checked
 * by verifyTree against the records.
 */
export function embeddedHeads(stream: string, notes: readonly EmbeddedNote[], keys: ReadonlyArray<string | NoteVerifier>, origin: string | null): { heads: ExpectedHead[]; problems: VerifyProblem[] } {
  const heads: ExpectedHead[] = []
  const problems: VerifyProblem[] = []
  const name = origin === null ? null : `${origin}/${stream}`
  for (const { offset, text: bytes } of notes) {
    const where = `the note in the checkpoint record at offset ${offset}`
    let text: string, size: number, root: Buffer, noteOrigin: string
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
      ;({ size, root, origin: noteOrigin } = parseCheckpoint(parseNote(text).text))
    } catch (err) {
      problems.push({ offset, code: 'ERR_CORRUPT', message: `${where} is not a signed checkpoint: ${err instanceof Error ? err.message : String(err)}` })
      continue
    }
    const wrongOrigin = name === null ? noteOrigin.slice(noteOrigin.lastIndexOf('/') + 1) !== stream : noteOrigin !== name
    if (size !== offset || wrongOrigin) {
      problems.push({ offset, code: 'ERR_CHAIN_BROKEN', message: `${where} is for ${size} records of ${JSON.stringify(noteOrigin)}, not the ${offset} records of ${name === null ? `stream ${stream}` : JSON.stringify(name)} before it` })
      continue
    }
    if (keys.length > 0) {
      try {
        openCheckpoint(text, { vkey: keys, ...(name === null ? {} : { origin: name }) })
      } catch (err) {
        problems.push({ offset, code: 'ERR_CHAIN_BROKEN', message: `${where}: ${err instanceof Error ? err.message : String(err)}` })
        continue
      }
    }
    heads.push({ size, root, source: where })
  }
  return { heads, problems }
}

/** Recomputes the tree from the records and compares it with each head; the problems found. */
export async function verifyTree(s: Stream, heads: readonly ExpectedHead[]): Promise<VerifyProblem[]> {
  const problems: VerifyProblem[] = []
  const records = s.nextOffset
  const reachable = heads.filter((h) => {
    if (h.size <= records) return true
    problems.push({ offset: records, code: 'ERR_CHAIN_BROKEN', message: `${h.source} covers ${h.size} records, the stream holds ${records} (rolled back or cut)` })
    return false
  })
  if (reachable.length === 0) return problems
  const bySize = [...reachable].sort((a, b) => a.size - b.size)
  const files = new TileFiles(s.ctx.storage, s.dir)
  const frontier = MerkleFrontier.empty()
  const mismatched: ExpectedHead[] = []
  let next = 0
  const check = () => {
    while (next < bySize.length && bySize[next].size === frontier.size) {
      if (!frontier.root().equals(bySize[next].root)) mismatched.push(bySize[next])
      next++
    }
  }
  check()
  // The leaves, 32 bytes each, kept to find where the records left the tile cache if a root differs.
  const leafRuns: Buffer[] = []
  const target = bySize[bySize.length - 1].size
  // After a prune the leaves below firstOffset exist only in the level-0 tiles.
  const floor = s.pruned === null ? 0 : Math.min(s.pruned.firstOffset, target)
  if (floor > 0) {
    const problem = await prunedLeaves(files, s.pruned!.firstOffset, floor, s.pruned!.prevHash, (run) => {
      for (let at = 0; at < run.length; at += HASH_BYTES) {
        frontier.append(Buffer.from(run.subarray(at, at + HASH_BYTES)))
        check()
      }
      leafRuns.push(Buffer.from(run))
    })
    if (problem !== null) {
      problems.push(problem)
      return problems
    }
  }
  try {
    await readChainHashes(s, floor, target, (_first, hashes) => {
      const run = Buffer.alloc(hashes.length)
      for (let at = 0; at < hashes.length; at += HASH_BYTES) {
        const leaf = hashLeaf(hashes.subarray(at, at + HASH_BYTES))
        leaf.copy(run, at)
        frontier.append(leaf)
        check()
      }
      leafRuns.push(run)
    })
  } catch (err) {
    // A broken chain or damaged record is reported by the chain check; the tree check stops there.
    if (!(err instanceof ChainlogError) || (err.code !== 'ERR_CORRUPT' && err.code !== 'ERR_CHAIN_BROKEN')) throw err
  }
  const tileDiff = mismatched.length === 0 ? null : await firstTileDifference(files, Buffer.concat(leafRuns))
  for (const h of mismatched) {
    const narrowed = tileDiff !== null && tileDiff.offset < h.size && (await tilesGive(files, h)) ? tileDiff : null
    const at = narrowed?.offset ?? h.size - 1
    const where = narrowed === null ? '' : narrowed.exact ? ` (the first leaf that differs from the tile cache, which still gives that root, is ${at})` : ` (the first ${TILE_HASHES} leaves that differ from the tile cache, which still gives that root, start at ${at}; the cache keeps no leaf hashes there)`
    problems.push({ offset: at, code: 'ERR_CHAIN_BROKEN', message: `the records do not give the root of ${h.source} for ${h.size} records${where}` })
  }
  return problems
}

/**
 * Hands `sink` the leaves [0, upTo) of a stream pruned to `firstOffset` from its level-0 tiles, in
 * runs; the problem when the tiles do not hold them all, or their leaf firstOffset − 1 is not the
 * leaf of pruned.json's prevHash.
 */
async function prunedLeaves(files: TileFiles, firstOffset: number, upTo: number, prevHash: Buffer, sink: (run: Buffer) => void): Promise<VerifyProblem | null> {
  for (let index = 0; index * TILE_HASHES < upTo; index++) {
    const want = Math.min(TILE_HASHES, upTo - index * TILE_HASHES)
    const bytes = (await files.readFull(0, index)) ?? (await files.readPart(0, index))
    if (bytes === null || bytes.length < want * HASH_BYTES) {
      const held = index * TILE_HASHES + (bytes === null ? 0 : bytes.length / HASH_BYTES)
      return { offset: held, code: 'ERR_CORRUPT', message: `the level-0 tiles hold ${held} of the leaves below the pruned offset ${firstOffset}, the only copy of them` }
    }
    sink(bytes.subarray(0, want * HASH_BYTES))
    if (upTo === firstOffset && index * TILE_HASHES + want === firstOffset) {
      const last = bytes.subarray((want - 1) * HASH_BYTES, want * HASH_BYTES)
      if (!last.equals(hashLeaf(prevHash))) {
        return { offset: firstOffset - 1, code: 'ERR_CHAIN_BROKEN', message: `the level-0 tiles' leaf ${firstOffset - 1} is not the leaf of pruned.json's prevHash: the tiles or pruned.json were changed` }
      }
    }
  }
  return null
}

/** Whether the tile cache gives the head's root (then its leaves show where the records changed). */
async function tilesGive(files: TileFiles, h: ExpectedHead): Promise<boolean> {
  const plan = rootPlan(h.size)
  const tiles = new Map<string, Buffer>()
  for (const n of plan.nodes) {
    const level = Math.floor(n.level / 8)
    const index = Math.floor((n.index * 2 ** (n.level - level * 8)) / TILE_HASHES)
    const key = `${level}/${index}`
    if (tiles.has(key)) continue
    const bytes = (await files.readFull(level, index)) ?? (await files.readPart(level, index))
    if (bytes === null) return false
    tiles.set(key, bytes.length > FULL_TILE_BYTES ? bytes.subarray(0, FULL_TILE_BYTES) : bytes)
  }
  try {
    const read = tileNodeReader((level, index) => tiles.get(`${level}/${index}`)!)
    return plan.assemble(plan.nodes.map((n) => read(n.level, n.index))).equals(h.root)
  } catch {
    return false
  }
}

/**
 * The first leaf where `leaves` (32 bytes each, from leaf 0) and the level-0 tiles differ; where a
 * full level-0 tile is not stored (SPEC §8), the first leaf of the first 256 whose stored level-1
 * node differs (`exact` false). Null when they agree as far as the tiles go.
 */
async function firstTileDifference(files: TileFiles, leaves: Buffer): Promise<{ offset: number; exact: boolean } | null> {
  const count = leaves.length / HASH_BYTES
  for (let index = 0; index * TILE_HASHES < count; index++) {
    const bytes = (await files.readFull(0, index)) ?? (await files.readPart(0, index))
    if (bytes === null) {
      const first = index * TILE_HASHES
      if (first + TILE_HASHES > count) return null
      const up = (await files.readFull(1, Math.floor(index / TILE_HASHES))) ?? (await files.readPart(1, Math.floor(index / TILE_HASHES)))
      const slot = index % TILE_HASHES
      if (up === null || up.length < (slot + 1) * HASH_BYTES) return null
      const block = Array.from({ length: TILE_HASHES }, (_, k) => leaves.subarray((first + k) * HASH_BYTES, (first + k + 1) * HASH_BYTES))
      if (!merkleRoot(block).equals(up.subarray(slot * HASH_BYTES, (slot + 1) * HASH_BYTES))) return { offset: first, exact: false }
      continue
    }
    for (let slot = 0; slot < TILE_HASHES && index * TILE_HASHES + slot < count && (slot + 1) * HASH_BYTES <= bytes.length; slot++) {
      const o = index * TILE_HASHES + slot
      if (!leaves.subarray(o * HASH_BYTES, (o + 1) * HASH_BYTES).equals(bytes.subarray(slot * HASH_BYTES, (slot + 1) * HASH_BYTES))) return { offset: o, exact: true }
    }
  }
  return null
}

/**
 * The trusted notes per stream. With `keys`, each must be signed by one of them (ERR_CHAIN_BROKEN
 * otherwise); its origin line must be `<store origin>/<stream>` (another origin: ERR_CHAIN_BROKEN);
 * malformed text is ERR_INVALID_ARGUMENT.
 */
export function trustedHeads(notes: readonly string[], keys: readonly string[], origin: string | null): Map<string, ExpectedHead[]> {
  const out = new Map<string, ExpectedHead[]>()
  for (const [i, note] of notes.entries()) {
    const c = keys.length > 0 ? openCheckpoint(note, { vkey: keys, ...(origin === null ? {} : { origin }) }) : parseCheckpoint(parseNote(note).text)
    let stream: string
    if (origin !== null) {
      if (!c.origin.startsWith(`${origin}/`) || c.origin.slice(origin.length + 1).includes('/') || c.origin.length === origin.length + 1) {
        throw new ChainlogError('ERR_CHAIN_BROKEN', `trusted[${i}]: the note is for ${JSON.stringify(c.origin)}, not a stream of this store's origin ${JSON.stringify(origin)}`)
      }
      stream = c.origin.slice(origin.length + 1)
    } else {
      stream = c.origin.slice(c.origin.lastIndexOf('/') + 1)
    }
    const list = out.get(stream) ?? []
    list.push({ size: c.size, root: c.root, source: `trusted note ${i} (${c.origin})` })
    out.set(stream, list)
  }
  return out
}
