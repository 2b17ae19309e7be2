/**
 * A stream's RFC 6962 Merkle tree (SPEC §8): leaf i = the chain hash of record i, tree size = the
 * records it has taken in (at most the stream's next offset). Kept as a C2SP tile cache under
 * `<stream>/tile/` (storage/tile-files.ts).
 *
 * Once the tree is at the stream's head it is *attached*: it follows the commit path, each
 * encodeBatch call extending its compact range (EncodeBatchInput.treeFrontier) and handing back
 * the leaf hashes and tile-level nodes, which are only copied into tiles here; completed tiles are
 * written in the background and at checkpoint time, fdatasynced before a note that depends on
 * them is published. Until then (a stream opened from disk, before its first tree use) the tree
 * catches up by reading the chain hashes of the records it lacks, O(tail).
 *
 * Level 0 (the leaf hashes) is not stored as full tiles (SPEC §8 allows it: the chain hash of
 * record j is the prev_hash of record j + 1, so the records hold the leaves): one 8 KiB file per
 * 256 records cost more than the appends themselves (docs/perf-notes.md, "Merkle tree"). Stored
 * are the full tiles of levels ≥ 1, the growing `.part` of every level (level 0's too, written
 * when a note is published), and the level-0 tiles below a pruned stream's start, the only copy
 * of those leaves. A level-0 tile a proof needs comes from memory or is recomputed from its 256
 * records.
 *
 * The cache is never trusted over the records: at first use the right frontier is read from the
 * tiles only up to the last published note's size, and only if the tiles give that note's root
 * and agree with the records there (the last leaf, or the level-1 node of the last 256 leaves,
 * recomputed from the records); every later leaf comes from the records. Without a published
 * note the tree is rebuilt from the records.
 */
import { TREE_FRONTIER_BYTES, treeTileNodes } from '../core/interface.ts'
import { ChainlogError } from '../errors.ts'
import { FULL_TILE_BYTES, TILE_HASHES, type TileFiles } from '../storage/tile-files.ts'
import { consistencyPlan, EMPTY_ROOT, hashLeaf, inclusionPlan, MerkleFrontier, merkleRoot, type NodeId, type NodePlan, rootPlan } from '../tlog/merkle.ts'
import { tileNodeReader } from '../tlog/tiles.ts'

const TILE_HEIGHT = 8
const HASH_BYTES = 32
/** Full tiles kept in memory for proofs (8 KiB each); they never change. */
const CACHED_FULL_TILES = 64
/** Completed tiles held before an attached tree writes them in the background (8 KiB each). */
const BACKGROUND_WRITE_TILES = 64

/** Reads the chain hashes of records [from, to) in order, in runs: (first offset, count × 32 bytes). */
export type LeafSource = (from: number, to: number, sink: (first: number, hashes: Buffer) => void) => Promise<void>

/** The last note published for a stream: the tree head it signs. */
export interface PublishedHead {
  size: number
  root: Buffer
  /** The signed note; absent when only the state file kept the head. */
  note?: string
}

/** What the records must give before the tree takes its next leaf: the root of leaves [from, to) (one leaf: that leaf). */
interface Confirmation {
  from: number
  to: number
  hash: Buffer
}

/** A tree head with the signed note a checkpoint record carries (SPEC §2, §8). */
export type SignedHead = PublishedHead & { note: string }

/** The tile being filled at one tile level: its index, its hashes so far, how many are on storage. */
interface OpenTile {
  index: number
  bytes: Buffer
  count: number
  persisted: number
}

const tileKey = (level: number, index: number) => `${level}/${index}`

/** The tile (tile level, index) that holds complete node (level, index) of the tree. */
function tileOf(node: NodeId): { level: number; index: number } {
  const tileLevel = Math.floor(node.level / TILE_HEIGHT)
  const first = node.index * 2 ** (node.level - tileLevel * TILE_HEIGHT)
  return { level: tileLevel, index: Math.floor(first / TILE_HASHES) }
}

