/**
 * How records and reports are printed: human-readable lines by default, JSON with --json.
 * Buffers become lowercase hex (hashes) or text (payloads).
 */
import type { LogRecord } from '../index.ts'

const utf8 = new TextDecoder('utf-8', { fatal: true })

/** The payload as text when it is valid UTF-8, else null. */
function payloadText(payload: Uint8Array): string | null {
  try {
    return utf8.decode(payload)
  } catch {
    return null
  }
}

/** One record as a JSON-safe object: payload as UTF-8 text, or base64 when it is not UTF-8. */
export function recordJson(r: LogRecord): Record<string, unknown> {
  const text = payloadText(r.payload)
  return {
    offset: r.offset,
    timestamp: r.timestamp,
    time: new Date(r.timestamp).toISOString(),
    kind: r.kind,
    ...(text === null ? { payloadBase64: Buffer.from(r.payload).toString('base64') } : { payload: text }),
    hash: Buffer.from(r.hash).toString('hex'),
    prevHash: Buffer.from(r.prevHash).toString('hex'),
  }
}

/** One record as a line: offset, ISO time, payload (text, or `base64:` and base64). */
export function recordLine(r: LogRecord): string {
  const text = payloadText(r.payload)
  const body = text === null ? `base64:${Buffer.from(r.payload).toString('base64')}` : escapeControls(text)
  return `${r.offset}\t${new Date(r.timestamp).toISOString()}\t${r.kind === 'data' ? '' : `[${r.kind}] `}${body}`
}

/** Backslash-escapes control characters (and backslashes), so that one record stays one line. */
function escapeControls(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this escapes
  return text.replace(/[\\\u0000-\u001f\u007f]/g, (c) =>
    c === '\\' ? '\\\\' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : c === '\t' ? '\\t' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/** JSON.stringify with Buffers and Uint8Arrays as hex strings. */
export function toJson(value: unknown, space?: number): string {
  return JSON.stringify(value, (_key, v) => {
    if (v && typeof v === 'object' && v.type === 'Buffer' && Array.isArray(v.data)) return Buffer.from(v.data).toString('hex')
    if (v instanceof Uint8Array) return Buffer.from(v).toString('hex')
    return v
  }, space)
}

/** Bytes as a short human size: 512 B, 1.5 KiB, 256.0 MiB. */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let v = n / 1024, i = 0
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++ }
  return `${v.toFixed(1)} ${units[i]}`
}

export const hex = (b: Uint8Array | null | undefined) => (b ? Buffer.from(b).toString('hex') : null)

/** `count` and the noun, plural unless the count is 1: "1 checkpoint", "2 checkpoints". */
export function counted(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`
}
