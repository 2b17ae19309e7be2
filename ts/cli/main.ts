/**
 * The `chainlog` command line (package.json "bin"). Commands that only read open the store
 * read-only, so they run next to a live writer. Exit codes: see exit-codes.ts.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander'
import { appendCommand } from './append.ts'
import { archiveForkCommand, archivePushCommand, archiveReadCommand, archiveRestoreCommand, archiveStatusCommand, archiveVerifyCommand } from './archive.ts'
import { benchCommand } from './bench.ts'
import { EXIT_OK, EXIT_USAGE, exitCodeFor } from './exit-codes.ts'
import { inspectCommand } from './inspect.ts'
import { keygenCommand } from './keygen.ts'
import { packageRoot } from './package-root.ts'
import { readCommand, tailCommand } from './read.ts'
import { repairCommand } from './repair.ts'
import { redactCommand } from './redact.ts'
import { pruneCommand } from './prune.ts'
import { verifyCommand } from './verify.ts'
import { verifyProofCommand } from './verify-proof.ts'
import { checkpointCommand, consistencyCommand, exportTilesCommand, proveCommand } from './tlog-store.ts'

/** A non-negative safe integer argument, as offsets and counts are. */
function count(value: string): number {
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) throw new InvalidArgumentError('expected a non-negative integer.')
  return Number(value)
}

/** A time: milliseconds since the epoch, or a date string Date.parse understands (ISO 8601). */
function time(value: string): number {
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value)
  if (!Number.isSafeInteger(ms) || ms < 0) throw new InvalidArgumentError('expected milliseconds since the epoch or an ISO 8601 date.')
  return ms
}

