/**
 * C2SP signed-note with Ed25519 keys in the Go `golang.org/x/mod/sumdb/note` formats:
 *
 *   signer key    PRIVATE+KEY+<name>+<id>+<base64(0x01 ‖ 32-byte seed)>
 *   verifier key  <name>+<id>+<base64(0x01 ‖ 32-byte public key)>
 *   key ID        first 4 bytes (big-endian) of SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key), as 8 hex digits
 *   note          <text ending in \n> \n (— <name> <base64(key ID ‖ signature)>\n)+
 *
 * Opening follows the Go reference: signatures by unknown keys are kept aside and ignored, a
 * signature by a known key that fails rejects the note, a note without any verified signature is
 * rejected, more than 100 signature lines is malformed. Malformed text is ERR_INVALID_ARGUMENT; a
 * note that does not check out is ERR_CHAIN_BROKEN.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto'
import { ChainlogError } from '../errors.ts'
import { decodeBase64, encodeBase64 } from './base64.ts'

const ALG_ED25519 = 0x01
/** The Go reference's limit; C2SP signed-note requires accepting at least 16. */
const MAX_NOTE_SIGNATURES = 100
/** A cap on what is parsed at all, so a hostile input cannot make us decode megabytes of lines. */
export const MAX_NOTE_BYTES = 1024 * 1024
const ED25519_SIGNATURE_BYTES = 64
const ED25519_KEY_BYTES = 32

// DER wrappers that turn a raw Ed25519 seed / public key into something node:crypto accepts.
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')

const invalid = (message: string, details: Record<string, unknown> = {}) => new ChainlogError('ERR_INVALID_ARGUMENT', message, details)
const broken = (message: string, details: Record<string, unknown> = {}) => new ChainlogError('ERR_CHAIN_BROKEN', message, details)

// Go's unicode.IsSpace: the Unicode White_Space property (note: not U+FEFF, unlike JS's \s).
const UNICODE_SPACE_RE = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/
const LONE_SURROGATE_RE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

/** A key name: non-empty, no Unicode space, no '+', valid Unicode (Go's isValidName). */
function isValidKeyName(name: unknown): name is string {
  return typeof name === 'string' && name !== '' && !UNICODE_SPACE_RE.test(name) && !name.includes('+') && !LONE_SURROGATE_RE.test(name)
}

/** The key ID of an Ed25519 key: SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key)[:4] as a uint32. */
export function keyIdFor(name: string, publicKey: Uint8Array): number {
  return createHash('sha256').update(name, 'utf8').update('\n').update(Buffer.from([ALG_ED25519])).update(publicKey).digest().readUInt32BE(0)
}

const hex8 = (id: number) => id.toString(16).padStart(8, '0')

/** A key that checks signatures (from a vkey). */
export interface NoteVerifier {
  /** The key name (for chainlog logs: `<origin>/<stream>`). */
  readonly name: string
  /** The key ID: SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key)[:4] as a uint32. */
  readonly keyId: number
  /** The 32-byte Ed25519 public key. */
  readonly publicKey: Buffer
  /** The vkey string: <name>+<id>+<base64(0x01 ‖ public key)>. */
  readonly vkey: string
  /** Whether `signature` is this key's Ed25519 signature of `message`. */
  verify(message: Uint8Array, signature: Uint8Array): boolean
}

/** A key that signs (from a signer key); also verifies. */
export interface NoteSigner extends NoteVerifier {
  /** The Ed25519 signature of `message` (64 bytes). */
  sign(message: Uint8Array): Buffer
}

function publicKeyObject(publicKey: Buffer): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, publicKey]), format: 'der', type: 'spki' })
}

function makeVerifier(name: string, publicKey: Buffer): NoteVerifier {
  const key = publicKeyObject(publicKey)
  const keyId = keyIdFor(name, publicKey)
  return {
    name,
    keyId,
    publicKey,
    vkey: `${name}+${hex8(keyId)}+${encodeBase64(Buffer.concat([Buffer.from([ALG_ED25519]), publicKey]))}`,
    verify: (message, signature) => signature.length === ED25519_SIGNATURE_BYTES && cryptoVerify(null, message, key, signature),
  }
}

/** The verifier key string for an Ed25519 public key under `name` (Go's NewEd25519VerifierKey). */
export function verifierKeyFor(name: string, publicKey: Uint8Array): string {
  if (!isValidKeyName(name)) throw invalid(`key name: non-empty, no spaces, no '+': ${JSON.stringify(name)}`)
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== ED25519_KEY_BYTES) throw invalid(`Ed25519 public key: expected ${ED25519_KEY_BYTES} bytes`)
  return makeVerifier(name, Buffer.from(publicKey)).vkey
}

