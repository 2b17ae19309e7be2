/**
 * `chainlog inspect <dir> [stream]`: what a store holds, without checking it: the store file,
 * each stream's head (next offset, head hash, last checkpoint) from the engine, and its segment
 * and index files with their sizes from the directory listing. Read-only; cheap on any size.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import type { Log } from '../index.ts'
import { EXIT_OK } from './exit-codes.ts'
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
  segments: SegmentInfo[]
  bytes: number
}

export async function inspectCommand(dir: string, stream: string | undefined, opts: { json?: boolean }): Promise<number> {
  let store: Record<string, unknown> = {}
  const streams = await withStore(dir, { readOnly: true }, async (log) => {
    store = JSON.parse(readFileSync(join(dir, 'chainlog.json'), 'utf8')) as Record<string, unknown>
    if (stream !== undefined) await requireStream(log, dir, stream)
    const names = await log.streams()
    const infos: StreamInfo[] = []
    for (const name of stream === undefined ? names : [String(stream)]) infos.push(await streamInfo(log, dir, name))
    return infos
  })
  const total = streams.reduce((n, s) => n + s.bytes, 0)
  if (opts.json) {
    process.stdout.write(toJson({ dir, store, streams, bytes: total }, 2) + '\n')
    return EXIT_OK
  }
  const out = [`store   ${dir}`, `format  ${store.format}, hash ${store.hash}, created ${store.created}`, `streams ${streams.length}, ${bytes(total)} in segments`]
  for (const s of streams) {
    out.push('', `stream ${s.stream}`)
    out.push(`  next offset      ${s.nextOffset}`)
    out.push(`  head hash        ${s.head ?? '(empty)'}`)
    out.push(`  last checkpoint  ${s.lastCheckpoint ?? 'none'}`)
    out.push(`  segments         ${s.segments.length}, ${bytes(s.bytes)}`)
    for (const g of s.segments) {
      out.push(`    ${g.file}  ${bytes(g.bytes).padStart(10)}  index ${g.indexBytes === null ? 'missing (rebuilt on demand)' : bytes(g.indexBytes)}`)
    }
  }
  process.stdout.write(out.join('\n') + '\n')
  return EXIT_OK
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
    segments,
    bytes: segments.reduce((n, g) => n + g.bytes, 0),
  }
}
