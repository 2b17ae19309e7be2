/**
 * Tree heads, proofs and published notes of a store's streams (SPEC §8), over each stream's
 * StreamTree (engine/stream-tree.ts) fed from its records. Every proof is checked before it is
 * handed out: against the root the tree gives, and against the last published note, so a tree
 * whose records no longer give a published root yields no proof, no consistency proof and no
 * new signature (ERR_CHAIN_BROKEN).
 */
import { FORM_REDACTED, KIND_CHECKPOINT } from '../core/interface.ts'
import { HEADER_BYTES, MAX_PAYLOAD_BYTES } from '../core/format.ts'
import { ChainlogError } from '../errors.ts'
import type { StoreContext } from '../engine/store-context.ts'
import type { Stream } from '../engine/stream.ts'
import { type PublishedHead, type SignedHead, StreamTree } from '../engine/stream-tree.ts'
import type { CheckpointSigning } from '../engine/checkpoint.ts'
import type { TlogSigner } from '../engine/tlog-signer.ts'
import type { TlogStateFile } from '../storage/state-file.ts'
import { TileFiles } from '../storage/tile-files.ts'
import { openCheckpoint, parseCheckpoint } from '../tlog/checkpoint.ts'
import { hashLeaf, verifyConsistency, verifyInclusion } from '../tlog/merkle.ts'
import { parseNote } from '../tlog/note.ts'
import { formatAddCheckpoint, formatTlogProof } from '../tlog/proof-text.ts'
import { encodeRecordPreimage, type RecordPreimage } from '../tlog/record-preimage.ts'
import { buildTiles, entriesPath } from '../tlog/tiles.ts'
import { readChainHashes } from './tree-leaves.ts'
import { prunedError } from '../engine/retention.ts'

const KIND_NAMES = ['data', 'checkpoint', 'tombstone'] as const
const BATCH_CONTINUES = 0x80

/** A tree head: size and RFC 6962 root. */
export interface TreeHead {
  size: number
  root: Buffer
}

/** An inclusion proof of one record. */
export interface InclusionProof {
  index: number
  treeSize: number
  root: Buffer
  proof: Buffer[]
  /** The record's chain-hash preimage (its leaf data is H(extra) under the store's hash). */
  extra: Buffer
  /** The published note of exactly this tree size, when there is one. */
  checkpoint?: string
  /** The C2SP tlog-proof text (only with a note of this size). */
  text?: string
}

/** A consistency proof between two tree sizes. */
export interface ConsistencyProof {
  oldSize: number
  newSize: number
  proof: Buffer[]
  /** The tlog-witness add-checkpoint body (only with a published note of the new size). */
  text?: string
}


const invalid = (message: string, details: Record<string, unknown> = {}) => new ChainlogError('ERR_INVALID_ARGUMENT', message, details)

export class ProvableStreams {
  private readonly trees = new Map<string, StreamTree>()

  constructor(
    private readonly ctx: StoreContext,
    readonly signer: TlogSigner | null,
    private readonly state: TlogStateFile | null,
    /** The origin the store is bound to (chainlog.json), if any. */
    readonly origin: string | null,
  ) {}

  /** The stream's tree, brought up to its records, with `task` run on it while no other tree work runs. */
  private async withTree<T>(s: Stream, task: (tree: StreamTree) => Promise<T>, saveParts = false): Promise<T> {
    const t = this.treeOf(s)
    return t.exclusive(async () => {
      t.setFloor(s.pruned)
      if (!this.loaded.has(s.name)) {
        t.published = await this.loadPublished(s)
        this.loaded.add(s.name)
      }
      await t.update(s.nextOffset, (from, to, sink) => readChainHashes(s, from, to, sink), saveParts)
      // At the stream's head now: later commits extend the tree as they encode (engine/stream-tree.ts).
      t.attachAt(s.nextOffset)
      return task(t)
    })
  }

  /** The stream's tree, made on first use and handed to the stream so that its commits feed it. */
  private treeOf(s: Stream): StreamTree {
    let tree = this.trees.get(s.name)
    if (tree === undefined) {
      tree = new StreamTree(new TileFiles(this.ctx.storage, s.dir), s.name, !this.ctx.readOnly)
      this.trees.set(s.name, tree)
    }
    s.tree ??= tree
    return tree
  }

