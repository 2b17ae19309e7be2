/**
 * manifest.json of a stream (SPEC §2, snake_case field names as written since format 1): the segment list. It is a cache
 * written atomically at stream creation, rotation, flush and close. Opening trusts the directory
 * listing and the segments' own records over it; it is used to notice missing segment files and
 * as a fallback for a segment whose first record cannot be read.
 */
import { join } from 'node:path'
import type { Storage } from './storage.ts'

export const MANIFEST_FILE = 'manifest.json'
/** A manifest lists a few numbers per segment; refuse to parse anything absurdly large. */
const MAX_MANIFEST_BYTES = 64 * 1024 * 1024

export interface ManifestSegment {
  segment_num: number
  first_offset: number
  next_offset: number
  size_bytes: number
}

export interface Manifest {
  segments: ManifestSegment[]
  active_segment: number
}

export type ManifestRead = { manifest: Manifest; problem: null } | { manifest: null; problem: string | null }

/** The stream's manifest, or null with the reason it is unusable (problem null: missing). */
export async function readManifest(storage: Storage, streamDir: string): Promise<ManifestRead> {
  const path = join(streamDir, MANIFEST_FILE)
  let text: string
  try {
    const size = await storage.fileSize(path)
    if (size === null) return { manifest: null, problem: null }
    if (size > MAX_MANIFEST_BYTES) return { manifest: null, problem: `${path}: ${size} bytes, expected at most ${MAX_MANIFEST_BYTES}` }
    text = (await storage.readFile(path)).toString('utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { manifest: null, problem: null }
    return { manifest: null, problem: `${path}: cannot read: ${(err as Error).message}` }
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return { manifest: null, problem: `${path}: expected JSON, found ${JSON.stringify(text.slice(0, 40))}` }
  }
  const problem = checkManifest(value)
  return problem === null ? { manifest: value as Manifest, problem: null } : { manifest: null, problem: `${path}: ${problem}` }
}

function checkManifest(value: unknown): string | null {
  if (typeof value !== 'object' || value === null) return 'expected an object'
  const { segments, active_segment } = value as Record<string, unknown>
  if (!Array.isArray(segments)) return 'expected "segments" to be an array'
  if (!isCount(active_segment)) return `expected "active_segment" to be a segment number, found ${JSON.stringify(active_segment)}`
  let prev: ManifestSegment | null = null
  for (const [i, s] of segments.entries()) {
    if (typeof s !== 'object' || s === null) return `segments[${i}]: expected an object`
    const e = s as Record<string, unknown>
    for (const key of ['segment_num', 'first_offset', 'next_offset', 'size_bytes']) {
      if (!isCount(e[key])) return `segments[${i}].${key}: expected a non-negative integer, found ${JSON.stringify(e[key])}`
    }
    const seg = s as ManifestSegment
    if (seg.next_offset < seg.first_offset) return `segments[${i}]: next_offset ${seg.next_offset} < first_offset ${seg.first_offset}`
    if (prev !== null && (seg.segment_num <= prev.segment_num || seg.first_offset < prev.next_offset)) {
      return `segments[${i}]: expected ascending segments after segment ${prev.segment_num}`
    }
    prev = seg
  }
  return null
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
}

/** A segment's extent, as the manifest lists it. */
export interface SegmentExtent {
  readonly num: number
  readonly firstOffset: number
  readonly nextOffset: number
  readonly size: number
}

export function manifestOf(segments: readonly SegmentExtent[]): Manifest {
  return {
    segments: segments.map((s) => ({ segment_num: s.num, first_offset: s.firstOffset, next_offset: s.nextOffset, size_bytes: s.size })),
    active_segment: segments.length > 0 ? segments[segments.length - 1].num : 0,
  }
}

export async function writeManifest(storage: Storage, streamDir: string, manifest: Manifest): Promise<void> {
  await storage.writeFileAtomic(join(streamDir, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + '\n')
}
