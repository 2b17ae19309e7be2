/**
 * The LOCK file: one writer per store across processes. It is published whole with link() (which
 * fails if it exists, like O_EXCL, but never shows an empty file) and holds the owner's pid (and, on Linux, the owner's start time, so a recycled pid is not mistaken for the
 * owner). A lock whose owner is gone is taken over; a live one is ERR_LOCKED.
 */
import { randomBytes } from 'node:crypto'
import { promises as fsp, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ChainlogError } from '../errors.ts'
import { ioError } from './durable.ts'

const LOCK_FILE = 'LOCK'
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
    // The nonce tells our lock from a pid-and-start twin (two Logs in one process, say).
    const content = JSON.stringify({ ...me, nonce: randomBytes(8).toString('hex') }) + '\n'
    // The LOCK never exists empty or half written (a reader would take it for stale): its content
    // is written and synced under a private name, then link() publishes it, failing if it exists.
    const tmp = await writeTemp(dir, content)
    try {
      for (let attempt = 0; attempt < MAX_TAKEOVER_ATTEMPTS; attempt++) {
        if (await publish(tmp, path)) return new StoreLock(path, content)
        const existing = await readLock(path)
        if (existing === null) continue // vanished between our link and read: try again
        const owner = parseOwner(existing)
        if (owner !== null && ownerAlive(owner)) {
          throw new ChainlogError('ERR_LOCKED', `${dir} is locked by a live process (pid ${owner.pid}); expected no other writer`, { pid: owner.pid })
        }
        // The owner is dead (or the file is not a lock we understand). Reading, checking and
        // removing it is not atomic, so takeovers are serialised: only the holder of the takeover
        // mutex removes a LOCK, and only while it still holds what was found stale.
        await withTakeoverMutex(dir, content, async () => {
          if ((await readLock(path)) === existing) await fsp.rm(path, { force: true })
        })
      }
    } finally {
      await fsp.rm(tmp, { force: true }).catch(() => {})
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

/** Writes `content` to a fresh private file in `dir`, synced; returns its path. */
async function writeTemp(dir: string, content: string): Promise<string> {
  const tmp = join(dir, `${LOCK_FILE}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`)
  try {
    const handle = await fsp.open(tmp, 'wx')
    try {
      await handle.writeFile(content)
      await handle.sync()
    } finally {
      await handle.close()
    }
  } catch (err) {
    await fsp.rm(tmp, { force: true }).catch(() => {})
    throw ioError(err, `cannot create the lock ${join(dir, LOCK_FILE)}`)
  }
  return tmp
}

/** link(tmp, path): true if `path` now holds tmp's content, false if `path` already existed. */
async function publish(tmp: string, path: string): Promise<boolean> {
  try {
    await fsp.link(tmp, path)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw ioError(err, `cannot create the lock ${path}`)
  }
}

/** Name of the mutex a stale LOCK is removed under (a file, published whole by link like the LOCK). */
const TAKEOVER_FILE = `${LOCK_FILE}.takeover`
/** How long a takeover waits for another process's takeover (each holds it for a few file operations). */
const TAKEOVER_WAIT_MS = 5000

/**
 * Runs `fn` holding the takeover mutex. A mutex left by a dead process (it died inside its
 * takeover) is removed by renaming it to a private name first, so only one process removes a given
 * mutex, and a live one renamed by mistake is put back.
 */
async function withTakeoverMutex(dir: string, content: string, fn: () => Promise<void>): Promise<void> {
  const path = join(dir, TAKEOVER_FILE)
  const tmp = await writeTemp(dir, content)
  try {
    const deadline = Date.now() + TAKEOVER_WAIT_MS
    for (;;) {
      if (await publish(tmp, path)) break
      const existing = await readLock(path)
      if (existing !== null) {
        const owner = parseOwner(existing)
        if (owner !== null && ownerAlive(owner)) {
          if (Date.now() > deadline) throw new ChainlogError('ERR_LOCKED', `${path}: another process (pid ${owner.pid}) is taking over the stale lock`, { pid: owner.pid })
          await new Promise((r) => setTimeout(r, 5 + Math.random() * 20))
          continue
        }
        const claimed = `${tmp}.stale`
        try {
          await fsp.rename(path, claimed)
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue
          throw ioError(err, `cannot remove the stale ${path}`)
        }
        const got = await readLock(claimed)
        // Not the dead one we read: a live takeover; put it back (unless a newer one exists).
        if (got !== existing && got !== null) await fsp.link(claimed, path).catch(() => {})
        await fsp.rm(claimed, { force: true }).catch(() => {})
      }
    }
    try {
      await fn()
    } finally {
      if ((await readLock(path).catch(() => null)) === content) await fsp.rm(path, { force: true }).catch(() => {})
    }
  } finally {
    await fsp.rm(tmp, { force: true }).catch(() => {})
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