  /** Writes every tree's completed tiles (close()). */
  async saveTrees(): Promise<void> {
    if (this.ctx.readOnly) return
    for (const tree of this.trees.values()) await tree.save()
  }

  /**
   * A stream just created in a store opened with `tlog`: its tree follows commits from its first
   * record, so tree heads and signed checkpoints never read records back.
   */
  followNewStream(s: Stream): void {
    if (this.ctx.readOnly || s.nextOffset !== 0 || this.trees.has(s.name)) return
    this.treeOf(s).startEmpty()
    this.loaded.add(s.name)
  }

  private readonly loaded = new Set<string>()

  /**
   * Before a prune to `firstOffset` (SPEC §9): the tree's tiles cover every record and those of
   * the leaves below `firstOffset` are durable (they become the only copy of those leaves).
   */
  prepareTilesForPrune(s: Stream, firstOffset: number): Promise<void> {
    return this.withTree(s, (tree) => tree.prepareFloor(s.nextOffset, (from, to, sink) => readChainHashes(s, from, to, sink), s.firstOffset, firstOffset), true)
  }

  /** The size of the last tree head published for `s` (`<stream>/checkpoint` or the state file); 0 when none. */
  async publishedSize(s: Stream): Promise<number> {
    return (await this.loadPublished(s))?.size ?? 0
  }

  /** The newer of `<stream>/checkpoint` (when its note parses and, with a signer, verifies) and the state file's head. */
  private async loadPublished(s: Stream): Promise<PublishedHead | null> {
    let head: PublishedHead | null = null
    const text = await new TileFiles(this.ctx.storage, s.dir).readPublished()
    if (text !== null) {
      try {
        const c = this.signer === null ? parseCheckpoint(parseNote(text).text) : openCheckpoint(text, { vkey: this.signer.vkey(s.name), origin: this.signer.nameFor(s.name) })
        head = { size: c.size, root: c.root, note: text }
      } catch {
        head = null // verify() reports it; nothing is signed on top of it
      }
    }
    const kept = this.state?.get(s.name)
    if (kept !== undefined && (head === null || kept.size > head.size)) head = { size: kept.size, root: kept.root }
    return head
  }

  /** The tree head of `size` (default: all records). */
  treeHead(s: Stream, size?: number): Promise<TreeHead> {
    return this.withTree(s, async (tree) => {
      const n = size ?? tree.size
      if (n > tree.size) throw invalid(`size: expected at most the stream's ${tree.size} records, found ${n}`, { stream: s.name })
      return { size: n, root: await tree.root(n) }
    })
  }

  /** The inclusion proof of record `offset` in the tree of `treeSize` (default: the published note's size, else all records). */
  prove(s: Stream, offset: number, treeSize?: number): Promise<InclusionProof> {
    return this.withTree(s, async (tree) => {
      const size = treeSize ?? tree.published?.size ?? tree.size
      if (size > tree.size) throw invalid(`treeSize: expected at most the stream's ${tree.size} records, found ${size}`, { stream: s.name })
      if (offset >= size) throw invalid(`offset: expected below the tree size ${size}, found ${offset}`, { stream: s.name, offset })
      if (offset < s.firstOffset) throw prunedError(s, offset) // its leaf is in the tiles, its preimage is gone
      await this.checkPublished(s, tree)
      const root = await tree.root(size)
      const proof = await tree.inclusion(offset, size)
      const { extra, hash } = await this.preimage(s, offset)
      try {
        verifyInclusion(offset, size, hashLeaf(hash), proof, root)
      } catch {
        throw new ChainlogError('ERR_CORRUPT', `stream ${s.name}: the tile cache gives no valid inclusion proof for offset ${offset}; verify() rebuilds it from the records`, { stream: s.name, offset })
      }
      const out: InclusionProof = { index: offset, treeSize: size, root, proof, extra }
      const note = tree.published?.size === size ? tree.published.note : undefined
      if (note !== undefined) {
        out.checkpoint = note
        out.text = formatTlogProof({ extra, index: offset, proof, note })
      }
      return out
    })
  }

