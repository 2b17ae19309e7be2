/**
 * `chainlog append <dir> <stream>`: one event per line of stdin (UTF-8, without its line ending).
 * Lines that arrive while a write is in flight go out together in the next append call, so a fast
 * producer gets big batches and an interactive one gets each line written as it is typed.
 * Creates the store if <dir> holds none.
 */
import { createInterface } from 'node:readline'
import type { AppendResult, LogOptions } from '../index.ts'
import { EXIT_OK } from './exit-codes.ts'
import { hex } from './output.ts'
import { withStore } from './store-dir.ts'

/** Events per append call at most. */
const MAX_BATCH = 1000
/** Lines buffered before stdin is paused (backpressure). */
const MAX_PENDING = 10 * MAX_BATCH

export interface AppendCommandOptions {
  json?: boolean
  compression?: LogOptions['compression']
  hash?: LogOptions['hash']
  sync?: LogOptions['sync']
}

export async function appendCommand(dir: string, stream: string, opts: AppendCommandOptions): Promise<number> {
  const { json, ...logOptions } = opts
  const summary = await withStore(dir, { ...logOptions, create: true }, async (log) => {
    const lines = createInterface({ input: process.stdin, crlfDelay: Infinity })
    const pending: string[] = []
    let first: AppendResult | undefined
    let last: AppendResult | undefined
    let count = 0
    let failure: unknown
    let writing: Promise<void> | undefined
    let closed = false
    lines.once('close', () => { closed = true })

    const drain = async () => {
      while (pending.length > 0 && failure === undefined) {
        const batch = pending.splice(0, MAX_BATCH)
        try {
          last = await log.append(stream, batch)
          first ??= last
          count += batch.length
        } catch (err) {
          failure = err
          lines.close()
        }
        // Node 24 throws ERR_USE_AFTER_CLOSE on resume() once stdin has ended (or a failure closed it).
        if (pending.length < MAX_PENDING && !closed) lines.resume()
      }
      writing = undefined
    }
    lines.on('line', (line) => {
      pending.push(line)
      if (pending.length >= MAX_PENDING) lines.pause()
      writing ??= drain()
    })
    await new Promise<void>((resolve) => lines.once('close', resolve))
    while (writing) await writing
    if (failure === undefined && pending.length > 0) await drain()
    if (failure !== undefined) {
      if (count > 0) process.stderr.write(`chainlog: ${count} events were appended to ${stream} before the failure (next offset ${last?.nextOffset})\n`)
      throw failure
    }
    return { appended: count, firstOffset: first?.firstOffset ?? null, lastOffset: last?.lastOffset ?? null, nextOffset: last?.nextOffset ?? null, hash: hex(last?.hash) }
  })
  if (json) process.stdout.write(JSON.stringify(summary) + '\n')
  else if (summary.appended === 0) process.stderr.write(`appended nothing to ${stream} (stdin was empty)\n`)
  else process.stderr.write(`appended ${summary.appended} events to ${stream}: offsets ${summary.firstOffset}..${summary.lastOffset}, next offset ${summary.nextOffset}\n`)
  return EXIT_OK
}
