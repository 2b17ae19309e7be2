/**
 * Durability primitives shared by every module that writes files: atomic replacement (temp file,
 * fsync, rename, fsync of the directory), directory fsync, and the mapping of fs failures to
 * ERR_IO. A rename is only durable once its directory is fsynced, so both always go together.
 */
import { promises as fsp } from 'node:fs'
import { basename, dirname, join, resolve } from 'node:path'
import { ChainlogError, type ChainlogErrorDetails } from '../errors.ts'

/** Suffix of temp files written by writeFileAtomic; leftovers of a crash are removed on open. */
const TEMP_MARKER = '.tmp-'

let tempCounter = 0

/** An fs failure as ERR_IO with its errno and cause; a ChainlogError passes through unchanged. */
export function ioError(err: unknown, what: string, details: ChainlogErrorDetails = {}): ChainlogError {
  if (err instanceof ChainlogError) return err
  const errno = typeof (err as NodeJS.ErrnoException)?.code === 'string' ? (err as NodeJS.ErrnoException).code : undefined
  const message = err instanceof Error ? err.message : String(err)
  return new ChainlogError('ERR_IO', `${what}: ${message}`, { ...details, cause: err, errno })
}

/** fsync a directory so the entries created or renamed in it survive a power loss. */
export async function fsyncDir(dir: string): Promise<void> {
  // Windows cannot open a directory for fsync; NTFS journals metadata itself.
  if (process.platform === 'win32') return
  const handle = await fsp.open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/** Replace `path` with `data` so that a crash leaves either the old or the new file, never a mix. */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = join(dirname(path), `${basename(path)}${TEMP_MARKER}${process.pid}-${tempCounter++}`)
  try {
    const handle = await fsp.open(tmp, 'w')
    try {
      await handle.writeFile(data)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await fsp.rename(tmp, path)
  } catch (err) {
    await fsp.rm(tmp, { force: true }).catch(() => {})
    throw ioError(err, `cannot write ${path}`)
  }
  try {
    await fsyncDir(dirname(path))
  } catch (err) {
    throw ioError(err, `cannot fsync the directory of ${path}`)
  }
}

/**
 * Create a directory (and missing parents) and make its entry durable in its parent: every level
 * created now, and the directory itself even when it existed already (an earlier create may have
 * made it and failed before its parent was fsynced; nothing else would ever sync that entry).
 */
export async function makeDirDurable(dir: string): Promise<void> {
  try {
    const created = await fsp.mkdir(dir, { recursive: true })
    const top = resolve(created ?? dir)
    for (let d = resolve(dir); ; d = dirname(d)) {
      await fsyncDir(dirname(d))
      if (d === top || dirname(d) === d) break
    }
  } catch (err) {
    throw ioError(err, `cannot create directory ${dir}`)
  }
}

/** Whether a directory entry name is a temp file left by writeFileAtomic. */
export function isTempFile(name: string): boolean {
  return name.includes(TEMP_MARKER)
}
