/**
 * A store-free stand-in for a chainlog stream with signed checkpoints, built only from ts/tlog:
 * records hashed as SPEC §2 says (SHA-256 store), their chain hashes as the leaves of the
 * stream's Merkle tree, notes signed as SPEC §8 says. Used by the tlog proof, interop and CLI tests.
 */
import { createHash } from 'node:crypto'
import { ChainlogError } from '../../ts/errors.ts'
import { formatCheckpoint } from '../../ts/tlog/checkpoint.ts'
import { completeNodes, consistencyPlan, hashLeaf, inclusionPlan, memoryNodeReader, merkleRoot, runPlan } from '../../ts/tlog/merkle.ts'
import { parseSignerKey, signNote } from '../../ts/tlog/note.ts'
import { formatAddCheckpoint, formatTlogProof } from '../../ts/tlog/proof-text.ts'
import { encodeRecordPreimage, type RecordPreimage } from '../../ts/tlog/record-preimage.ts'

export const sha256 = (d: Uint8Array) => createHash('sha256').update(d).digest()

export interface FixtureStream {
  origin: string
  stream: string
  skey: string
  vkey: string
  payloads: Buffer[]
  preimages: Buffer[]
  records: RecordPreimage[]
  /** Chain hashes: the leaf data. */
  chainHashes: Buffer[]
  leafHashes: Buffer[]
  root(size: number): Buffer
  /** The signed checkpoint note of the tree of the first `size` records. */
  note(size: number): string
  /** A tlog-proof text for record `index` in the tree of `size`. */
  prove(index: number, size: number): string
  /** A tlog-witness add-checkpoint body from `oldSize` to `size`. */
  consistency(oldSize: number, size: number): string
}

/**
 * `n` data records `event-0`… on stream `stream`, signed by `skey` (key name `<origin>/<stream>`),
 * hashed with `hash` (the store's chain hash; SHA-256 unless given).
 */
export function fixtureStream(origin: string, stream: string, skey: string, n: number, hash: (d: Uint8Array) => Buffer = sha256): FixtureStream {
  const payloads: Buffer[] = []
  const preimages: Buffer[] = []
  const records: RecordPreimage[] = []
  const chainHashes: Buffer[] = []
  let prev: Buffer = Buffer.alloc(32)
  for (let i = 0; i < n; i++) {
    const payload = Buffer.from(`event-${i}`)
    const record: RecordPreimage = { stream, prevHash: prev, offset: i, timestamp: 1_700_000_000_000 + i, kind: 'data', batchContinues: false, payloadLength: payload.length, commitment: hash(payload) }
    const preimage = encodeRecordPreimage(record)
    prev = hash(preimage)
    payloads.push(payload)
    records.push(record)
    preimages.push(preimage)
    chainHashes.push(prev)
  }
  const leafHashes = chainHashes.map(hashLeaf)
  const read = memoryNodeReader(completeNodes(leafHashes))
  const signer = parseSignerKey(skey)
  const root = (size: number) => merkleRoot(leafHashes.slice(0, size))
  const note = (size: number) => signNote(formatCheckpoint({ origin: `${origin}/${stream}`, size, root: root(size) }), signer)
  return {
    origin,
    stream,
    skey,
    vkey: signer.vkey,
    payloads,
    preimages,
    records,
    chainHashes,
    leafHashes,
    root,
    note,
    prove: (index, size) => formatTlogProof({ extra: preimages[index], index, proof: runPlan(inclusionPlan(index, size), read), note: note(size) }),
    consistency: (oldSize, size) => formatAddCheckpoint({ oldSize, proof: runPlan(consistencyPlan(oldSize, size), read), note: note(size) }),
  }
}

/** The code of the ChainlogError `fn` throws (undefined when it throws none); anything else fails the test. */
export function codeOf(fn: () => unknown): string | undefined {
  try {
    fn()
    return undefined
  } catch (err) {
    if (!(err instanceof ChainlogError)) throw new Error(`expected a ChainlogError, got ${String(err)}`, { cause: err })
    return err.code
  }
}