function program(): Command {
  const p = new Command('chainlog')
    .description('Inspect, verify, read and append to chainlog stores (tamper-evident append-only event logs).')
    .version(packageRoot().version, '-V, --version')
    .showHelpAfterError('(run chainlog --help or chainlog <command> --help for usage)')
    .exitOverride()
    .addHelpText('after', '\nExit codes: 0 all good, 1 problems found, 2 usage error (including a <dir> that is not a store), 3 I/O error.')

  p.command('verify')
    .description('check every record of one stream or all: framing, CRCs, offsets, hash chain, checkpoints, index')
    .argument('<dir>', 'store directory')
    .argument('[stream]', 'only this stream (default: all)')
    .option('--json', 'print the report as JSON')
    .option('--progress', 'always draw the progress bar (default: on a terminal, for large stores)')
    .option('--no-progress', 'never draw the progress bar')
    .option('--trusted <file>', 'a signed note kept elsewhere: the records must give its tree (repeatable)', (v: string, all: string[]) => [...all, v], [] as string[])
    .option('--vkey <vkey>', 'verifier key the notes must be signed with, or a file of them (repeatable)', (v: string, all: string[]) => [...all, v], [] as string[])
    .action(async (dir: string, stream: string | undefined, o: { json?: boolean; progress?: boolean; trusted: string[]; vkey: string[] }) => {
      // --progress defined before --no-progress: undefined unless one of them is given
      process.exitCode = await verifyCommand(dir, stream, { json: o.json, progress: o.progress, trusted: o.trusted, vkeys: o.vkey })
    })

  p.command('inspect')
    .description('show streams, heads, checkpoints, segments and sizes (no checking; exit 1 if a stream is known to be damaged)')
    .argument('<dir>', 'store directory')
    .argument('[stream]', 'only this stream (default: all)')
    .option('--json', 'print as JSON')
    .action(async (dir: string, stream: string | undefined, o: { json?: boolean }) => {
      process.exitCode = await inspectCommand(dir, stream, o)
    })

  p.command('read')
    .description('print records (data records only, in offset order), verified as they are read')
    .argument('<dir>', 'store directory')
    .argument('<stream>', 'stream name')
    .option('--from <offset>', 'first offset', count)
    .option('--from-time <time>', 'first record with a timestamp at or after this (ms since the epoch, or ISO 8601)', time)
    .option('--limit <n>', 'at most this many records', count)
    .addOption(new Option('--verify <mode>', 'how much of the chain to check').choices(['checkpoint', 'genesis', 'none']).default('checkpoint'))
    .option('--json', 'one JSON object per line (payload as text, or payloadBase64 when not UTF-8)')
    .action(async (dir: string, stream: string, o: { from?: number; fromTime?: number; limit?: number; json?: boolean; verify: 'checkpoint' | 'genesis' | 'none' }) => {
      process.exitCode = await readCommand(dir, stream, o)
    })

  p.command('tail')
    .description('print the last records of a stream, then follow new appends until interrupted')
    .argument('<dir>', 'store directory')
    .argument('<stream>', 'stream name')
    .option('-n, --lines <n>', 'how many existing records to print first', count, 10)
    .option('--from <offset>', 'start at this offset instead', count)
    .option('--json', 'one JSON object per line')
    .action(async (dir: string, stream: string, o: { lines: number; from?: number; json?: boolean }) => {
      process.exitCode = await tailCommand(dir, stream, o)
    })

  p.command('append')
    .description('append one event per line of stdin (creates the store if needed)')
    .argument('<dir>', 'store directory')
    .argument('<stream>', 'stream name')
    .addOption(new Option('--compression <codec>', 'payload compression').choices(['none', 'zstd', 'lz4']))
    .addOption(new Option('--hash <algorithm>', 'chain hash of a new store').choices(['blake3', 'sha256']))
    .addOption(new Option('--sync <mode>', 'fsync each append (always) or not (never)').choices(['always', 'never']))
    .option('--json', 'print the result as JSON on stdout')
    .action(async (dir: string, stream: string, o: { compression?: 'none' | 'zstd' | 'lz4'; hash?: 'blake3' | 'sha256'; sync?: 'always' | 'never'; json?: boolean }) => {
      process.exitCode = await appendCommand(dir, stream, o)
    })

  p.command('repair')
    .description('move the damaged end of a stream\'s active segment to <stream>/quarantine/ and make it appendable again (dry run without --yes)')
    .argument('<dir>', 'store directory')
    .argument('<stream>', 'stream name')
    .option('--yes', 'do it (without: only show what would be moved, change nothing)')
    .option('--json', 'print the result as JSON')
    .action(async (dir: string, stream: string, o: { yes?: boolean; json?: boolean }) => {
      process.exitCode = await repairCommand(dir, stream, o)
    })

  p.command('redact')
    .description('erase the payload of one data record from every file of the store (the record keeps its hash; a tombstone records why)')
    .argument('<dir>', 'store directory')
    .argument('<stream>', 'stream name')
    .argument('<offset>', 'offset of the data record', count)
    .option('--reason <text>', 'why, stored in the tombstone (UTF-8, at most 1 KiB)')
    .option('--json', 'print the result as JSON')
    .action(async (dir: string, stream: string, offset: number, o: { reason?: string; json?: boolean }) => {
      process.exitCode = await redactCommand(dir, stream, offset, o)
    })

  p.command('prune')
    .description('delete a stream\'s oldest sealed segments whose records all lie below --before (dry run without --yes)')
    .argument('<dir>', 'store directory')
    .argument('<stream>', 'stream name')
    .requiredOption('--before <offset>', 'prune whole sealed segments whose records are all below this offset', count)
    .option('--yes', 'do it (without: only show what would be deleted, change nothing)')
    .option('--json', 'print the result as JSON')
    .action(async (dir: string, stream: string, o: { before: number; yes?: boolean; json?: boolean }) => {
      process.exitCode = await pruneCommand(dir, stream, o)
    })

  p.command('keygen')
    .description('generate an Ed25519 key for signed checkpoints (Go note format); prints the verifier key')
    .argument('<name>', 'key name, e.g. the store origin example.com/audit')
    .option('--out <file>', 'write the private key to this new file (mode 0600) and print the verifier key')
    .action(async (name: string, o: { out?: string }) => {
      process.exitCode = await keygenCommand(name, o)
    })

  p.command('verify-proof')
    .description('check a tlog-proof offline (no store): signature, origin, inclusion, optionally the payload')
    .argument('<file>', "the proof ('-' for stdin)")
    .requiredOption('--vkey <vkey>', 'verifier key of the log, or a file of them (repeatable)', (v: string, all: string[]) => [...all, v], [] as string[])
    .requiredOption('--origin <origin>', 'the store origin (or the stream\'s full origin line)')
    .option('--payload <file>', 'check this payload against the record\'s commitment')
    .addOption(new Option('--hash <algorithm>', 'the store\'s hash (default: whichever verifies)').choices(['blake3', 'sha256']))
    .option('--json', 'print the result as JSON')
    .action(async (file: string, o: { vkey: string[]; origin: string; payload?: string; hash?: 'blake3' | 'sha256'; json?: boolean }) => {
      process.exitCode = await verifyProofCommand(file, o)
    })

  p.command('checkpoint')
    .description('write a checkpoint and sign the tree before it (C2SP signed note); prints the note and publishes it to <stream>/checkpoint')
    .argument('<dir>', 'store directory')
    .argument('<stream>', 'stream name')
    .requiredOption('--key <file>', 'the signer key file (chainlog keygen --out), outside the store')
    .requiredOption('--origin <origin>', 'the store origin, e.g. example.com/audit')
    .option('--state-file <file>', 'keep the last published head here too, outside the store (rollback detection)')
    .action(async (dir: string, stream: string, o: { key: string; origin: string; stateFile?: string }) => {
      process.exitCode = await checkpointCommand(dir, stream, o)
    })

  p.command('prove')
    .description('print the C2SP tlog-proof of one record (tree: the last published note, or --size)')
    .argument('<dir>', 'store directory')
    .argument('<stream>', 'stream name')
    .argument('<offset>', 'the record\'s offset', count)
    .option('--size <n>', 'tree size (a published note of that size must exist)', count)
    .action(async (dir: string, stream: string, offset: number, o: { size?: number }) => {
      process.exitCode = await proveCommand(dir, stream, offset, o)
    })

  p.command('consistency')
    .description('print the tlog-witness add-checkpoint body from an older tree size to the last published note (or <new>)')
    .argument('<dir>', 'store directory')
    .argument('<stream>', 'stream name')
    .argument('<old>', 'the older tree size', count)
    .argument('[new]', 'the newer tree size (a published note of that size must exist)', count)
    .action(async (dir: string, stream: string, old: number, newer: number | undefined) => {
      process.exitCode = await consistencyCommand(dir, stream, old, newer)
    })

  p.command('export-tiles')
    .description('write a static C2SP tlog-tiles log of a stream at its last published note (tiles, entry bundles, checkpoint)')
    .argument('<dir>', 'store directory')
    .argument('<stream>', 'stream name')
    .argument('<out>', 'a new or empty directory')
    .action(async (dir: string, stream: string, out: string) => {
      process.exitCode = await exportTilesCommand(dir, stream, out)
    })

  const archive = p.command('archive').description('ship a store to S3-compatible object storage, and verify, read or restore the archive (s3://bucket/prefix; --endpoint or CHAINLOG_S3_ENDPOINT for servers that are not AWS)')
  const endpoint = new Option('--endpoint <url>', 'S3 endpoint of a server that is not AWS (e.g. http://127.0.0.1:7070); default: CHAINLOG_S3_ENDPOINT, else AWS')
  archive.command('push')
    .description('ship the store\'s files to the archive (once, or --follow until interrupted)')
    .argument('<dir>', 'store directory')
    .argument('<url>', 's3://bucket/prefix')
    .addOption(endpoint)
    .option('--follow', 'keep shipping new records every --interval until interrupted')
    .option('--interval <ms>', 'milliseconds between passes with --follow', count, 1000)
    .option('--json', 'one JSON line per pass')
    .action(async (dir: string, url: string, o: { endpoint?: string; follow?: boolean; interval: number; json?: boolean }) => {
      process.exitCode = await archivePushCommand(dir, url, o)
    })
  archive.command('status')
    .description('per stream: what the archive holds against the local store (exit 1 if the archive is ahead or diverged)')
    .argument('<dir>', 'store directory')
    .argument('<url>', 's3://bucket/prefix')
    .addOption(endpoint)
    .option('--json', 'print as JSON')
    .action(async (dir: string, url: string, o: { endpoint?: string; json?: boolean }) => {
      process.exitCode = await archiveStatusCommand(dir, url, o)
    })
  archive.command('verify')
    .description('check every archived object from the bucket: chain, segments, indexes, HEAD (exit codes as verify)')
    .argument('<url>', 's3://bucket/prefix')
    .argument('[stream]', 'only this stream (default: all)')
    .addOption(endpoint)
    .option('--json', 'print the report as JSON')
    .option('--progress', 'always draw the progress bar')
    .option('--no-progress', 'never draw the progress bar')
    .option('--vkey <vkey>', 'verifier key HEAD\'s signed note must be signed with, or a file of them (repeatable)', (v: string, all: string[]) => [...all, v], [] as string[])
    .action(async (url: string, stream: string | undefined, o: { endpoint?: string; json?: boolean; progress?: boolean; vkey: string[] }) => {
      process.exitCode = await archiveVerifyCommand(url, stream, o)
    })
  archive.command('restore')
    .description('restore the archive into an empty directory, checking the chain as it downloads')
    .argument('<url>', 's3://bucket/prefix')
    .argument('<dir>', 'an empty or new directory')
    .addOption(endpoint)
    .addOption(new Option('--to-offset <n>', 'restore records below this offset (cut at an append\'s end)').argParser(count).conflicts('toTime'))
    .addOption(new Option('--to-time <time>', 'restore records stamped at or before this (ms since the epoch, or ISO 8601)').argParser(time))
    .option('--stream <name>', 'only this stream (repeatable)', (v: string, all: string[]) => [...all, v], undefined as unknown as string[])
    .option('--json', 'print what was restored as JSON')
    .option('--progress', 'always draw the progress bar')
    .option('--no-progress', 'never draw the progress bar')
    .action(async (url: string, dir: string, o: { endpoint?: string; toOffset?: number; toTime?: number; stream?: string[]; json?: boolean; progress?: boolean }) => {
      process.exitCode = await archiveRestoreCommand(url, dir, { ...o, streams: o.stream })
    })
  archive.command('read')
    .description('print a stream\'s records straight from the archive, the chain checked from offset 0')
    .argument('<url>', 's3://bucket/prefix')
    .argument('<stream>', 'stream name')
    .addOption(endpoint)
    .option('--from <offset>', 'first offset', count)
    .option('--limit <n>', 'at most this many records', count)
    .option('--json', 'one JSON object per line')
    .action(async (url: string, stream: string, o: { endpoint?: string; from?: number; limit?: number; json?: boolean }) => {
      process.exitCode = await archiveReadCommand(url, stream, o)
    })
  archive.command('fork')
    .description('let a store restored to an earlier point than its archive be appended to, as a new log under a new origin')
    .argument('<dir>', 'a store restored with --to-offset or --to-time')
    .argument('<origin>', 'the new origin (not the archive\'s)')
    .action(async (dir: string, origin: string) => {
      process.exitCode = await archiveForkCommand(dir, origin)
    })

  p.command('bench')
    .description('run the quick benchmark (from a source checkout only)')
    .option('--full', 'the full suite instead of --quick')
    .option('--only <ids>', 'only these workloads, e.g. W1,W3')
    .option('--dry-run', 'print the command instead of running it')
    .action(async (o: { full?: boolean; only?: string; dryRun?: boolean }) => {
      process.exitCode = await benchCommand(o)
    })
  return p
}

