/**
 * `chainlog verify <dir> [stream]`: the engine's full check (framing, CRCs, offsets, prev links,
 * checkpoints, index and manifest agreement) of one stream or all. Exit 0 when every stream is
 * sound, 1 when any problem is found. Long checks draw a progress bar on stderr.
 *
 * With --json the report is always printed, also when the check could not run (an unreadable
 * store, a bad argument): then it is `{ ok: false, error: { code, message, exitCode }, streams: [] }` (code: the engine's
 * error code, null for a usage error of the CLI itself) with
 * the usual exit code, so a monitoring script always has JSON to parse.
 */
import cliProgress from 'cli-progress'
import type { VerifyReport } from '../index.ts'
import { existsSync, readFileSync } from 'node:fs'
import { EXIT_OK, EXIT_PROBLEMS, exitCodeFor, usageError } from './exit-codes.ts'
import { bytes, counted, hex, toJson } from './output.ts'
import { requireStream, withStore } from './store-dir.ts'

/** Below this much data a check is quick and a bar would only flicker (auto mode). */
const PROGRESS_MIN_BYTES = 64 * 1024 * 1024

export interface VerifyCommandOptions {
  json?: boolean
  /** true: always draw the bar; false: never; undefined: on a terminal, for large stores. */
  progress?: boolean
  /** Files each holding a signed note kept elsewhere (SPEC §8). */
  trusted?: string[]
  /** Verifier keys, or files of them (one per line). */
  vkeys?: string[]
}

export async function verifyCommand(dir: string, stream: string | undefined, opts: VerifyCommandOptions): Promise<number> {
  let report: VerifyReport
  try {
    report = await withStore(dir, { readOnly: true }, async (log) => {
      if (stream !== undefined) await requireStream(log, dir, stream)
      const bar = progressBar(opts.progress)
      try {
        return await log.verify(stream, { onProgress: bar.update, ...trustOptions(opts) })
      } finally {
        bar.stop()
      }
    })
  } catch (err) {
    if (!opts.json) throw err
    const e = err as { code?: unknown; message?: unknown }
    const exitCode = exitCodeFor(err)
    const error = { code: typeof e.code === 'string' ? e.code : null, message: typeof e.message === 'string' ? e.message : String(err), exitCode }
    process.stdout.write(toJson({ ok: false, error, streams: [] }, 2) + '\n')
    process.stderr.write(`chainlog: ${error.message}\n`)
    return exitCode
  }
  if (opts.json) process.stdout.write(toJson(reportJson(report), 2) + '\n')
  else printReport(report)
  return report.ok ? EXIT_OK : EXIT_PROBLEMS
}

/** --trusted files and --vkey keys (a value naming a file is read: one key per line). */
function trustOptions(opts: VerifyCommandOptions): { trusted?: string[]; keys?: string[] } {
  const out: { trusted?: string[]; keys?: string[] } = {}
  if (opts.trusted !== undefined && opts.trusted.length > 0) out.trusted = opts.trusted.map((f) => readText(f, 'trusted note'))
  if (opts.vkeys !== undefined && opts.vkeys.length > 0) out.keys = verifierKeys(opts.vkeys)
  return out
}

/** --vkey values: a key, or a file of them (one per line). */
export function verifierKeys(vkeys: readonly string[]): string[] {
  return vkeys.flatMap((v) => (existsSync(v) ? readText(v, 'verifier key file').split('\n').map((l) => l.trim()).filter(Boolean) : [v]))
}

function readText(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch (err) {
    throw usageError(`cannot read the ${what} ${file}: ${(err as Error).message}`)
  }
}

function reportJson(report: VerifyReport) {
  return {
    ok: report.ok,
    streams: report.streams.map((s) => ({ ...s, head: { nextOffset: s.head.nextOffset, hash: hex(s.head.hash) } })),
  }
}

export function printReport(report: VerifyReport): void {
  const out: string[] = []
  for (const s of report.streams) {
    const head = `next offset ${s.head.nextOffset}, head ${hex(s.head.hash)}`
    const held = `${counted(s.events, 'event')}, ${counted(s.checkpoints, 'checkpoint')}`
    if (s.problems.length === 0) {
      out.push(`ok      ${s.stream}: ${counted(s.records, 'record')}: ${held}; ${head}`)
      continue
    }
    const first = s.problems[0].offset
    const stop = first === null ? '' : `, reads stop at offset ${first}`
    out.push(`FAILED  ${s.stream}: ${counted(s.problems.length, 'problem')}${stop}; the files hold ${counted(s.records, 'valid record')}: ${held}; ${head}`)
    for (const p of s.problems) out.push(`        ${s.stream} at offset ${p.offset ?? '?'}: ${p.code} ${p.message}`)
  }
  if (report.streams.length === 0) out.push('no streams')
  out.push(report.ok ? 'verify: ok' : 'verify: problems found')
  process.stdout.write(out.join('\n') + '\n')
}

/** A progress bar fed by verify's onProgress; created on the first report that warrants one. */
export function progressBar(mode: boolean | undefined, label = 'verifying'): { update: (p: { bytesDone: number; bytesTotal: number }) => void; stop: () => void } {
  let bar: cliProgress.SingleBar | undefined
  const wanted = (total: number) => mode ?? (Boolean(process.stderr.isTTY) && total >= PROGRESS_MIN_BYTES)
  return {
    update({ bytesDone, bytesTotal }) {
      if (!bar) {
        if (!wanted(bytesTotal)) return
        bar = new cliProgress.SingleBar({
          stream: process.stderr,
          format: `${label} [{bar}] {percentage}% | {doneBytes} of {totalBytes}`,
          noTTYOutput: true, // with --progress on a pipe, print the bar as lines
          notTTYSchedule: 1000,
          hideCursor: true,
        }, cliProgress.Presets.shades_classic)
        bar.start(bytesTotal, 0, { doneBytes: bytes(0), totalBytes: bytes(bytesTotal) })
      }
      bar.setTotal(bytesTotal)
      bar.update(bytesDone, { doneBytes: bytes(bytesDone), totalBytes: bytes(bytesTotal) })
    },
    stop() {
      bar?.stop()
    },
  }
}
