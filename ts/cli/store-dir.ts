import { existsSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { Log, type LogOptions } from '../index.ts'
import { usageError } from './exit-codes.ts'

/** The store file every chainlog data directory has (SPEC §2). */
const STORE_FILE = 'chainlog.json'

/**
 * Opens the store at `dir`. Commands that only read pass readOnly: they take no lock, write
 * nothing, and work next to a running writer. A <dir> that does not exist or holds no store is a
 * usage error (exit 2), not an I/O error: the command named the wrong place, nothing was read.
 * Only `append` may create a store (`create: true`).
 */
async function openStore(dir: string, options: LogOptions & { create?: boolean }): Promise<Log> {
  const { create = false, ...logOptions } = options
  if (!create) {
    if (!existsSync(dir)) throw usageError(`no such directory: ${dir}`)
    if (!statSync(dir).isDirectory()) throw usageError(`not a directory: ${dir}`)
    if (!existsSync(join(dir, STORE_FILE))) throw usageError(`not a chainlog store (no ${STORE_FILE}): ${dir}`)
  }
  // CHAINLOG_BACKEND=native|js|auto picks the core (an invalid value is the engine's usage error).
  const backend = (process.env.CHAINLOG_BACKEND || undefined) as LogOptions['backend']
  return Log.open(dir, backend === undefined ? logOptions : { backend, ...logOptions })
}

/** Runs `body` with the store open and always closes it. */
export async function withStore<T>(dir: string, options: LogOptions & { create?: boolean }, body: (log: Log) => Promise<T>): Promise<T> {
  const log = await openStore(dir, options)
  try {
    return await body(log)
  } finally {
    await log.close()
  }
}

/**
 * Fails with a usage error when the store has no stream `stream`. The engine treats an unknown
 * stream as an empty one; on the command line that is almost always a typo worth pointing out.
 */
export async function requireStream(log: Log, dir: string, stream: string): Promise<void> {
  await log.head(stream) // an invalid name is the engine's ERR_INVALID_ARGUMENT, with its reason
  const names = await log.streams()
  if (!names.includes(String(stream))) {
    throw usageError(`no stream named ${JSON.stringify(stream)} in ${dir} (streams: ${names.join(', ') || 'none'})`)
  }
}
