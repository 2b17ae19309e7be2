/**
 * zstd dictionaries in the JS core (SPEC §2, form 4): the process-wide, counted set of loaded
 * dictionaries that form-4 frames are decoded with, by the ID their header names. The JS core
 * reads form 4 but does not write it: @bokuweb/zstd-wasm exports ZSTD_compress_usingDict only,
 * whose frames differ from the native core's ZSTD_compress_usingCDict frames (measured: about
 * three in four 256-byte events), and no trainer.
 */
import { ChainlogError } from '../../errors.ts'
import { invalid } from './args.ts'

const DICTIONARY_MAGIC = 0xec30a437
/** libzstd's smallest trained dictionary and the largest chainlog stores (as the native core). */
const MIN_DICTIONARY_BYTES = 256
const MAX_DICTIONARY_BYTES = 1 << 20

interface Loaded {
  bytes: Buffer
  count: number
}

const loaded = new Map<number, Loaded>()

function corrupt(message: string): ChainlogError {
  return new ChainlogError('ERR_CORRUPT', message)
}

/** The ID a zstd dictionary declares; refuses bytes that are not one. */
function dictionaryIdOf(bytes: Uint8Array): number {
  if (bytes.length < MIN_DICTIONARY_BYTES || bytes.length > MAX_DICTIONARY_BYTES) {
    throw corrupt(`a zstd dictionary is ${MIN_DICTIONARY_BYTES}..${MAX_DICTIONARY_BYTES} bytes, got ${bytes.length}`)
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (view.getUint32(0, true) !== DICTIONARY_MAGIC) throw corrupt('not a zstd dictionary (bad magic)')
  const id = view.getUint32(4, true)
  if (id === 0) throw corrupt('zstd dictionary has ID 0')
  return id
}

export function loadDictionary(bytes: Uint8Array): number {
  const id = dictionaryIdOf(bytes)
  const known = loaded.get(id)
  if (known !== undefined) {
    if (!known.bytes.equals(bytes)) throw corrupt(`another zstd dictionary with ID ${id} is already loaded`)
    known.count++
    return id
  }
  loaded.set(id, { bytes: Buffer.from(bytes), count: 1 })
  return id
}

export function unloadDictionary(id: number): void {
  const known = typeof id === 'number' ? loaded.get(id) : undefined
  if (known === undefined) throw invalid(`zstd dictionary ${String(id)} is not loaded`)
  if (--known.count === 0) loaded.delete(id)
}

/** The bytes of loaded dictionary `id`; ERR_CORRUPT when it is not loaded. */
export function dictionaryFor(id: number): Buffer {
  const known = loaded.get(id)
  if (known === undefined) throw corrupt(`zstd payload needs dictionary ${id}, which is not loaded (its file is missing or damaged)`)
  return known.bytes
}

export function refuseDictionaryWrite(): never {
  throw new ChainlogError('ERR_UNSUPPORTED', 'the JS core cannot write zstd-with-dictionary records (form 4) byte-identical to the native core\'s, nor train a dictionary: use the native core')
}