/** A compact range as the cores take it: u64 LE size, then the frontier's hashes. */
function frontierState(f: MerkleFrontier): Buffer {
  const state = Buffer.alloc(TREE_FRONTIER_BYTES)
  state.writeBigUInt64LE(BigInt(f.size), 0)
  f.hashes.forEach((h, j) => {
    h.copy(state, 8 + j * HASH_BYTES)
  })
  return state
}

function stateSize(state: Buffer): number {
  return Number(state.readBigUInt64LE(0))
}

/** The root of the tree a compact range (as the cores take it) holds, which must be of `size` leaves. */
export function frontierRoot(state: Buffer, size: number): Buffer {
  if (stateSize(state) !== size) throw new ChainlogError('ERR_IO', `the Merkle tree holds ${stateSize(state)} leaves where ${size} were expected`)
  return stateFrontier(state).root()
}

function stateFrontier(state: Buffer): MerkleFrontier {
  const size = stateSize(state)
  const count = MerkleFrontier.nodesFor(size).length
  return MerkleFrontier.fromHashes(size, Array.from({ length: count }, (_, j) => state.subarray(8 + j * HASH_BYTES, 8 + (j + 1) * HASH_BYTES)))
}

export class StreamTree {
  /** The frontier; null while an attached tree's compact range (`state`) is newer. */
  private _frontier: MerkleFrontier | null = MerkleFrontier.empty()
  /** The compact range at the stream's head, while attached (the commit path extends it). */
  private state: Buffer | null = null
  private backgroundWrite: Promise<void> | null = null
  private openTiles: OpenTile[] = []
  /** Full tiles completed and not yet on storage, in order (with whether this tree saved a `.part` of it). */
  private unwritten: Array<{ level: number; index: number; bytes: Buffer; hadPart: boolean }> = []
  private readonly fullCache = new Map<string, Buffer>()
  private loaded = false
  /** What the records must give below the tree's size before it grows (set when the frontier came from tiles). */
  private toConfirm: Confirmation | null = null
  /** Level-0 tiles below this leaf are stored as full tiles: a prune to it was prepared (their leaves' only copy). */
  private keepLeavesBelow = 0
  /** Level-0 tiles completed in memory whose `.part` this tree saved: removed at the next save. */
  private staleLeafParts: number[] = []
  private queue: Promise<unknown> = Promise.resolve()
  /** The last note published for this stream (read from `<stream>/checkpoint` at first use). */
  published: PublishedHead | null = null
  /** The newest signed note a checkpoint record carries (set by the commit path; published once its records are durable). */
  lastSigned: SignedHead | null = null
  /**
   * Set once the stream is pruned (SPEC §9): leaves below `firstOffset` exist only in the tiles,
   * so the tree starts from them there and never rebuilds or deletes them; `lastLeaf` is the leaf
   * of pruned.json's prevHash, which the tiles must hold at firstOffset − 1.
   */
  private floor: { firstOffset: number; lastLeaf: Buffer } | null = null

  constructor(
    private readonly files: TileFiles,
    private readonly stream: string,
    /** False for a read-only log: the tiles are computed, kept in memory, and never written. */
    private readonly writable: boolean,
  ) {}

  /** A prune moved the stream's start (null: never pruned); from now on every tile write is durable. */
  setFloor(floor: { firstOffset: number; prevHash: Buffer } | null): void {
    this.floor = floor === null ? null : { firstOffset: floor.firstOffset, lastLeaf: hashLeaf(floor.prevHash) }
    this.keepLeavesBelow = Math.max(this.keepLeavesBelow, floor?.firstOffset ?? 0)
    this.files.durable = floor !== null
  }

  /** The tiles below a pruned stream's start disagree with what the records or pruned.json say: nothing is rebuilt. */
  private floorBroken(why: string): ChainlogError {
    return new ChainlogError('ERR_CORRUPT', `stream ${this.stream}: ${why}; below the pruned offset ${this.floor!.firstOffset} the tiles are the only copy of the leaves, nothing is rebuilt`, {
      stream: this.stream, offset: this.floor!.firstOffset - 1,
    })
  }

