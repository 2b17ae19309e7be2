/**
 * `chainlog redact <dir> <stream> <offset> [--reason TEXT]` (SPEC §9): erases the payload of one
 * data record from every file of the store, keeping its chain hash (log.redact). Exit 0 when the
 * record is (now) redacted, 2 for usage errors (a checkpoint, a tombstone, an offset past the
 * end, a reason over 1 KiB), 1 when its segment is damaged, 3 for I/O errors (a live writer holds
 * the store's lock, say).
 */
import { EXIT_OK } from './exit-codes.ts'
import { requireStream, withStore } from './store-dir.ts'

export interface RedactCommandOptions {
  reason?: string
  json?: boolean
}

export async function redactCommand(dir: string, stream: string, offset: number, opts: RedactCommandOptions): Promise<number> {
  const result = await withStore(dir, {}, async (log) => {
    await requireStream(log, dir, stream)
    return log.redact(stream, offset, opts.reason === undefined ? {} : { reason: opts.reason })
  })
  if (opts.json) process.stdout.write(JSON.stringify({ stream, ...result }) + '\n')
  else if (result.tombstoneOffset === null) process.stdout.write(`${stream}: offset ${offset} was redacted already; nothing written\n`)
  else process.stdout.write(`${stream}: redacted offset ${offset}; its payload is erased from every file of the store, the tombstone is offset ${result.tombstoneOffset}\n`)
  return EXIT_OK
}