/** The library's warning when backend 'auto' falls back to the JS core (ts/core/load.ts). */
const NATIVE_FALLBACK_WARNING = 'CHAINLOG_NATIVE_UNAVAILABLE'

/**
 * The fallback warning as one line of the CLI's own on stderr, at most once, instead of Node's
 * "(node:PID) [CODE] Warning: …" on every command; every other warning still goes to Node's
 * own printer.
 */
function reportNativeFallbackOnce(): void {
  const nodePrinters = process.listeners('warning')
  process.removeAllListeners('warning')
  let reported = false
  process.on('warning', (warning: Error & { code?: string }) => {
    if (warning.code !== NATIVE_FALLBACK_WARNING) {
      for (const print of nodePrinters) print(warning)
      return
    }
    if (reported) return
    reported = true
    const reason = /\((.*)\)$/s.exec(warning.message)?.[1] ?? warning.message
    process.stderr.write(`chainlog: note: running on the JavaScript core (same results, slower); the native binary did not load: ${reason}\n`)
  })
}

export async function main(argv: string[]): Promise<number> {
  reportNativeFallbackOnce()
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? EXIT_OK) // the reader went away (| head)
    throw err
  })
  try {
    await program().parseAsync(argv)
    return Number(process.exitCode ?? EXIT_OK)
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit 0; a parse error, or no command at all, is a usage error.
      // Commander has printed the message already.
      return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE
    }
    const code = exitCodeFor(err)
    const e = err as { code?: string; message?: string }
    process.stderr.write(`chainlog: ${e.code && !e.message?.includes(e.code) ? `${e.code}: ` : ''}${e.message ?? String(err)}\n`)
    return code
  }
}

process.exitCode = await main(process.argv)
