/**
 * Replacing a segment file with a rewritten copy (a redaction, SPEC §9 steps 3–5), so that a
 * crash at any moment leaves the old file or the new one under the segment's name, never
 * neither and never a mix: the copy is written to a temporary file and fdatasynced; the caches
 * the copy makes wrong — the segment's `.idx` (positions) and the stream's manifest (sizes) —
 * are removed and the directory fsynced (both are rebuilt when missing); then
 * the copy is renamed over the segment and the directory fsynced again. A temporary file a
 * crash leaves is removed at open (its name carries the temp marker of durable.ts).
 */
import { basename, dirname, join } from 'node:path'
import { ioError } from './durable.ts'
import type { Storage } from './storage.ts'
import { INDEX_SUFFIX } from './segment-file.ts'

/** The steps, named for crash tests (they stop a child process at each one). */
export type RewriteStep = 'temp-written' | 'temp-synced' | 'index-removed' | 'renamed' | 'renamed-synced'

/** Temporary name of a segment's rewritten copy (it contains `.tmp-`, removed at open). */
function rewritePath(segmentPath: string): string {
  return join(dirname(segmentPath), `${basename(segmentPath)}.tmp-rewrite`)
}

/**
 * Replaces the file at `segmentPath` with `parts` written end to end, in the order above;
 * `manifestPath` is the stream's manifest. `reached` is told each step once it is done.
 */
export async function replaceSegmentFile(storage: Storage, segmentPath: string, manifestPath: string, parts: Uint8Array[], reached: (step: RewriteStep) => void): Promise<void> {
  const dir = dirname(segmentPath)
  const temp = rewritePath(segmentPath)
  try {
    const file = await storage.open(temp, 'create')
    try {
      let at = 0
      for (const part of parts) {
        await file.write(part, at)
        at += part.length
      }
      reached('temp-written')
      await file.datasync()
    } finally {
      await file.close()
    }
    reached('temp-synced')
  } catch (err) {
    await storage.remove(temp).catch(() => {})
    throw ioError(err, `cannot write the rewritten copy ${temp}`)
  }
  try {
    await storage.remove(segmentPath + INDEX_SUFFIX)
    await storage.remove(manifestPath)
    await storage.syncDir(dir)
    reached('index-removed')
    await storage.rename(temp, segmentPath)
    reached('renamed')
    await storage.syncDir(dir)
    reached('renamed-synced')
  } catch (err) {
    throw ioError(err, `cannot rename the rewritten copy over ${segmentPath}`)
  }
}
