import { ChainlogError } from '../errors.ts'
import type { BackendName, ChainlogCore } from './interface.ts'
import { createJsCore } from './js/index.ts'
import { loadNativeCore } from './native.ts'

/** The `backend` option: 'auto' (native when a binary loads, else JS with one warning), 'native' (ERR_UNSUPPORTED without a binary), or 'js'. */
export type BackendChoice = 'auto' | BackendName

/** Code of the one-line warning emitted when backend 'auto' falls back to the JS core. */
const NATIVE_FALLBACK_WARNING = 'CHAINLOG_NATIVE_UNAVAILABLE'

let jsCore: Promise<ChainlogCore> | undefined
let native: ReturnType<typeof loadNativeCore> | undefined
let fallbackWarned = false

/**
 * The core for `backend`: 'native' fails with ERR_UNSUPPORTED when no binary loads; 'auto' picks
 * native when it loads and the JS core otherwise, saying so once per process with a warning
 * (code CHAINLOG_NATIVE_UNAVAILABLE). Cores are loaded once per process.
 */
export async function loadCore(backend: BackendChoice = 'auto'): Promise<ChainlogCore> {
  if (backend !== 'auto' && backend !== 'native' && backend !== 'js') {
    throw new ChainlogError('ERR_INVALID_ARGUMENT', `backend must be 'auto', 'native' or 'js', got ${String(backend)}`)
  }
  if (backend !== 'js') {
    native ??= loadNativeCore()
    if ('core' in native) return native.core
    if (backend === 'native') {
      throw new ChainlogError('ERR_UNSUPPORTED', `the native core is not available: ${native.error}`)
    }
    if (!fallbackWarned) {
      // Once per process: the JS core is correct but slower, and a missing binary is worth knowing about.
      fallbackWarned = true
      process.emitWarning(`chainlog: the native core did not load, falling back to the JavaScript core (${native.error})`, { code: NATIVE_FALLBACK_WARNING })
    }
  }
  jsCore ??= createJsCore()
  return jsCore
}
