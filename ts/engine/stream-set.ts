/**
 * The streams of an open log. A stream is open (a Stream in memory, recovered), or dormant: it
 * was closed cleanly last time (storage/store.ts `.clean`), so it needs no recovery and is opened
 * on its first use. Opening a store of many streams then costs a directory listing, not a
 * recovery per stream. Calls that write to a dormant stream wait for its opening and then reach
 * its queue in call order.
 */
import { stampStream, type CleanStream } from '../storage/store.ts'
import type { RecoveryEvent } from '../types.ts'
import type { StoreContext } from './store-context.ts'
import { Stream } from './stream.ts'

/** Streams opened at once when many must be (open-time recovery, verify of all). */
const OPEN_CONCURRENCY = 8
/** Streams whose files are stamped at once (two stats each). */
const STAMP_CONCURRENCY = 64

export class StreamSet {
  private readonly open = new Map<string, Stream>()
  /** Dormant streams, with how each was left at the clean close (reused by the next one). */
  private readonly dormant = new Map<string, CleanStream>()
  private readonly waking = new Map<string, Promise<Stream>>()
  /** Calls waiting for a dormant stream's opening, in call order. */
  private readonly waiting = new Map<string, Array<(s: Stream | null, err?: unknown) => void>>()

  /** `recovered` hears what each opening's recovery did (warnings are the caller's). */
  constructor(
    private readonly ctx: StoreContext,
    private readonly recovered: (events: RecoveryEvent[]) => void,
  ) {}

  /**
   * Opens `names`: those `clean` lists whose files still carry its stamps on first use, the
   * others now (recovering each).
   */
  async load(names: string[], clean: Map<string, CleanStream>): Promise<void> {
    const now: string[] = []
    let next = 0
    const check = async () => {
      while (next < names.length) {
        const name = names[next++]
        const left = clean.get(name)
        const found = left === undefined ? null : await stampStream(this.ctx.storage, this.ctx.dir, name, left.segment)
        if (left !== undefined && found !== null && found.segmentStamp === left.segmentStamp && found.dirStamp === left.dirStamp) this.dormant.set(name, left)
        else now.push(name)
      }
    }
    await Promise.all(Array.from({ length: Math.min(STAMP_CONCURRENCY, names.length) }, check))
    await this.openMany(now.sort())
  }

  /** An open stream, or undefined (absent, or dormant: see wake). */
  get(name: string): Stream | undefined {
    return this.open.get(name)
  }

  isDormant(name: string): boolean {
    return this.dormant.has(name)
  }

  /** The stream, opened if dormant; undefined when it does not exist. */
  async wake(name: string): Promise<Stream | undefined> {
    const s = this.open.get(name)
    if (s !== undefined || !this.dormant.has(name)) return s
    let p = this.waking.get(name)
    if (p === undefined) {
      p = this.openDormant(name)
      this.waking.set(name, p)
    }
    return p
  }

  /**
   * Runs `fn` on the stream for a write: at once when it is open (or new), after its opening
   * when it is dormant, in the order the calls were made.
   */
  forWrite<T>(name: string, create: () => Stream, fn: (s: Stream) => Promise<T>): Promise<T> {
    const s = this.open.get(name)
    if (s !== undefined) return fn(s)
    if (!this.dormant.has(name)) {
      const created = create()
      this.open.set(name, created)
      return fn(created)
    }
    return new Promise<T>((resolve, reject) => {
      const list = this.waiting.get(name) ?? []
      list.push((stream, err) => (stream === null ? reject(err) : fn(stream).then(resolve, reject)))
      this.waiting.set(name, list)
      void this.wake(name).catch(() => {})
    })
  }

  /**
   * Closes the open stream `name` and opens it again from its files (after repair changed them),
   * recovering it as at open. Its recovery events go to `recovered`.
   */
  async reopen(name: string): Promise<Stream> {
    const old = this.open.get(name)
    if (old !== undefined) await old.closeHandles()
    const events: RecoveryEvent[] = []
    const s = await Stream.open(this.ctx, name, events)
    this.open.set(name, s)
    if (events.length > 0) this.recovered(events)
    return s
  }

  /** Every stream opened so far. */
  opened(): Stream[] {
    return [...this.open.values()]
  }

  /** Names of the streams with data: open ones with a segment, and dormant ones. */
  namesWithData(): string[] {
    return [...[...this.open.values()].filter((s) => s.segments.length > 0).map((s) => s.name), ...this.dormant.keys()].sort()
  }

  /** Opens every dormant stream (verify of all streams needs them). */
  async wakeAll(): Promise<void> {
    const names = [...this.dormant.keys()]
    let next = 0
    const worker = async () => {
      while (next < names.length) await this.wake(names[next++])
    }
    await Promise.all(Array.from({ length: Math.min(OPEN_CONCURRENCY, names.length) }, worker))
  }

  /**
   * How a clean close leaves the streams (call it once every stream was persisted): dormant ones
   * as they were, open ones with data and no damage as their files are now.
   */
  async cleanSummary(): Promise<Map<string, CleanStream>> {
    const out = new Map(this.dormant)
    const open = [...this.open.values()].filter((s) => s.segments.length > 0 && s.corrupt === null && s.broken === null)
    let next = 0
    const stamp = async () => {
      while (next < open.length) {
        const s = open[next++]
        const found = await stampStream(this.ctx.storage, this.ctx.dir, s.name, s.active!.num)
        if (found !== null) out.set(s.name, found)
      }
    }
    await Promise.all(Array.from({ length: Math.min(STAMP_CONCURRENCY, open.length) }, stamp))
    return out
  }

  private async openDormant(name: string): Promise<Stream> {
    const events: RecoveryEvent[] = []
    let s: Stream
    try {
      s = await Stream.open(this.ctx, name, events)
    } catch (err) {
      this.waking.delete(name)
      const calls = this.waiting.get(name) ?? []
      this.waiting.delete(name)
      for (const f of calls) f(null, err)
      throw err
    }
    this.open.set(name, s)
    this.dormant.delete(name)
    this.waking.delete(name)
    if (events.length > 0) this.recovered(events)
    // Installed and then the waiting writes, synchronously and in order: a later call finds it open.
    const calls = this.waiting.get(name) ?? []
    this.waiting.delete(name)
    for (const f of calls) f(s)
    return s
  }

  private async openMany(names: string[]): Promise<void> {
    const events: RecoveryEvent[] = []
    let next = 0
    const worker = async () => {
      while (next < names.length) {
        const name = names[next++]
        this.open.set(name, await Stream.open(this.ctx, name, events))
      }
    }
    try {
      await Promise.all(Array.from({ length: Math.min(OPEN_CONCURRENCY, names.length) }, worker))
    } finally {
      if (events.length > 0) this.recovered(events)
    }
  }
}