  /** The consistency proof from `oldSize` to `newSize` (default: the published note's size, else all records). */
  consistency(s: Stream, oldSize: number, newSize?: number): Promise<ConsistencyProof> {
    return this.withTree(s, async (tree) => {
      const size = newSize ?? tree.published?.size ?? tree.size
      if (size > tree.size) throw invalid(`newSize: expected at most the stream's ${tree.size} records, found ${size}`, { stream: s.name })
      if (oldSize > size) throw invalid(`oldSize: expected at most the new size ${size}, found ${oldSize}`, { stream: s.name })
      await this.checkPublished(s, tree)
      const proof = await tree.consistency(oldSize, size)
      verifyConsistency(oldSize, size, proof, await tree.root(oldSize), await tree.root(size))
      const out: ConsistencyProof = { oldSize, newSize: size, proof }
      const note = tree.published?.size === size ? tree.published.note : undefined
      if (note !== undefined) out.text = formatAddCheckpoint({ oldSize, proof, note })
      return out
    })
  }

  /** The records must still give the last published root: else nothing more is proven or signed. */
  private async checkPublished(s: Stream, tree: StreamTree): Promise<void> {
    const p = tree.published
    if (p === null) return
    if (p.size > tree.size) {
      throw new ChainlogError('ERR_CHAIN_BROKEN', `stream ${s.name}: a note for ${p.size} records was published, the stream has ${tree.size} (rolled back?)`, { stream: s.name, offset: tree.size })
    }
    if (!(await tree.root(p.size)).equals(p.root)) {
      throw new ChainlogError('ERR_CHAIN_BROKEN', `stream ${s.name}: the records no longer give the root of the note published for ${p.size} records`, { stream: s.name, offset: p.size - 1 })
    }
  }

  /**
   * The tree head of the first `size` records (the records of the checkpoint at offset `size`),
   * and, when the store signs, the note that checkpoint record carries (`signed`), published:
   * `<stream>/checkpoint` and the state file. The caller made the records durable first.
   */
  checkpointHead(s: Stream, size: number, signed: SignedHead | undefined): Promise<TreeHead & { note?: string }> {
    if (this.signer === null) return this.withTree(s, async (tree) => ({ size, root: await tree.root(size) }))
    if (signed === undefined || signed.size !== size) {
      return Promise.reject(new ChainlogError('ERR_IO', `stream ${s.name}: the checkpoint at offset ${size} carries no signed note`, { stream: s.name, offset: size }))
    }
    return this.publish(s, signed)
  }

  /**
   * SPEC §8: publishes a note a checkpoint record carries — once the records it covers are
   * durable (the caller synced them) and after the tiles a reopened store reads that tree back
   * from: `<stream>/checkpoint`, then the state file.
   */
  private publish(s: Stream, signed: SignedHead): Promise<TreeHead & { note: string }> {
    return this.withTree(s, async (tree) => {
      const { size, root, note } = signed
      if (tree.published !== null && tree.published.size >= size) return { size, root, note } // a newer one is out already
      await tree.makeDurable(size)
      await new TileFiles(this.ctx.storage, s.dir).writePublished(note)
      tree.published = { size, root, note }
      await this.state?.set(s.name, { size, root })
      return { size, root, note }
    }, true)
  }

  /** close(): publishes the newest note the stream's checkpoint records carry, if newer than the published one (the caller synced the stream). */
  async publishLatest(s: Stream): Promise<void> {
    const latest = this.trees.get(s.name)?.lastSigned ?? null
    if (this.signer !== null && latest !== null && latest.size <= s.nextOffset) await this.publish(s, latest)
  }

