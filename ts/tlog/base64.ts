/**
 * Strict standard base64 (RFC 4648 §4): padded, no whitespace, canonical. Buffer.from(s, 'base64')
 * skips bad characters and accepts missing padding, which a strict parser must not.
 */
import { ChainlogError } from '../errors.ts'

const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/** Decodes canonical padded base64, else ERR_INVALID_ARGUMENT naming `what`. */
export function decodeBase64(text: string, what: string): Buffer {
  if (typeof text !== 'string' || !BASE64_RE.test(text)) throw new ChainlogError('ERR_INVALID_ARGUMENT', `${what}: not standard padded base64: ${JSON.stringify(String(text).slice(0, 100))}`)
  const bytes = Buffer.from(text, 'base64')
  // Non-zero bits after the last full byte would give a second spelling of the same bytes.
  if (bytes.toString('base64') !== text) throw new ChainlogError('ERR_INVALID_ARGUMENT', `${what}: non-canonical base64 (stray bits in the last character): ${JSON.stringify(text.slice(0, 100))}`)
  return bytes
}

export const encodeBase64 = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')