/** Splits "a+b+c" the way Go's strings.Cut chain does: the last part keeps any further '+'. */
function cutPlus(text: string, parts: number): string[] {
  const out: string[] = []
  let rest = text
  for (let i = 0; i < parts - 1; i++) {
    const at = rest.indexOf('+')
    if (at < 0) {
      out.push(rest)
      rest = ''
    } else {
      out.push(rest.slice(0, at))
      rest = rest.slice(at + 1)
    }
  }
  out.push(rest)
  return out
}

const HEX8_RE = /^[0-9a-fA-F]{8}$/

/** Parses a verifier key (vkey); checks its name, algorithm, length and key ID. */
export function parseVerifierKey(vkey: string): NoteVerifier {
  if (typeof vkey !== 'string') throw invalid('verifier key: expected a string')
  const [name, id, key64] = cutPlus(vkey, 3)
  const shown = JSON.stringify(vkey.slice(0, 200))
  if (!isValidKeyName(name) || !HEX8_RE.test(id)) throw invalid(`malformed verifier key ${shown}: expected <name>+<8 hex digits>+<base64 key>`)
  const key = decodeBase64(key64, `verifier key ${shown}`)
  if (key.length === 0) throw invalid(`malformed verifier key ${shown}: empty key`)
  if (!sameKeyIdInput(name, key, id)) throw invalid(`verifier key ${shown}: key ID ${id} does not match its name and key`)
  if (key[0] !== ALG_ED25519) throw invalid(`verifier key ${shown}: unknown algorithm ${key[0]} (only 1, Ed25519)`)
  if (key.length !== 1 + ED25519_KEY_BYTES) throw invalid(`verifier key ${shown}: an Ed25519 key is ${ED25519_KEY_BYTES} bytes, found ${key.length - 1}`)
  return makeVerifier(name, Buffer.from(key.subarray(1)))
}

/** Go hashes the key bytes as given (algorithm byte included), whatever the algorithm. */
function sameKeyIdInput(name: string, keyWithAlg: Buffer, id: string): boolean {
  const h = createHash('sha256').update(name, 'utf8').update('\n').update(keyWithAlg).digest().readUInt32BE(0)
  return h === Number.parseInt(id, 16)
}

/** Parses a signer key (PRIVATE+KEY+…); checks its name, algorithm, length and key ID. */
export function parseSignerKey(skey: string): NoteSigner {
  if (typeof skey !== 'string') throw invalid('signer key: expected a string')
  const [p1, p2, name, id, key64] = cutPlus(skey, 5)
  // Never echo a private key into an error message.
  if (p1 !== 'PRIVATE' || p2 !== 'KEY' || !isValidKeyName(name) || !HEX8_RE.test(id)) throw invalid('malformed signer key: expected PRIVATE+KEY+<name>+<8 hex digits>+<base64 key>')
  let key: Buffer
  try {
    key = decodeBase64(key64, 'signer key')
  } catch {
    throw invalid(`malformed signer key for ${JSON.stringify(name)}: the key is not standard base64`)
  }
  if (key.length === 0) throw invalid(`malformed signer key for ${JSON.stringify(name)}: empty key`)
  if (key[0] !== ALG_ED25519) throw invalid(`signer key for ${JSON.stringify(name)}: unknown algorithm ${key[0]} (only 1, Ed25519)`)
  if (key.length !== 1 + ED25519_KEY_BYTES) throw invalid(`signer key for ${JSON.stringify(name)}: an Ed25519 seed is ${ED25519_KEY_BYTES} bytes, found ${key.length - 1}`)
  const signer = signerFromSeed(name, key.subarray(1))
  if (signer.keyId !== Number.parseInt(id, 16)) throw invalid(`signer key for ${JSON.stringify(name)}: key ID ${id} does not match its name and key`)
  return signer
}

/** An Ed25519 signer from a 32-byte seed under `name`. */
function signerFromSeed(name: string, seed: Uint8Array): NoteSigner {
  if (!isValidKeyName(name)) throw invalid(`key name: non-empty, no spaces, no '+': ${JSON.stringify(name)}`)
  if (!(seed instanceof Uint8Array) || seed.length !== ED25519_KEY_BYTES) throw invalid(`Ed25519 seed: expected ${ED25519_KEY_BYTES} bytes`)
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' })
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' })
  const verifier = makeVerifier(name, Buffer.from(spki.subarray(SPKI_ED25519_PREFIX.length)))
  return { ...verifier, sign: (message) => cryptoSign(null, message, privateKey) }
}

