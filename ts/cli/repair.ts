/**
 * `chainlog repair <dir> <stream> [--yes]` (SPEC §9): without --yes, opens the store read-only
 * and prints what repair would move to quarantine, changing nothing; with --yes, takes the
 * writer's lock and does it. Exit 0 when the stream is (now) healthy or would be repaired, 1 when
 * repair refuses (a checkpoint past the cut), 2 for usage errors, 3 for damage it cannot repair.
 */
import type { RepairResult } from '../index.ts'
import { EXIT_OK } from './exit-codes.ts'
import { requireStream, withStore } from './store-dir.ts'

export interface RepairCommandOptions {
  yes?: boolean
  json?: boolean
}

export async function repairCommand(dir: string, stream: string, opts: RepairCommandOptions): Promise<number> {
  const apply = opts.yes === true
  const result: RepairResult = await withStore(dir, { readOnly: !apply }, async (log) => {
    await requireStream(log, dir, stream)
    return log.repair(stream, { dryRun: !apply })
  })
  if (opts.json) process.stdout.write(JSON.stringify({ ...result, dryRun: !apply }) + '\n')
  else if (result.segment === null) process.stdout.write(`${stream}: ${result.reason}\n`)
  else if (apply) process.stdout.write(`${stream}: ${result.reason}; the stream takes appends again from offset ${result.offset}\n`)
  else process.stdout.write(`${stream}: ${result.reason} (dry run: nothing changed; run again with --yes to do it)\n`)
  return EXIT_OK
}
