/** What every stream of one open store shares. */
import type { ChainlogCore, HashAlgorithm } from '../core/interface.ts'
import type { ResolvedOptions } from '../types.ts'
import type { PayloadBuffers } from './append-input.ts'

export interface StoreContext {
  readonly dir: string
  readonly core: ChainlogCore
  readonly hash: HashAlgorithm
  readonly options: ResolvedOptions
  readonly readOnly: boolean
  /** Buffers appends collect their events into, reused across the log's streams. */
  readonly payloadBuffers: PayloadBuffers
}
