/**
 * `chainlog inspect <dir> [stream]`: what a store holds, without checking it: the store file,
 * each stream's head (next offset, head hash, last checkpoint) from the engine, and its segment
 * and index files with their sizes from the directory listing. Read-only; cheap on any size.
 *
 * Every stream is shown, damaged or not: a stream the engine knows to be damaged (found at open,
 * or met while looking back for its last checkpoint) is marked DAMAGED with the offset, segment
 * and position, and the command exits 1 (problems found) after printing everything. It does not
 * look for damage: `chainlog verify` does.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import type { Log, StreamDamage } from '../index.ts'
import { EXIT_OK, EXIT_PROBLEMS } from './exit-codes.ts'
import { bytes, hex, toJson } from './output.ts'
import { requireStream, withStore } from './store-dir.ts'

const SEGMENT_FILE = /^segment_(\d+)\.log$/

interface SegmentInfo {
  segment: number
  file: string
  bytes: number
  indexBytes: number | null
}

interface StreamInfo {
  stream: string
  nextOffset: number
  head: string | null
  lastCheckpoint: number | null
  /** Present when the stream is known to be damaged (see HeadInfo.damage). */
  damage?: StreamDamage
  segments: SegmentInfo[]
  bytes: number
}

export async function inspectCommand(dir: string, stream: string | undefined, opts: { json?: boolean }): Promise<number> {
  let store: Record<string, unknown> = {}
  let storeStreams = 0
  const streams = await withStore(dir, { readOnly: true }, async (log) => {
    store = JSON.parse(readFileSync(join(dir, 'chainlog.json'), 'utf8')) as Record<string, unknown>
    if (stream !== undefined) await requireStream(log, dir, stream)
    const names = await log.streams()
    storeStreams = names.length
    const infos: StreamInfo[] = []
    for (const name of stream === undefined ? names : [String(stream)]) infos.push(await streamInfo(log, dir, name))
    return infos
  })
  const total = streams.reduce((n, s) => n + s.bytes, 0)
  const damaged = streams.filter((s) => s.damage !== undefined)
  const code = damaged.length > 0 ? EXIT_PROBLEMS : EXIT_OK
  if (opts.json) {
    const filter = stream === undefined ? {} : { filter: String(stream), storeStreams }
    process.stdout.write(toJson({ dir, store, ...filter, streams, bytes: total, damaged: damaged.map((s) => s.stream) }, 2) + '\n')
    return code
  }
  const shown = stream === undefined ? `${streams.length}` : `1 shown (${JSON.stringify(String(stream))}) of ${storeStreams} in the store`
  const out = [`store   ${dir}`, `format  ${store.format}, hash ${store.hash}, created ${store.created}`, `streams ${shown}, ${bytes(total)} in segments`]
  if (damaged.length > 0) out.push(`damaged ${damaged.map((s) => s.stream).join(', ')} (run chainlog verify for every problem)`)
  for (const s of streams) {
    out.push('', `stream ${s.stream}${s.damage === undefined ? '' : '  DAMAGED'}`)
    out.push(`  next offset      ${s.nextOffset}`)
    out.push(`  head hash        ${s.head ?? '(empty)'}`)
    out.push(`  last checkpoint  ${s.lastCheckpoint ?? (s.damage === undefined ? 'none' : 'unknown (behind the damage)')}`)
    if (s.damage !== undefined) {
      const d = s.damage
      const where = [d.segment === null ? null : `segment ${d.segment}`, d.position === null ? null : `position ${d.position}`].filter((x) => x !== null).join(', ')
      out.push(`  damage           ${d.code} at offset ${d.offset}${where === '' ? '' : ` (${where})`}: reads stop there; ${d.appendsRefused ? 'appends are refused' : 'the head is past it'}`)
      out.push(`                   ${d.reason}`)
    }
    out.push(`  segments         ${s.segments.length}, ${bytes(s.bytes)}`)
    for (const g of s.segments) {
      out.push(`    ${g.file}  ${bytes(g.bytes).padStart(10)}  index ${g.indexBytes === null ? 'missing (rebuilt on demand)' : bytes(g.indexBytes)}`)
    }
  }
  process.stdout.write(out.join('\n') + '\n')
  return code
}

async function streamInfo(log: Log, dir: string, stream: string): Promise<StreamInfo> {
  const head = await log.head(stream)
  const streamDir = join(dir, stream)
  const files = readdirSync(streamDir)
  const segments: SegmentInfo[] = []
  for (const file of files) {
    const m = SEGMENT_FILE.exec(file)
    if (!m) continue
    const idx = `${file}.idx`
    segments.push({
      segment: Number(m[1]),
      file,
      bytes: statSync(join(streamDir, file)).size,
      indexBytes: files.includes(idx) ? statSync(join(streamDir, idx)).size : null,
    })
  }
  segments.sort((a, b) => a.segment - b.segment)
  const empty = head.nextOffset === 0
  return {
    stream,
    nextOffset: head.nextOffset,
    head: empty ? null : hex(head.hash),
    lastCheckpoint: head.lastCheckpoint,
    ...(head.damage === undefined ? {} : { damage: head.damage }),
    segments,
    bytes: segments.reduce((n, g) => n + g.bytes, 0),
  }
}
