/**
 * `<stream>/quarantine/`: bytes repair moved out of a segment (SPEC §9). Each file is
 * `<segment file>.<position>.bin`, made durable (data and directory entry) before the caller
 * cuts anything, so the bytes exist in one place or the other at every moment. Nothing here is
 * ever deleted by chainlog.
 */
import { join } from 'node:path'
import { ChainlogError } from '../errors.ts'
import { ioError, isTempFile } from './durable.ts'
import type { Storage } from './storage.ts'

const QUARANTINE_DIR = 'quarantine'

/** Where bytes cut from `segmentName` at `position` are kept. */
export function quarantinePath(streamDir: string, segmentName: string, position: number): string {
  return join(streamDir, QUARANTINE_DIR, `${segmentName}.${position}.bin`)
}

/**
 * Writes `bytes` to its quarantine file and makes it durable. A file there already is rewritten
 * only when it holds the same bytes (a repair killed before its cut); other bytes are ERR_IO.
 */
export async function writeQuarantine(storage: Storage, streamDir: string, segmentName: string, position: number, bytes: Uint8Array): Promise<string> {
  const dir = join(streamDir, QUARANTINE_DIR)
  const path = quarantinePath(streamDir, segmentName, position)
  try {
    await storage.makeDir(dir)
    if ((await storage.fileSize(path)) !== null) {
      // A repair interrupted before its cut left these very bytes: finish it (made durable again).
      if (!(await storage.readFile(path)).equals(bytes)) {
        throw new ChainlogError('ERR_IO', `${path} exists already with other bytes: an earlier repair kept them there; move it away before repairing again`, { path })
      }
    }
    const file = await storage.open(path, 'create')
    try {
      await file.write(bytes, 0)
      await file.datasync()
    } finally {
      await file.close()
    }
    await storage.syncDir(dir)
  } catch (err) {
    if (err instanceof ChainlogError) throw err
    throw ioError(err, `cannot write the quarantine file ${path}`)
  }
  return path
}

/** Paths of a stream's quarantine files (none when it has no quarantine directory). */
export async function quarantineFiles(storage: Storage, streamDir: string): Promise<string[]> {
  const dir = join(streamDir, QUARANTINE_DIR)
  let entries: Awaited<ReturnType<Storage['list']>>
  try {
    entries = await storage.list(dir)
  } catch (err) {
    throw ioError(err, `cannot list ${dir}`)
  }
  return (entries ?? []).filter((e) => !e.isDirectory && !isTempFile(e.name)).map((e) => join(dir, e.name)).sort()
}
