/**
 * The signed note HEAD carries (SPEC §10, §8) checked against the archived records: its
 * signature with the verifier keys given, its origin `<archive origin>/<stream>` when the archive
 * records one, and its Merkle root recomputed from the chain hashes of the first `size` archived
 * records (fed piece by piece as the remote walk downloads them). What the chain check alone
 * cannot see — records edited and every later hash recomputed, HEAD rewritten to match — the
 * signed root catches, as verify() does for a local store.
 */
import type { ChainlogCore, HashAlgorithm, ScanResult } from '../core/interface.ts'
import { MAX_PAYLOAD_BYTES } from '../core/format.ts'
import { openCheckpoint, parseCheckpoint } from '../tlog/checkpoint.ts'
import { hashLeaf, MerkleFrontier } from '../tlog/merkle.ts'
import { parseNote } from '../tlog/note.ts'
import type { VerifyProblem } from '../types.ts'

export class ArchivedNoteCheck {
  private readonly frontier = MerkleFrontier.empty()

  private constructor(
    private readonly size: number,
    private readonly root: Buffer,
  ) {}

  /** The check of `note`, or the problem it is (unparsable, or not signed by `keys`). */
  static open(note: string, stream: string, keys: readonly string[], origin: string | undefined): ArchivedNoteCheck | VerifyProblem {
    try {
      if (keys.length > 0) openCheckpoint(note, { vkey: keys, ...(origin === undefined ? {} : { origin }) })
      const { size, root } = parseCheckpoint(parseNote(note).text)
      return new ArchivedNoteCheck(size, root)
    } catch (err) {
      return { offset: null, code: 'ERR_CHAIN_BROKEN', message: `stream ${stream}: the note in HEAD.json ${keys.length > 0 ? 'does not check with the keys given' : 'does not parse'}: ${err instanceof Error ? err.message : String(err)}` }
    }
  }

  /** Adds the leaves of a piece's records that the note covers (`bytes` start at `basePosition` of their segment). */
  async feed(core: ChainlogCore, hash: HashAlgorithm, stream: string, bytes: Buffer, basePosition: number, scan: ScanResult): Promise<void> {
    let n = 0
    while (n < scan.count && scan.offsets[n] < this.size) n++
    if (n === 0) return
    const d = await core.decodeRecordsAsync({ hash, stream, data: bytes, basePosition, positions: scan.positions.subarray(0, n), expectPrevHash: null, payloadsFrom: n, maxPayloadBytes: MAX_PAYLOAD_BYTES })
    for (let i = 0; i < n; i++) this.frontier.append(hashLeaf(d.hashes.subarray(i * 32, i * 32 + 32)))
  }

  /** After the last piece: null when the records give the note's root. */
  finish(stream: string): VerifyProblem | null {
    if (this.frontier.size < this.size) {
      return { offset: this.frontier.size, code: 'ERR_CHAIN_BROKEN', message: `stream ${stream}: HEAD's signed note covers ${this.size} records, the archive holds ${this.frontier.size}` }
    }
    if (!this.frontier.root().equals(this.root)) {
      return { offset: this.size - 1, code: 'ERR_CHAIN_BROKEN', message: `stream ${stream}: the archived records do not give the root of HEAD's signed note for ${this.size} records` }
    }
    return null
  }
}