  /**
   * Brings the tree up to every record, writes its `.part` tiles too, and fsyncs the level-0 tiles
   * of leaves [from, firstOffset) and all upper tiles: a prune to `firstOffset` may then go ahead.
   */
  async prepareFloor(size: number, source: LeafSource, from: number, firstOffset: number): Promise<void> {
    this.keepLeavesBelow = Math.max(this.keepLeavesBelow, firstOffset)
    await this.update(size, source, true)
    if (this.frontier.size < firstOffset) throw new ChainlogError('ERR_CORRUPT', `stream ${this.stream}: the tree holds ${this.frontier.size} leaves, a prune to ${firstOffset} needs them all`, { stream: this.stream })
    // Level 0 is not stored for kept records: the full level-0 tiles of the leaves to be pruned are
    // written now, from the records (the tile being filled is its `.part`, saved by the update).
    const open = this.openTiles[0]?.index ?? Infinity
    for (let index = Math.floor(from / TILE_HASHES); index <= Math.floor((firstOffset - 1) / TILE_HASHES) && index < open; index++) {
      if ((await this.files.readFull(0, index)) === null) await this.files.writeFull(0, index, await this.tileBytes(0, index))
    }
    await this.files.syncTiles(Math.floor(from / TILE_HASHES), Math.floor((firstOffset - 1) / TILE_HASHES))
  }

  private get frontier(): MerkleFrontier {
    return (this._frontier ??= stateFrontier(this.state!))
  }

  private set frontier(f: MerkleFrontier) {
    this._frontier = f
  }

  /** The number of leaves in the tree. */
  get size(): number {
    return this.state !== null ? stateSize(this.state) : this.frontier.size
  }

  /** The compact range the next commit extends (EncodeBatchInput.treeFrontier); null when the tree does not follow commits. */
  get treeFrontier(): Buffer | null {
    return this.state
  }

  /** A new stream's tree: empty, loaded, following commits from its first record. */
  startEmpty(): void {
    this.loaded = true
    this.reset()
    this.state = frontierState(this.frontier)
  }

  /** Follows commits from now on, if the tree holds exactly the stream's `nextOffset` records. */
  attachAt(nextOffset: number): void {
    if (this.state === null && this.toConfirm === null && this.frontier.size === nextOffset) this.state = frontierState(this.frontier)
  }

  private detach(): void {
    this._frontier = this.frontier
    this.state = null
  }

  /**
   * A commit of records [first, next) landed, with the tree outputs of its encodeBatch calls in
   * order (EncodeBatchResult.tree). An attached tree takes them in; a commit that does not carry
   * them (encoded before the tree attached) detaches it, and the next update reads those records.
   */
  followCommit(first: number, next: number, parts: readonly Buffer[]): void {
    if (this.state === null) return
    if (parts.length === 0 || stateSize(this.state) !== first) {
      this.detach()
      return
    }
    for (const part of parts) this.absorb(part)
    if (stateSize(this.state) !== next) {
      this.detach()
      return
    }
    if (this.writable && this.unwritten.length >= BACKGROUND_WRITE_TILES && this.backgroundWrite === null) {
      // A cache write: a failure leaves the tiles queued for the next save.
      this.backgroundWrite = this.exclusive(() => this.persist(false))
        .catch(() => {})
        .finally(() => (this.backgroundWrite = null))
    }
  }

  /**
   * Writes the full tiles completed so far and the growing tiles of levels ≥ 1 (at close: the next
   * open resumes from them; level 0's last ≤ 255 leaves come from the records).
   */
  save(): Promise<void> {
    return this.exclusive(() => this.persist(false, true))
  }

  /** One encodeBatch call's tree output: the new compact range, the leaf hashes, the tile-level nodes. */
  private absorb(part: Buffer): void {
    const before = stateSize(this.state!)
    const state = Buffer.from(part.subarray(0, TREE_FRONTIER_BYTES))
    const n = stateSize(state) - before
    let at = TREE_FRONTIER_BYTES
    this.appendTileHashes(0, before, part.subarray(at, (at += n * HASH_BYTES)))
    for (const l of treeTileNodes(before, n)) this.appendTileHashes(l.level, l.first, part.subarray(at, (at += l.count * HASH_BYTES)))
    this.state = state
    this._frontier = null
  }