/** The signer key string of a seed under `name` (the Go format). */
export function signerKeyFor(name: string, seed: Uint8Array): string {
  const s = signerFromSeed(name, seed)
  return `PRIVATE+KEY+${name}+${hex8(s.keyId)}+${encodeBase64(Buffer.concat([Buffer.from([ALG_ED25519]), seed]))}`
}

/** A fresh Ed25519 key under `name`: the signer key (secret) and the verifier key (public). */
export function generateKey(name: string): { skey: string; vkey: string } {
  if (!isValidKeyName(name)) throw invalid(`key name: non-empty, no spaces, no '+': ${JSON.stringify(name)}`)
  const { privateKey } = generateKeyPairSync('ed25519')
  const seed = privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(PKCS8_ED25519_PREFIX.length)
  return { skey: signerKeyFor(name, seed), vkey: signerFromSeed(name, seed).vkey }
}

/** One signature line of a note. `signature` excludes the 4-byte key ID. */
export interface NoteSignature {
  /** The key name on the signature line. */
  name: string
  /** The key ID: the first 4 bytes of the decoded signature field, big-endian. */
  keyId: number
  /** The signature proper, after the key ID. */
  signature: Buffer
  /** The line's base64 field as written (key ID ‖ signature). */
  base64: string
}

/** A note split into its text and signature lines, nothing verified. */
export interface ParsedNote {
  /** The signed text, ending in a newline. */
  text: string
  signatures: NoteSignature[]
}

/** A note whose signatures by known keys all verified (at least one). */
export interface OpenedNote extends ParsedNote {
  /** Signatures by the known keys, each verified. */
  verified: NoteSignature[]
  /** Signatures by keys not given (cosignatures, rotated keys): ignored, not checked. */
  unverified: NoteSignature[]
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })
const SIGNATURE_PREFIX = '\u2014 '

/** Checks the characters of a note (or its text): valid UTF-8, no control characters but \n. */
function noteString(msg: string | Uint8Array, what: string): string {
  let text: string
  if (typeof msg === 'string') {
    if (LONE_SURROGATE_RE.test(msg)) throw invalid(`${what}: not valid Unicode (lone surrogate)`)
    text = msg
  } else if (msg instanceof Uint8Array) {
    if (msg.length > MAX_NOTE_BYTES) throw invalid(`${what}: ${msg.length} bytes, above the ${MAX_NOTE_BYTES}-byte limit`)
    try {
      text = utf8.decode(msg)
    } catch {
      throw invalid(`${what}: not valid UTF-8`)
    }
  } else {
    throw invalid(`${what}: expected a string or bytes`)
  }
  if (text.length > MAX_NOTE_BYTES) throw invalid(`${what}: above the ${MAX_NOTE_BYTES}-byte limit`)
  // eslint-disable-next-line no-control-regex
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what a note may not hold
  const bad = /[\u0000-\u0009\u000b-\u001f]/.exec(text)
  if (bad) throw invalid(`${what}: control character U+${bad[0].charCodeAt(0).toString(16).padStart(4, '0')} at character ${bad.index}`)
  return text
}

/** Splits a signed note into text and signature lines, strictly (Go's Open, minus verifying). */
export function parseNote(msg: string | Uint8Array): ParsedNote {
  const s = noteString(msg, 'signed note')
  const split = s.lastIndexOf('\n\n')
  if (split < 0) throw invalid('signed note: no blank line between the text and the signatures')
  const text = s.slice(0, split + 1)
  const sigs = s.slice(split + 2)
  if (sigs === '' || !sigs.endsWith('\n')) throw invalid('signed note: the signature lines must be non-empty and end in a newline')
  const lines = sigs.slice(0, -1).split('\n')
  if (lines.length > MAX_NOTE_SIGNATURES) throw invalid(`signed note: ${lines.length} signature lines, above the limit of ${MAX_NOTE_SIGNATURES}`)
  const signatures = lines.map((line, i) => {
    if (!line.startsWith(SIGNATURE_PREFIX)) throw invalid(`signed note: signature line ${i + 1} does not start with "— "`)
    const rest = line.slice(SIGNATURE_PREFIX.length)
    const space = rest.indexOf(' ')
    const name = space < 0 ? rest : rest.slice(0, space)
    const b64 = space < 0 ? '' : rest.slice(space + 1)
    if (!isValidKeyName(name) || b64 === '') throw invalid(`signed note: signature line ${i + 1} is not "— <key name> <base64>"`)
    const bytes = decodeBase64(b64, `signed note: signature line ${i + 1}`)
    if (bytes.length < 5) throw invalid(`signed note: signature line ${i + 1} is shorter than a key ID and a signature`)
    return { name, keyId: bytes.readUInt32BE(0), signature: Buffer.from(bytes.subarray(4)), base64: b64 }
  })
  return { text, signatures }
}

