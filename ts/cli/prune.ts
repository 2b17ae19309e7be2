/**
 * `chainlog prune <dir> <stream> --before N [--yes]` (SPEC §9): without --yes, opens the store
 * read-only and prints which sealed segments a prune would delete, changing nothing; with --yes,
 * takes the writer's lock and prunes. Exit 0 on success (also when nothing would go), 2 for usage
 * errors (a `before` past the stream's end, an unknown stream), 1 for a damaged stream.
 */
import type { PruneResult } from '../index.ts'
import { EXIT_OK } from './exit-codes.ts'
import { requireStream, withStore } from './store-dir.ts'

export interface PruneCommandOptions {
  before: number
  yes?: boolean
  json?: boolean
}

export async function pruneCommand(dir: string, stream: string, opts: PruneCommandOptions): Promise<number> {
  const apply = opts.yes === true
  const { result, from } = await withStore(dir, { readOnly: !apply }, async (log) => {
    await requireStream(log, dir, stream)
    const from = (await log.head(stream)).firstOffset
    const result: PruneResult = await log.prune(stream, { before: opts.before, dryRun: !apply })
    return { result, from }
  })
  if (opts.json) process.stdout.write(JSON.stringify({ ...result, dryRun: !apply }) + '\n')
  else if (result.segments === 0) process.stdout.write(`${stream}: nothing to prune below offset ${opts.before} (the stream starts at ${result.firstOffset}; only whole sealed segments go)\n`)
  else {
    const what = `${result.segments} segment(s), ${result.bytes} bytes, offsets ${from}..${result.firstOffset - 1}`
    process.stdout.write(apply ? `${stream}: pruned ${what}; the stream now starts at offset ${result.firstOffset}\n` : `${stream}: would prune ${what}; the stream would start at offset ${result.firstOffset} (dry run: nothing changed; run again with --yes to do it)\n`)
  }
  return EXIT_OK
}
