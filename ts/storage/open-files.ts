/**
 * The store's open-file budget (LevelDB's max_open_files, for a store of many streams): at most
 * `limit` descriptors at once, shared by segment writers, readers, and the temporary files and
 * directory fsyncs of index and manifest saves. A StorageFile of the disk storage is a virtual
 * handle: its descriptor is opened on demand and may be closed while no operation uses it, least
 * recently used first, to make room for another. Each operation holds a descriptor only while it
 * runs and never waits for a second one, so operations cannot deadlock on the budget.
 *
 * Nothing weakens when a descriptor is closed behind the engine's back: a file written since its
 * last fdatasync is fdatasynced before its descriptor closes, and a failure there is kept and
 * thrown by the file's next operation (the kernel reports a writeback error once: it must not be
 * lost with the descriptor).
 */
import { readFileSync } from 'node:fs'
import { ChainlogError } from '../errors.ts'

/** Descriptors the engine needs at the least (a writer, a reader, a save's temp file and its directory). */
export const MIN_OPEN_FILES = 8
/** The default budget when the process's limit is unknown (macOS's default soft limit is 256). */
const FALLBACK_OPEN_FILES = 128
/** The default never takes more than this share of the process's soft limit (the application has files too). */
const DEFAULT_SHARE = 0.5
/** Nor more than this: beyond it a bigger cache buys nothing. */
const MAX_DEFAULT_OPEN_FILES = 4096

/** The process's soft limit on open files (Linux: /proc/self/limits), or null when it cannot be read. */
function softOpenFileLimit(): number | null {
  if (process.platform !== 'linux') return null
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'))
    if (m === null) return null
    return m[1] === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(m[1])
  } catch {
    return null
  }
}

/** The default `maxOpenFiles`: half the soft limit, between MIN_OPEN_FILES and 4096; 128 where the limit is unknown. */
export function defaultOpenFiles(): number {
  const soft = softOpenFileLimit()
  if (soft === null) return FALLBACK_OPEN_FILES
  return Math.max(MIN_OPEN_FILES, Math.min(MAX_DEFAULT_OPEN_FILES, Math.floor(soft * DEFAULT_SHARE)))
}

/** Something holding a descriptor that the budget may ask to give it back. */
export interface Evictable {
  /** Closes the descriptor if no operation uses it; false when it is busy. */
  evict(): Promise<boolean>
}

export class OpenFiles {
  private used = 0
  /** Holders of an idle descriptor, least recently used first. */
  private readonly idle = new Set<Evictable>()
  private waiters: Array<() => void> = []
  /** Descriptors open at the most so far (for tests and benchmarks). */
  peak = 0

  constructor(readonly limit: number) {
    if (!Number.isSafeInteger(limit) || limit < MIN_OPEN_FILES) {
      throw new ChainlogError('ERR_INVALID_ARGUMENT', `maxOpenFiles: expected an integer of at least ${MIN_OPEN_FILES} (the engine needs that many at once), got ${String(limit)}`)
    }
  }

  get open(): number {
    return this.used
  }

  /** Takes one descriptor's place, closing idle ones (least recently used first) or waiting for one. */
  async acquire(): Promise<void> {
    for (;;) {
      if (this.used < this.limit) {
        this.used++
        this.peak = Math.max(this.peak, this.used)
        return
      }
      const victim = this.idle.values().next().value as Evictable | undefined
      if (victim !== undefined) {
        this.idle.delete(victim)
        await victim.evict() // releases its place when it closes
        continue
      }
      await new Promise<void>((resolve) => this.waiters.push(resolve))
    }
  }

  /** A descriptor was closed. */
  release(): void {
    this.used--
    this.waiters.shift()?.()
  }

  /** `holder`'s descriptor is open and no operation uses it: it may be closed to make room. */
  markIdle(holder: Evictable): void {
    this.idle.delete(holder)
    this.idle.add(holder)
    if (this.waiters.length > 0) {
      // Someone waits for a place: this idle descriptor can give it.
      this.idle.delete(holder)
      void holder.evict()
    }
  }

  /** `holder`'s descriptor is in use (or closed): not a candidate for closing. */
  markBusy(holder: Evictable): void {
    this.idle.delete(holder)
  }

  /** Runs `fn` holding one descriptor's place (a temp file, a directory fsync). */
  async with<T>(fn: () => Promise<T>): Promise<T> {
    await this.acquire()
    try {
      return await fn()
    } finally {
      this.release()
    }
  }
}
