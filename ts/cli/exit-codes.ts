/**
 * The CLI's exit codes and how a failure maps onto them. Scripts depend on these numbers.
 *
 *   0  all good
 *   1  problems found: verify reported damage, a read hit a broken chain or corrupt record, or
 *      inspect showed a stream known to be damaged (after printing everything)
 *   2  usage error: bad or missing arguments, an unknown stream, a <dir> that is not a chainlog
 *      store, --hash differing from the store's, or an offset a prune removed
 *   3  I/O error: the store exists but could not be read or written (permissions, EIO, locked…)
 */
import { ChainlogError } from '../index.ts'

export const EXIT_OK = 0
export const EXIT_PROBLEMS = 1
export const EXIT_USAGE = 2
const EXIT_IO = 3

/** A failure the CLI has already described; `exitCode` is one of the codes above. */
export class CliFailure extends Error {
  constructor(message: string, readonly exitCode: number) {
    super(message)
    this.name = 'CliFailure'
  }
}

export const usageError = (message: string) => new CliFailure(message, EXIT_USAGE)

/** The exit code for an error thrown by the engine or by the CLI itself. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof CliFailure) return err.exitCode
  const code = (err as { code?: unknown } | null)?.code
  if (err instanceof ChainlogError || typeof code === 'string') {
    // A bad stream name or option, a line too large, --hash differing from the store's own
    if (code === 'ERR_INVALID_ARGUMENT' || code === 'ERR_RECORD_TOO_LARGE' || code === 'ERR_STORE_MISMATCH') return EXIT_USAGE
    if (code === 'ERR_CHAIN_BROKEN' || code === 'ERR_CORRUPT') return EXIT_PROBLEMS
    if (code === 'ERR_ARCHIVE_CONFLICT') return EXIT_PROBLEMS // the archive has a fork or another writer
    if (code === 'ERR_PRUNED') return EXIT_USAGE // an offset below where a pruned stream starts
  }
  return EXIT_IO
}
