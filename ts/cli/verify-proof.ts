/**
 * `chainlog verify-proof --vkey VKEY --origin O FILE [--payload FILE]`: checks a C2SP tlog-proof
 * offline, with no store: the checkpoint's signature by the given key and its origin, the record's
 * inclusion in that tree, and (with --payload) the payload against the record's commitment.
 * Exit 0 when it checks out, 1 when it does not, 2 for bad arguments or a malformed proof.
 */
import { existsSync, readFileSync } from 'node:fs'
import { createBLAKE3 } from 'hash-wasm'
import { type RecordHash, type VerifiedProof, parseVerifierKey, verifyProof } from '../tlog/index.ts'
import { EXIT_OK, usageError } from './exit-codes.ts'
import { toJson } from './output.ts'

export interface VerifyProofCommandOptions {
  vkey: string[]
  origin: string
  payload?: string
  hash?: 'blake3' | 'sha256'
  json?: boolean
}

/** A file's bytes; '-' is stdin. A missing file is a usage error: the command named the wrong place. */
function readInput(file: string, what: string): Buffer {
  if (file !== '-' && !existsSync(file)) throw usageError(`${what}: no such file: ${file}`)
  return readFileSync(file === '-' ? 0 : file)
}

/** --vkey takes a verifier key, or a file of them (one per line). */
function verifierKeys(values: string[]): string[] {
  const keys: string[] = []
  for (const value of values) {
    try {
      keys.push(parseVerifierKey(value).vkey)
      continue
    } catch (err) {
      if (!existsSync(value)) throw err
    }
    keys.push(...readFileSync(value, 'utf8').split('\n').map((l) => l.trim()).filter(Boolean))
  }
  return keys
}

async function blake3(): Promise<RecordHash> {
  const hasher = await createBLAKE3()
  return (data) => hasher.init().update(data).digest('binary')
}

export async function verifyProofCommand(file: string, opts: VerifyProofCommandOptions): Promise<number> {
  if (opts.vkey.length === 0) throw usageError("required option '--vkey <vkey>' not specified")
  const text = readInput(file, 'proof')
  const payload = opts.payload === undefined ? undefined : readInput(opts.payload, '--payload')
  const vkey = verifierKeys(opts.vkey)
  const verify = (hash: RecordHash) => verifyProof(text, { vkey, origin: opts.origin, hash, payload })
  let result: VerifiedProof
  let hashName = opts.hash
  if (opts.hash === 'sha256') result = verify('sha256')
  else if (opts.hash === 'blake3') result = verify(await blake3())
  else {
    // The proof does not say which hash the store uses; a leaf only matches under the right one.
    try {
      result = verify('sha256')
      hashName = 'sha256'
    } catch (err) {
      if ((err as { code?: string }).code !== 'ERR_CHAIN_BROKEN') throw err
      try {
        result = verify(await blake3())
        hashName = 'blake3'
      } catch {
        throw err
      }
    }
  }
  const r = result
  if (opts.json) {
    process.stdout.write(toJson({
      ok: true,
      stream: r.stream,
      offset: r.index,
      treeSize: r.treeSize,
      root: r.root.toString('base64'),
      origin: r.checkpoint.origin,
      hash: hashName,
      kind: r.record.kind,
      timestamp: r.record.timestamp,
      payloadLength: r.record.payloadLength,
      commitment: r.record.commitment,
      chainHash: r.chainHash,
      payloadChecked: r.payloadChecked,
      signedBy: r.checkpoint.verified.map((s) => s.name),
    }, 2) + '\n')
  } else {
    const payloadNote = r.payloadChecked ? '; the payload matches its commitment' : ' (payload not checked: no --payload)'
    process.stdout.write(
      `ok      ${r.stream} offset ${r.index} (${r.record.kind}, ${new Date(r.record.timestamp).toISOString()}, ${r.record.payloadLength} bytes) ` +
      `is in the tree of size ${r.treeSize} signed by ${r.checkpoint.verified.map((s) => s.name).join(', ')} (${hashName} store)${payloadNote}\n`,
    )
  }
  return EXIT_OK
}