  /** Appends hashes `first`, `first` + 1, … of tile level `level` to its open tile(s). */
  private appendTileHashes(level: number, first: number, hashes: Buffer): void {
    for (let at = 0, i = first; at < hashes.length; ) {
      const open = (this.openTiles[level] ??= { index: Math.floor(i / TILE_HASHES), bytes: Buffer.alloc(FULL_TILE_BYTES), count: 0, persisted: 0 })
      if (open.index * TILE_HASHES + open.count !== i) throw new ChainlogError('ERR_CORRUPT', `stream ${this.stream}: tile level ${level} holds ${open.index * TILE_HASHES + open.count} hashes, the commit brings hash ${i}`, { stream: this.stream })
      const take = Math.min(TILE_HASHES - open.count, (hashes.length - at) / HASH_BYTES)
      hashes.copy(open.bytes, open.count * HASH_BYTES, at, at + take * HASH_BYTES)
      open.count += take
      at += take * HASH_BYTES
      i += take
      if (open.count === TILE_HASHES) this.completeTile(level, open)
    }
  }

  /** Tile `open` of tile level `level` is full: queued for storage (level 0: kept in memory only, unless its leaves are to be pruned). */
  private completeTile(level: number, open: OpenTile): void {
    if (level > 0 || open.index * TILE_HASHES < this.keepLeavesBelow) this.unwritten.push({ level, index: open.index, bytes: open.bytes, hadPart: open.persisted > 0 })
    else {
      this.cacheFull(tileKey(0, open.index), open.bytes)
      if (open.persisted > 0) this.staleLeafParts.push(open.index)
    }
    this.openTiles[level] = { index: open.index + 1, bytes: Buffer.alloc(FULL_TILE_BYTES), count: 0, persisted: 0 }
  }

  private cacheFull(key: string, bytes: Buffer): void {
    if (this.fullCache.size >= CACHED_FULL_TILES) this.fullCache.delete(this.fullCache.keys().next().value!)
    this.fullCache.set(key, bytes)
  }

