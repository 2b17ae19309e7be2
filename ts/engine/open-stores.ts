/**
 * What a module beside the engine (the archiver, ts/archive/) may see of an open Log without the
 * Log growing public methods for it: its store context, its streams, and whether it is closed.
 * Log registers itself here when constructed; the entry goes with the Log (a WeakMap).
 */
import type { StoreContext } from './store-context.ts'
import type { StreamSet } from './stream-set.ts'

export interface OpenStore {
  readonly ctx: StoreContext
  readonly streamSet: StreamSet
  isClosed(): boolean
}

const stores = new WeakMap<object, OpenStore>()

/** Called by the Log's constructor. */
export function registerStore(log: object, store: OpenStore): void {
  stores.set(log, store)
}

/** The open store behind a Log; undefined for anything that is not one. */
export function storeOf(log: unknown): OpenStore | undefined {
  return typeof log === 'object' && log !== null ? stores.get(log) : undefined
}
