/** What every stream of one open store shares. */
import type { ChainlogCore, HashAlgorithm } from '../core/interface.ts'
import type { ResolvedOptions } from '../types.ts'
import type { PayloadBuffers } from './append-input.ts'
import type { Storage } from '../storage/storage.ts'
import type { SyncWindow } from './sync-window.ts'
import type { CheckpointSigning } from './checkpoint.ts'
import type { Journal } from './journal.ts'

export interface StoreContext {
  readonly dir: string
  /** Where the store's files live: the file system, or memory (Log.memory). */
  readonly storage: Storage
  readonly core: ChainlogCore
  readonly hash: HashAlgorithm
  readonly options: ResolvedOptions
  readonly readOnly: boolean
  /** Buffers appends collect their events into, reused across the log's streams. */
  readonly payloadBuffers: PayloadBuffers
  /** Gathers the fdatasyncs of appends under sync 'always' across streams into rounds. */
  readonly syncWindow: SyncWindow
  /** The store journal (LogOptions.journal), when on: sync 'always' groups are made durable through it. */
  journal?: Journal
  /** Called after a stream sealed a segment (the `retention` policy runs then; set by the Log). */
  afterRotation?: (stream: string) => void
  /** Signs the notes checkpoint records carry, when the store signs (SPEC §8; set by the Log). */
  checkpointSigning?: CheckpointSigning
}
