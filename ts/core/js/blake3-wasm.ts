/**
 * A direct binding to hash-wasm's BLAKE3 WebAssembly module (the same code createBLAKE3 runs),
 * without the per-call wrapper costs of its IHasher: one wasm call per hash for inputs under
 * one buffer, no view or result allocations. The digest is written straight into the caller's
 * buffer.
 *
 * The module is taken from hash-wasm's own distribution file; createDigests (hash.ts) checks it
 * against the public createBLAKE3 API on a few inputs and falls back to that API if the module
 * cannot be found or disagrees, so a future hash-wasm layout only costs speed, never correctness.
 */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'

/** hash-wasm's input window in wasm memory (its MAX_HEAP). */
const CHUNK = 16 * 1024
const DIGEST_BYTES = 32

interface Blake3Exports {
  memory: WebAssembly.Memory
  Hash_GetBuffer(): number
  Hash_Init(keyBytes: number): void
  Hash_Update(length: number): void
  Hash_Final(digestBytes: number): void
  Hash_Calculate(length: number, keyBytes: number, digestBytes: number): void
}

export type Blake3Digest = (data: Uint8Array, out: Uint8Array, outOffset: number) => void

export async function loadWasmBlake3(): Promise<Blake3Digest | null> {
  let source: string
  try {
    const file = createRequire(import.meta.url).resolve('hash-wasm/dist/blake3.umd.min.js')
    source = readFileSync(file, 'utf8')
  } catch {
    return null
  }
  const match = /name:"blake3",data:"([A-Za-z0-9+/=]+)"/.exec(source)
  if (!match) return null
  const { instance } = await WebAssembly.instantiate(Buffer.from(match[1], 'base64'))
  const exp = instance.exports as unknown as Blake3Exports
  const bufferAt = exp.Hash_GetBuffer()
  let mem = new Uint8Array(exp.memory.buffer, bufferAt, CHUNK)

  return (data, out, outOffset) => {
    // A grown wasm memory detaches the old view.
    if (mem.byteLength === 0) mem = new Uint8Array(exp.memory.buffer, bufferAt, CHUNK)
    const n = data.length
    if (n < CHUNK) {
      mem.set(data)
      exp.Hash_Calculate(n, 0, DIGEST_BYTES)
    } else {
      exp.Hash_Init(0)
      for (let p = 0; p < n; p += CHUNK) {
        const end = Math.min(n, p + CHUNK)
        mem.set(data.subarray(p, end))
        exp.Hash_Update(end - p)
      }
      exp.Hash_Final(DIGEST_BYTES)
    }
    if (mem.byteLength === 0) mem = new Uint8Array(exp.memory.buffer, bufferAt, CHUNK)
    for (let k = 0; k < DIGEST_BYTES; k++) out[outOffset + k] = mem[k]
  }
}
