/**
 * `chainlog/tlog`: the store-free transparency-log toolkit (SPEC §8) — for clients that hold only
 * a proof, a note and a verifier key. RFC 6962 / 9162 Merkle proofs, C2SP signed notes,
 * checkpoints, tlog-proof and tlog-witness texts, tlog-tiles paths. Imports nothing from the
 * engine, so it can be bundled alone.
 */
export { ChainlogError, type ErrorCode } from '../errors.ts'
export { type Checkpoint, checkOrigin, formatCheckpoint, type OpenCheckpointOptions, openCheckpoint, type OpenedCheckpoint, parseCheckpoint } from './checkpoint.ts'
export {
  consistencyPlan,
  EMPTY_ROOT,
  hashChildren,
  hashLeaf,
  inclusionPlan,
  MAX_CONSISTENCY_HASHES,
  MAX_INCLUSION_HASHES,
  merkleRoot,
  MerkleFrontier,
  type NodeId,
  type NodePlan,
  type ReadNode,
  rootFromInclusionProof,
  rootPlan,
  runPlan,
  verifyConsistency,
  verifyInclusion,
} from './merkle.ts'
export {
  generateKey,
  type NoteSignature,
  type NoteSigner,
  type NoteVerifier,
  type OpenedNote,
  openNote,
  parseNote,
  parseSignerKey,
  parseVerifierKey,
  signNote,
  verifierKeyFor,
} from './note.ts'
export { type AddCheckpoint, formatAddCheckpoint, formatTlogProof, parseAddCheckpoint, parseTlogProof, TLOG_PROOF_HEADER, type TlogProof } from './proof-text.ts'
export { parseRecordPreimage, type RecordPreimage } from './record-preimage.ts'
export { buildTiles, entriesPath, parseTilePath, type TileId, tilePath, tilesForSize } from './tiles.ts'
export { type RecordHash, type VerifiedProof, verifyConsistencyProof, type VerifyConsistencyProofOptions, verifyProof, type VerifyProofOptions } from './verify-proof.ts'
