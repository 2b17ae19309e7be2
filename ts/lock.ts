/**
 * The LOCK file: one writer per store across processes. It is created with O_EXCL and holds the
 * owner's pid (and, on Linux, the owner's start time, so a recycled pid is not mistaken for the
 * owner). A lock whose owner is gone is taken over; a live one is ERR_LOCKED.
 */
import { promises as fsp, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ChainlogError } from './errors.ts'
import { ioError } from './durable.ts'

export const LOCK_FILE = 'LOCK'
/** Attempts to replace a stale lock before giving up (another process may race for it). */
const MAX_TAKEOVER_ATTEMPTS = 5
/** A lock file is one short line; more than this is not a lock we wrote. */
const MAX_LOCK_FILE_BYTES = 4096

interface LockOwner {
  pid: number
  start: string | null
}

export class StoreLock {
  private released = false

  private constructor(
    readonly path: string,
    private readonly content: string,
  ) {}

  /** Takes the store's LOCK or fails with ERR_LOCKED naming the live owner. */
  static async acquire(dir: string): Promise<StoreLock> {
    const path = join(dir, LOCK_FILE)
    const me: LockOwner = { pid: process.pid, start: processStart(process.pid) }
    const content = JSON.stringify(me) + '\n'
    for (let attempt = 0; attempt < MAX_TAKEOVER_ATTEMPTS; attempt++) {
      try {
        const handle = await fsp.open(path, 'wx')
        try {
          await handle.writeFile(content)
        } finally {
          await handle.close()
        }
        return new StoreLock(path, content)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw ioError(err, `cannot create the lock ${path}`)
      }
      const existing = await readLock(path)
      if (existing === null) continue // vanished between our create and read: try again
      const owner = parseOwner(existing)
      if (owner !== null && ownerAlive(owner)) {
        throw new ChainlogError('ERR_LOCKED', `${dir} is locked by a live process (pid ${owner.pid}); expected no other writer`, { pid: owner.pid })
      }
      // The owner is dead (or the file is not a lock we understand): remove it unless another
      // process replaced it in the meantime, then race for O_EXCL again.
      if ((await readLock(path)) === existing) await fsp.rm(path, { force: true }).catch(() => {})
    }
    throw new ChainlogError('ERR_LOCKED', `${path}: could not take over a stale lock after ${MAX_TAKEOVER_ATTEMPTS} attempts (another process is racing for it)`)
  }

  /** Removes the LOCK if it is still ours. */
  async release(): Promise<void> {
    if (this.released) return
    this.released = true
    if ((await readLock(this.path)) === this.content) await fsp.rm(this.path, { force: true }).catch(() => {})
  }
}

async function readLock(path: string): Promise<string | null> {
  try {
    const handle = await fsp.open(path, 'r')
    try {
      const { size } = await handle.stat()
      const buf = Buffer.alloc(Math.min(size, MAX_LOCK_FILE_BYTES))
      const { bytesRead } = await handle.read(buf, 0, buf.length, 0)
      return buf.subarray(0, bytesRead).toString('utf8')
    } finally {
      await handle.close()
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw ioError(err, `cannot read the lock ${path}`)
  }
}

function parseOwner(text: string): LockOwner | null {
  try {
    const v = JSON.parse(text) as Partial<LockOwner>
    if (Number.isSafeInteger(v.pid) && (v.pid as number) > 0) return { pid: v.pid as number, start: typeof v.start === 'string' ? v.start : null }
  } catch {
    // fall through: a plain pid is accepted too
  }
  const pid = Number(text.trim())
  return Number.isSafeInteger(pid) && pid > 0 ? { pid, start: null } : null
}

function ownerAlive(owner: LockOwner): boolean {
  try {
    process.kill(owner.pid, 0)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  if (owner.start === null) return true
  const now = processStart(owner.pid)
  return now === null || now === owner.start
}

/** Start time of a process in clock ticks since boot (Linux), or null where unknown. */
function processStart(pid: number): string | null {
  if (process.platform !== 'linux') return null
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Field 22; the command name (field 2) may contain spaces, so count after its ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return fields[19] ?? null
  } catch {
    return null
  }
}
