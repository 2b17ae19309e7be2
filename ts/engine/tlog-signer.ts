/**
 * The store's checkpoint signer (SPEC §8): one Ed25519 key, whose note name is replaced per stream
 * by `<origin>/<stream>` (the key ID recomputed), so each stream is its own log with its own
 * verifier key. The key is a Go `note` signer key, or a `{ publicKey, sign }` object for a KMS or
 * HSM (sync or async). An external signer's every signature is checked with the public key before
 * it goes into a note.
 */
import { ChainlogError } from '../errors.ts'
import { type NoteSigner, type NoteVerifier, parseSignerKey, parseVerifierKey, signNote, verifierKeyFor } from '../tlog/note.ts'
import { checkOrigin, formatCheckpoint } from '../tlog/checkpoint.ts'

const ED25519_KEY_BYTES = 32
const ED25519_SIGNATURE_BYTES = 64

/** A signer kept outside the process's memory (KMS, HSM): Ed25519 over the message bytes. */
export interface ExternalSigner {
  /** The 32-byte Ed25519 public key. */
  publicKey: Uint8Array
  /** The 64-byte Ed25519 signature of `message`. */
  sign(message: Uint8Array): Uint8Array | Promise<Uint8Array>
}

const invalid = (message: string) => new ChainlogError('ERR_INVALID_ARGUMENT', message)

/** Parsed per-stream verifier keys kept (each costs two key parses to make). */
const MAX_CACHED_VERIFIERS = 4096

export class TlogSigner {
  private readonly verifiers = new Map<string, NoteVerifier>()

  private constructor(
    readonly origin: string,
    private readonly publicKey: Buffer,
    private readonly signBytes: (message: Uint8Array) => Uint8Array | Promise<Uint8Array>,
    /** A KMS/HSM signer's answers are checked with the public key; node:crypto's own signatures with the key they come from are not. */
    private readonly external: boolean,
  ) {}

  /** From a Go signer key string (its name and key ID are checked by parsing) or an external signer. */
  static from(origin: string, signer: string | ExternalSigner): TlogSigner {
    checkOrigin(origin)
    if (typeof signer === 'string') {
      const key: NoteSigner = parseSignerKey(signer)
      return new TlogSigner(origin, key.publicKey, (m) => key.sign(m), false)
    }
    if (typeof signer !== 'object' || signer === null || typeof signer.sign !== 'function') {
      throw invalid('tlog.signer: expected a signer key string, a key file path or { publicKey, sign(bytes) }')
    }
    if (!(signer.publicKey instanceof Uint8Array) || signer.publicKey.length !== ED25519_KEY_BYTES) {
      throw invalid(`tlog.signer.publicKey: expected ${ED25519_KEY_BYTES} bytes (an Ed25519 public key)`)
    }
    const sign = signer.sign.bind(signer)
    return new TlogSigner(origin, Buffer.from(signer.publicKey), sign, true)
  }

  /** The key name of a stream's log: `<origin>/<stream>`. */
  nameFor(stream: string): string {
    return `${this.origin}/${stream}`
  }

  /** The verifier key of a stream's log. */
  vkey(stream: string): string {
    return this.verifierFor(stream).vkey
  }

  private verifierFor(stream: string): NoteVerifier {
    let v = this.verifiers.get(stream)
    if (v === undefined) {
      v = parseVerifierKey(verifierKeyFor(this.nameFor(stream), this.publicKey))
      if (this.verifiers.size >= MAX_CACHED_VERIFIERS) this.verifiers.clear()
      this.verifiers.set(stream, v)
    }
    return v
  }

  /** The most bytes a note of `stream` takes: its name twice, the size, the root, one signature line. */
  noteBytes(stream: string): number {
    return 2 * Buffer.byteLength(this.nameFor(stream)) + 200
  }

  /**
   * The signed note of a stream's tree head. A signer that throws, rejects or returns anything but
   * a valid signature gives ERR_IO (the caller lands no note, and retries at the next checkpoint).
   */
  async signTreeHead(stream: string, size: number, root: Buffer): Promise<string> {
    const verifier = this.verifierFor(stream)
    const text = formatCheckpoint({ origin: verifier.name, size, root })
    const message = Buffer.from(text, 'utf8')
    let signature: Uint8Array
    try {
      signature = await this.signBytes(message)
    } catch (err) {
      throw new ChainlogError('ERR_IO', `stream ${stream}: the signer failed: ${err instanceof Error ? err.message : String(err)}`, { stream, cause: err })
    }
    if (!(signature instanceof Uint8Array) || signature.length !== ED25519_SIGNATURE_BYTES || (this.external && !verifier.verify(message, signature))) {
      throw new ChainlogError('ERR_IO', `stream ${stream}: the signer returned no valid Ed25519 signature for its public key`, { stream })
    }
    const sig = Buffer.from(signature)
    return signNote(text, { ...verifier, sign: () => sig })
  }
}