/**
 * Opens a signed note against known keys: every signature whose (name, key ID) is known is
 * checked, and one that fails rejects the note (ERR_CHAIN_BROKEN); the others are ignored; at
 * least one must verify (else ERR_CHAIN_BROKEN). Keys may be vkey strings or parsed verifiers.
 */
export function openNote(msg: string | Uint8Array, keys: ReadonlyArray<string | NoteVerifier>): OpenedNote {
  const verifiers = toVerifiers(keys)
  const note = parseNote(msg)
  const textBytes = Buffer.from(note.text, 'utf8')
  const verified: NoteSignature[] = []
  const unverified: NoteSignature[] = []
  const seenVerified = new Set<string>()
  const seenUnverified = new Set<string>()
  for (const sig of note.signatures) {
    const id = `${sig.name}+${hex8(sig.keyId)}`
    const matching = verifiers.filter((v) => v.name === sig.name && v.keyId === sig.keyId)
    if (matching.length === 0) {
      const line = `${sig.name} ${sig.base64}`
      if (!seenUnverified.has(line)) unverified.push(sig)
      seenUnverified.add(line)
      continue
    }
    if (matching.length > 1 && new Set(matching.map((v) => v.vkey)).size > 1) throw invalid(`ambiguous key ${id}: two different verifier keys share this name and key ID`)
    if (seenVerified.has(id)) continue // Go checks one signature per known key
    seenVerified.add(id)
    if (!matching[0].verify(textBytes, sig.signature)) throw broken(`signed note: the signature by key ${id} does not verify`, { key: id })
    verified.push(sig)
  }
  if (verified.length === 0) {
    const names = note.signatures.map((s) => `${s.name}+${hex8(s.keyId)}`).join(', ')
    throw broken(`signed note: no signature by a known key (signed by ${names}; known: ${verifiers.map((v) => `${v.name}+${hex8(v.keyId)}`).join(', ') || 'none'})`)
  }
  return { ...note, verified, unverified }
}

function toVerifiers(keys: ReadonlyArray<string | NoteVerifier>): NoteVerifier[] {
  if (!Array.isArray(keys)) throw invalid('keys: expected an array of verifier keys')
  return keys.map((k, i) => {
    if (typeof k === 'string') return parseVerifierKey(k)
    if (k && typeof k === 'object' && typeof k.name === 'string' && typeof k.keyId === 'number' && typeof k.verify === 'function') return k
    throw invalid(`keys[${i}]: expected a verifier key string, found ${k === null ? 'null' : typeof k}`)
  })
}

/** Checks a note text before signing: ends in a newline, allowed characters only. */
function checkNoteText(text: string): string {
  const t = noteString(text, 'note text')
  if (!t.endsWith('\n')) throw invalid('note text must end in a newline')
  return t
}

/** Formats a signed note from its text and signatures (each: name, key ID, raw signature). */
function formatNote(text: string, signatures: ReadonlyArray<{ name: string; keyId: number; signature: Uint8Array }>): string {
  checkNoteText(text)
  if (signatures.length === 0 || signatures.length > MAX_NOTE_SIGNATURES) throw invalid(`a signed note has 1..${MAX_NOTE_SIGNATURES} signatures, found ${signatures.length}`)
  const lines = signatures.map((s) => {
    if (!isValidKeyName(s.name)) throw invalid(`key name: non-empty, no spaces, no '+': ${JSON.stringify(s.name)}`)
    if (!Number.isInteger(s.keyId) || s.keyId < 0 || s.keyId > 0xffffffff) throw invalid(`key ID: expected a uint32, found ${s.keyId}`)
    if (!(s.signature instanceof Uint8Array) || s.signature.length === 0) throw invalid('signature: expected non-empty bytes')
    const id = Buffer.alloc(4)
    id.writeUInt32BE(s.keyId)
    return `${SIGNATURE_PREFIX}${s.name} ${encodeBase64(Buffer.concat([id, s.signature]))}\n`
  })
  return `${text}\n${lines.join('')}`
}

/** Signs a note text (ending in \n) with one or more signer keys (strings or parsed). */
export function signNote(text: string, signers: string | NoteSigner | ReadonlyArray<string | NoteSigner>): string {
  const list = (Array.isArray(signers) ? signers : [signers]) as Array<string | NoteSigner>
  const message = Buffer.from(checkNoteText(text), 'utf8')
  return formatNote(text, list.map((s) => {
    const signer = typeof s === 'string' ? parseSignerKey(s) : s
    return { name: signer.name, keyId: signer.keyId, signature: signer.sign(message) }
  }))
}
