import { loadCore } from '../../ts/core/load.ts'
import type { BackendName, ChainlogCore } from '../../ts/core/interface.ts'

/** Every suite runs once per core; a core that does not load fails its tests, never skips them. */
export const BACKENDS: readonly BackendName[] = ['native', 'js']

export function core(backend: BackendName): Promise<ChainlogCore> {
  return loadCore(backend)
}