  /** What the commit path signs checkpoints with (SPEC §2, §8); null when the store does not sign. */
  checkpointSigning(streamNamed: (name: string) => Stream | undefined): CheckpointSigning | null {
    const signer = this.signer
    if (signer === null || this.ctx.readOnly) return null
    return {
      follow: async (name) => {
        const s = streamNamed(name)
        if (s === undefined) throw new ChainlogError('ERR_IO', `stream ${name} is not open`, { stream: name })
        const tree = this.treeOf(s)
        const checked = this.signChecks.get(tree)
        if (checked !== undefined && checked !== true) throw checked
        if (checked === true && s.treeFrontier !== null) return
        try {
          await this.withTree(s, (t) => this.checkPublished(s, t))
          this.signChecks.set(tree, true)
        } catch (err) {
          this.signChecks.set(tree, err)
          throw err
        }
      },
      sign: async (name, size, root) => {
        const tree = this.trees.get(name)
        const checked = tree === undefined ? undefined : this.signChecks.get(tree)
        if (checked !== true) throw checked ?? new ChainlogError('ERR_IO', `stream ${name}: its Merkle tree was not checked against its published note; no note signed`, { stream: name })
        // The engine never signs a tree inconsistent with the last note it published: the tree follows the commits after follow() checked it.
        if (tree!.published !== null && tree!.published.size > size) {
          throw new ChainlogError('ERR_CHAIN_BROKEN', `stream ${name}: a note for ${tree!.published.size} records was published already, not signing one for ${size}`, { stream: name, offset: size })
        }
        return signer.signTreeHead(name, size, root)
      },
      noteBytes: (name) => signer.noteBytes(name),
    }
  }

  /** follow()'s check of each tree against its published note: true, or why nothing is signed on it. */
  private readonly signChecks = new WeakMap<StreamTree, unknown>()

  /**
   * A static C2SP tlog-tiles log of the stream at its published note: every tile of that tree
   * (level 0 included; `.p/<W>` partials), the entry bundles (u16 BE length ‖ chain hash per
   * leaf) and `checkpoint`, keyed by path. Built from the records, checked against the note.
   */
  staticLog(s: Stream): Promise<Map<string, Buffer>> {
    return this.withTree(s, async (tree) => {
      const p = tree.published
      if (p === null || p.note === undefined) throw new ChainlogError('ERR_UNSUPPORTED', `stream ${s.name}: no published signed checkpoint to export (sign one with checkpoint() on a store opened with tlog)`, { stream: s.name })
      await this.checkPublished(s, tree)
      const chainHashes: Buffer[] = []
      await readChainHashes(s, 0, p.size, (_first, hashes) => {
        for (let at = 0; at < hashes.length; at += 32) chainHashes.push(Buffer.from(hashes.subarray(at, at + 32)))
      })
      const out = buildTiles(chainHashes.map((h) => hashLeaf(h)))
      const entry = Buffer.from([0, 32])
      for (let k = 0; k * 256 < p.size; k++) {
        const bundle = chainHashes.slice(k * 256, (k + 1) * 256)
        out.set(entriesPath(k, bundle.length), Buffer.concat(bundle.flatMap((h) => [entry, h])))
      }
      out.set('checkpoint', Buffer.from(p.note, 'utf8'))
      return out
    })
  }

  /** Record `offset`'s chain-hash preimage and chain hash. */
  private async preimage(s: Stream, offset: number): Promise<{ extra: Buffer; hash: Buffer }> {
    const at = await s.locate(offset)
    if (at === null) throw new ChainlogError('ERR_CORRUPT', `stream ${s.name}: offset ${offset} is not in the index`, { stream: s.name, offset })
    const data = await s.readSegment(at.segment, at.position, at.end - at.position)
    const d = s.core.decodeOne({ hash: s.hash, stream: s.name, data, basePosition: at.position, position: at.position, expectPrevHash: null, maxPayloadBytes: MAX_PAYLOAD_BYTES })
    if (d.offset !== offset) throw new ChainlogError('ERR_CORRUPT', `stream ${s.name}: the record at offset ${offset} says offset ${d.offset}`, { stream: s.name, offset })
    const redacted = d.form === FORM_REDACTED
    const stored = data.subarray(HEADER_BYTES)
    const r: RecordPreimage = {
      stream: s.name, prevHash: d.prevHash, offset, timestamp: d.timestamp, kind: KIND_NAMES[d.kind & 0x7f] ?? 'data', batchContinues: (d.kind & BATCH_CONTINUES) !== 0,
      payloadLength: redacted ? Number(stored.readBigUInt64LE(0)) : d.payload.length,
      commitment: redacted ? Buffer.from(stored.subarray(8, 40)) : s.core.commitment(s.hash, d.payload),
    }
    if ((d.kind & 0x7f) === KIND_CHECKPOINT && redacted) throw new ChainlogError('ERR_CORRUPT', `stream ${s.name}: a redacted checkpoint at offset ${offset}`, { stream: s.name, offset })
    return { extra: encodeRecordPreimage(r), hash: d.hash }
  }
}