  /** Runs `task` after the tree's earlier tasks: one update or proof at a time. */
  exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task)
    this.queue = run.catch(() => {})
    return run
  }

  /**
   * Brings the tree to `size` leaves (the stream's records [0, size) exist) and saves the tiles it
   * completed; the growing `.part` tiles too when `saveParts` (before a note is published, so that
   * its tree can be read back from the tiles: then every tile written is fdatasynced). Parts left
   * behind are prefixes of the tiles, so a later open only recomputes a longer tail.
   */
  async update(size: number, source: LeafSource, saveParts = false): Promise<void> {
    this.source = source
    if (this.state !== null && stateSize(this.state) === size) return this.persist(saveParts)
    if (this.state !== null) this.detach()
    if (!this.loaded) await this.load(size)
    if (size < this.frontier.size) {
      if (this.floor !== null) throw this.floorBroken(`the records end at ${size}, the tree holds ${this.frontier.size} leaves`)
      // The records are fewer than the leaves (a store restored from an older copy): start over.
      this.reset()
      if (this.writable) await this.files.removeAll()
    }
    if (size > this.frontier.size || this.toConfirm !== null) {
      if (!(await this.takeLeaves(size, source))) {
        if (this.floor !== null) throw this.floorBroken(`the records disagree with the tiles at leaf ${this.frontier.size - 1}`)
        // The records disagree with the tiles below the published size: the records win (and a
        // signature over them is refused, as they no longer give the published root).
        this.reset()
        if (this.writable) await this.files.removeAll()
        await this.takeLeaves(size, source)
      }
      if (this.frontier.size !== size) {
        throw new ChainlogError('ERR_CORRUPT', `stream ${this.stream}: the records gave ${this.frontier.size} tree leaves, ${size} were expected`, { stream: this.stream, offset: this.frontier.size })
      }
    }
    await this.persist(saveParts)
  }

  /** Appends the leaves of records [size, target); false when the records before them do not give what the tiles hold (toConfirm). */
  private async takeLeaves(target: number, source: LeafSource): Promise<boolean> {
    const start = this.frontier.size
    if (this.toConfirm !== null && this.floor !== null && start === this.floor.firstOffset) {
      // The last pruned leaf has no record left: pruned.json's prevHash confirms it.
      if (this.toConfirm.from !== start - 1 || !this.toConfirm.hash.equals(this.floor.lastLeaf)) return false
      this.toConfirm = null
    }
    const confirm = this.toConfirm
    const below: Buffer[] = []
    let agrees = true
    await source(confirm === null ? start : Math.min(start, confirm.from), target, (first, hashes) => {
      for (let at = 0, o = first; at < hashes.length && agrees; at += HASH_BYTES, o++) {
        const leaf = hashLeaf(hashes.subarray(at, at + HASH_BYTES))
        if (confirm !== null && o >= confirm.from && o < confirm.to) {
          below.push(leaf)
          if (o === confirm.to - 1) {
            agrees = merkleRoot(below).equals(confirm.hash)
            if (agrees) this.toConfirm = null
          }
        }
        if (o >= start && agrees) this.appendLeaf(leaf)
      }
    })
    return agrees && this.toConfirm === null
  }

  /** The root of the tree of the first `size` leaves (size ≤ this.size). */
  async root(size: number): Promise<Buffer> {
    if (size === this.frontier.size) return this.frontier.root()
    if (size === 0) return EMPTY_ROOT
    return this.run(rootPlan(size))
  }

  /** The audit path of leaf `index` in the tree of `size` leaves. */
  inclusion(index: number, size: number): Promise<Buffer[]> {
    return this.run(inclusionPlan(index, size))
  }

  /** The consistency proof from the tree of `oldSize` leaves to that of `newSize`. */
  consistency(oldSize: number, newSize: number): Promise<Buffer[]> {
    return this.run(consistencyPlan(oldSize, newSize))
  }

  private async run<T>(plan: NodePlan<T>): Promise<T> {
    const tiles = new Map<string, Buffer>()
    for (const node of plan.nodes) {
      const t = tileOf(node)
      const key = tileKey(t.level, t.index)
      if (!tiles.has(key)) tiles.set(key, await this.tileBytes(t.level, t.index))
    }
    const read = tileNodeReader((level, index) => tiles.get(tileKey(level, index))!)
    return plan.assemble(plan.nodes.map((n) => read(n.level, n.index)))
  }

  /** The hashes of tile (level, index) as this tree holds them. */
  private async tileBytes(level: number, index: number): Promise<Buffer> {
    const open = this.openTiles[level]
    if (open !== undefined && open.index === index) return open.bytes.subarray(0, open.count * HASH_BYTES)
    const key = tileKey(level, index)
    const cached = this.fullCache.get(key) ?? this.unwritten.find((t) => t.level === level && t.index === index)?.bytes
    if (cached !== undefined) return cached
    const bytes = (await this.files.readFull(level, index)) ?? (await this.rebuildTile(level, index))
    if (bytes === null) throw new ChainlogError('ERR_CORRUPT', `stream ${this.stream}: tile ${key} is missing from the tile cache`, { stream: this.stream })
    this.cacheFull(key, bytes)
    return bytes
  }

  /**
   * A full tile missing from storage (level 0 is not stored; tiles written in the background are
   * not fdatasynced, so a crash can take some back): level 0 from the records' chain hashes, a
   * higher level from the tiles below it, saved again. Null when no records were ever read
   * through this tree.
   */
  private async rebuildTile(level: number, index: number): Promise<Buffer | null> {
    const source = this.source
    if (source === null) return null
    const out = Buffer.alloc(FULL_TILE_BYTES)
    if (level === 0) {
      const from = index * TILE_HASHES
      let taken = 0
      await source(from, from + TILE_HASHES, (first, hashes) => {
        for (let at = 0; at < hashes.length; at += HASH_BYTES, taken++) hashLeaf(hashes.subarray(at, at + HASH_BYTES)).copy(out, (first - from) * HASH_BYTES + at)
      })
      if (taken !== TILE_HASHES) return null
    } else {
      for (let j = 0; j < TILE_HASHES; j++) {
        const below = await this.tileBytes(level - 1, index * TILE_HASHES + j)
        if (below.length !== FULL_TILE_BYTES) return null
        merkleRoot(Array.from({ length: TILE_HASHES }, (_, k) => below.subarray(k * HASH_BYTES, (k + 1) * HASH_BYTES))).copy(out, j * HASH_BYTES)
      }
    }
    if (this.writable && level > 0) await this.files.writeFull(level, index, out).catch(() => {}) // a cache: the next read rebuilds it again
    return out
  }

  /** Where leaves come from when the tiles lack them (the source of the last update). */
  private source: LeafSource | null = null

  /**
   * Before a note of `size` leaves is published: the full tiles a later open reads that tree's
   * frontier from (and its last leaf) are fdatasynced, with their directory entries. The growing
   * `.part` tiles were saved durably by update(…, saveParts). Other full tiles serve proofs only;
   * one a crash takes back is rebuilt (rebuildTile).
   */
  async makeDurable(size: number): Promise<void> {
    if (!this.writable || size === 0) return
    const keys = new Map<string, { level: number; index: number }>()
    for (const node of MerkleFrontier.nodesFor(size)) {
      const t = tileOf(node)
      keys.set(tileKey(t.level, t.index), t)
    }
    // And the tile holding the level-1 node over the last leaf: a later open checks the records against it.
    const last = Math.floor((size - 1) / TILE_HASHES)
    keys.set(tileKey(0, last), { level: 0, index: last })
    keys.set(tileKey(1, Math.floor(last / TILE_HASHES)), { level: 1, index: Math.floor(last / TILE_HASHES) })
    for (const t of keys.values()) {
      const open = this.openTiles[t.level]
      // Only full tiles on storage: the open ones are the `.part` files, the unwritten ones come first.
      if (open !== undefined && t.index >= open.index) continue
      if (this.unwritten.some((u) => u.level === t.level && u.index === t.index)) continue
      if ((await this.files.readFull(t.level, t.index)) === null) continue
      await this.files.syncFull(t.level, t.index)
    }
    await this.files.syncDirs()
  }

  private appendLeaf(leaf: Buffer): void {
    this.frontier.append(leaf, (level, index, hash) => {
      if (level % TILE_HEIGHT !== 0) return
      const tileLevel = level / TILE_HEIGHT
      const open = (this.openTiles[tileLevel] ??= { index: Math.floor(index / TILE_HASHES), bytes: Buffer.alloc(FULL_TILE_BYTES), count: 0, persisted: 0 })
      hash.copy(open.bytes, open.count * HASH_BYTES)
      open.count++
      if (open.count === TILE_HASHES) this.completeTile(tileLevel, open)
    })
  }

  /**
   * Writes the tiles completed since the last save, then (with `parts`) the growing ones, upper
   * levels first, durably; with `upperParts` only, those of levels ≥ 1, not fdatasynced (their
   * hashes are not counted as persisted, so a durable save writes the whole file again).
   */
  private async persist(parts: boolean, upperParts = false): Promise<void> {
    if (!this.writable) return
    // Full tiles are not fdatasynced here: makeDurable syncs the few a published note needs.
    while (this.unwritten.length > 0) {
      const t = this.unwritten[0]
      await this.files.writeFull(t.level, t.index, t.bytes, false, t.hadPart)
      this.unwritten.shift()
    }
    while (this.staleLeafParts.length > 0) {
      await this.files.removePart(0, this.staleLeafParts[0])
      this.staleLeafParts.shift()
    }
    if (!parts) {
      if (upperParts) {
        for (let level = this.openTiles.length - 1; level >= 1; level--) {
          const open = this.openTiles[level]
          if (open !== undefined && open.count > open.persisted) await this.files.writePart(level, open.index, open.bytes.subarray(0, open.count * HASH_BYTES), open.persisted)
        }
      }
      return
    }
    for (let level = this.openTiles.length - 1; level >= 0; level--) {
      const open = this.openTiles[level]
      if (open === undefined || open.count === open.persisted) continue
      // The commit path may add hashes while this write waits: only those taken now are saved.
      const count = open.count
      await this.files.writePart(level, open.index, open.bytes.subarray(0, count * HASH_BYTES), open.persisted, true)
      open.persisted = count
    }
    await this.files.syncDirs()
  }

  private reset(): void {
    this.frontier = MerkleFrontier.empty()
    this.state = null
    this.openTiles = []
    this.unwritten = []
    this.staleLeafParts = []
    this.fullCache.clear()
    this.toConfirm = null
  }

  /**
   * First use: the frontier at the published note's size from the tiles, when they reproduce its
   * root (nodes below a published size may come from tiles only then); with a published note the
   * tiles cannot reproduce, the empty tree (all from the records). With no published note at all,
   * the tiles' own extent, once its last leaf is confirmed by the records (an unsigned tree head
   * has no authority to protect, and this keeps the first checkpoint() after open O(tail);
   * verify({ trusted }) always recomputes from the records).
   */
  private async load(size: number): Promise<void> {
    this.loaded = true
    const p = this.published
    const floor = this.floor
    if (floor !== null) {
      // A pruned stream: the frontier comes from the tiles at the published size if it is past
      // the prune, else at the prune's offset (records give the rest).
      const at = p !== null && p.size >= floor.firstOffset && p.size <= size ? p : null
      if (!(await this.fromTiles(at?.size ?? floor.firstOffset, at?.root ?? null))) {
        throw this.floorBroken(at === null ? `the tiles do not give the tree of the ${floor.firstOffset} pruned leaves` : `the tiles do not give the root of the note published for ${at.size} records`)
      }
      return
    }
    if (p !== null) {
      if (p.size > 0 && p.size <= size) await this.fromTiles(p.size, p.root)
      return
    }
    const extent = Math.min(await this.tileExtent(size), size)
    if (extent > 0) await this.fromTiles(extent, null)
  }

  /**
   * Leaves the tiles cover from leaf 0 on without a gap, in whole level-0 tiles (level 0 itself is
   * not stored: the level-1 tiles count them, full ones then the `.part`), up to `size`'s tiles.
   */
  private async tileExtent(size: number): Promise<number> {
    let lo = 0
    let hi = Math.floor(size / TILE_HASHES ** 2)
    // Full tiles are written in order: a binary search for the first missing one.
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2)
      if ((await this.files.readFull(1, mid - 1)) !== null) lo = mid
      else hi = mid - 1
    }
    const part = await this.files.readPart(1, lo)
    const leafTiles = lo * TILE_HASHES + (part === null ? 0 : Math.min(part.length / HASH_BYTES, TILE_HASHES - 1))
    return Math.min(leafTiles, Math.floor(size / TILE_HASHES)) * TILE_HASHES
  }

  /**
   * The hashes [0, count) of level-0 tile `index`: its `.part` or full tile when storage holds
   * that many (then `fromRecords` is false), else recomputed from the records.
   */
  private async leafTile(index: number, count: number): Promise<{ bytes: Buffer; persisted: number; fromRecords: boolean } | null> {
    const part = await this.files.readPart(0, index)
    if (part !== null && part.length >= count * HASH_BYTES) return { bytes: part, persisted: count, fromRecords: false }
    const full = await this.files.readFull(0, index)
    if (full !== null) return { bytes: full, persisted: 0, fromRecords: false }
    const source = this.source
    if (source === null) return null
    const bytes = Buffer.alloc(count * HASH_BYTES)
    const from = index * TILE_HASHES
    let taken = 0
    await source(from, from + count, (first, hashes) => {
      for (let at = 0; at < hashes.length; at += HASH_BYTES, taken++) hashLeaf(hashes.subarray(at, at + HASH_BYTES)).copy(bytes, (first - from) * HASH_BYTES + at)
    })
    return taken === count ? { bytes, persisted: 0, fromRecords: true } : null
  }

  /** The frontier of `size` leaves from the tiles (checked against `root` when given); false when the tiles cannot give it. */
  private async fromTiles(size: number, root: Buffer | null): Promise<boolean> {
    try {
      const readTile = async (level: number, index: number): Promise<Buffer | null> => (await this.files.readFull(level, index)) ?? (await this.files.readPart(level, index))
      // The tiles being filled at that size, at each tile level; level 0's from the records when not stored.
      const openTiles: OpenTile[] = []
      let leavesFromRecords = false
      for (let level = 0, hashes = size; hashes > 0; level++, hashes = Math.floor(hashes / TILE_HASHES)) {
        const index = Math.floor(hashes / TILE_HASHES)
        const count = hashes % TILE_HASHES
        const open: OpenTile = { index, bytes: Buffer.alloc(FULL_TILE_BYTES), count, persisted: 0 }
        if (count > 0) {
          let bytes: Buffer | null
          if (level === 0) {
            const leaves = await this.leafTile(index, count)
            if (leaves === null) return false
            bytes = leaves.bytes
            open.persisted = leaves.persisted
            leavesFromRecords = leaves.fromRecords
          } else {
            const part = await this.files.readPart(level, index)
            bytes = part !== null && part.length >= count * HASH_BYTES ? part : await this.files.readFull(level, index)
            open.persisted = bytes === part ? count : 0
          }
          if (bytes === null || bytes.length < count * HASH_BYTES) return false
          bytes.copy(open.bytes, 0, 0, count * HASH_BYTES)
        }
        openTiles[level] = open
      }
      const nodes = MerkleFrontier.nodesFor(size)
      const tiles = new Map<string, Buffer>([[tileKey(0, openTiles[0].index), openTiles[0].bytes.subarray(0, openTiles[0].count * HASH_BYTES)]])
      for (const node of nodes) {
        const t = tileOf(node)
        const key = tileKey(t.level, t.index)
        if (tiles.has(key)) continue
        const bytes = await readTile(t.level, t.index)
        if (bytes === null) return false
        tiles.set(key, bytes)
      }
      const read = tileNodeReader((level, index) => tiles.get(tileKey(level, index))!)
      const frontier = MerkleFrontier.fromHashes(size, nodes.map((n) => read(n.level, n.index)))
      if (root !== null && !frontier.root().equals(root)) return false
      // What ties the tiles to the records at leaf size − 1 (the chain hash there commits to every
      // record before it): nothing more when the leaves of the last tile came from the records and
      // the root is a published one; else the stored last leaf, or the stored level-1 node over the
      // last 256 leaves, to be recomputed from the records.
      const last = size - 1
      const leafAt = (tile: Buffer): Confirmation => {
        const slot = last % TILE_HASHES
        return { from: last, to: size, hash: Buffer.from(tile.subarray(slot * HASH_BYTES, (slot + 1) * HASH_BYTES)) }
      }
      let confirm: Confirmation | null = null
      if (openTiles[0].count > 0 && !leavesFromRecords) confirm = leafAt(openTiles[0].bytes)
      else if (openTiles[0].count === 0 || root === null) {
        const stored = openTiles[0].count === 0 ? await this.files.readFull(0, Math.floor(last / TILE_HASHES)) : null
        const block = Math.floor(size / TILE_HASHES) - 1
        if (stored !== null) confirm = leafAt(stored)
        else if (block >= 0) {
          const up = await readTile(1, Math.floor(block / TILE_HASHES))
          const slot = block % TILE_HASHES
          if (up === null || up.length < (slot + 1) * HASH_BYTES) return false
          confirm = { from: block * TILE_HASHES, to: (block + 1) * TILE_HASHES, hash: Buffer.from(up.subarray(slot * HASH_BYTES, (slot + 1) * HASH_BYTES)) }
        }
      }
      this.frontier = frontier
      this.openTiles = openTiles
      this.toConfirm = confirm
      return true
    } catch (err) {
      // An unreadable or short tile: the cache is not used; the records rebuild it.
      if (!(err instanceof ChainlogError)) throw err
      return false
    }
  }
}
