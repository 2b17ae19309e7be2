/**
 * `chainlog archive push|status|verify|restore|read|fork`: a store and its archive in object storage
 * (SPEC §10). The S3 client is configured from the environment as the AWS SDK does it
 * (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, ~/.aws), plus --endpoint or
 * CHAINLOG_S3_ENDPOINT for servers that are not AWS (then the bucket goes in the path).
 *
 * push opens the store read-only, so it runs next to a live writer, and ships what the files
 * hold; with --follow it reopens the store every interval and ships what is new until
 * interrupted. An application that wants only fsynced bytes shipped runs Archiver in-process.
 */
import { ArchiveReader, Archiver, type ArchiveClientConfig, forkRestored, restore } from '../index.ts'
import { EXIT_OK, EXIT_PROBLEMS } from './exit-codes.ts'
import { bytes, recordJson, recordLine, toJson } from './output.ts'
import { withStore } from './store-dir.ts'
import { printReport, progressBar, verifierKeys } from './verify.ts'

export interface ArchiveCliOptions {
  endpoint?: string
  json?: boolean
  progress?: boolean
}

function clientConfig(o: ArchiveCliOptions): ArchiveClientConfig {
  const endpoint = o.endpoint ?? process.env.CHAINLOG_S3_ENDPOINT
  return endpoint === undefined || endpoint === '' ? {} : { endpoint, forcePathStyle: true }
}

const backend = () => (process.env.CHAINLOG_BACKEND || undefined) as 'auto' | 'native' | 'js' | undefined

/** One pass: the store's files as they are now, shipped; returns the records shipped per stream. */
async function pushOnce(dir: string, url: string, client: ArchiveClientConfig): Promise<Array<{ stream: string; shippedOffset: number; lagRecords: number }>> {
  return withStore(dir, { readOnly: true }, async (log) => {
    const archiver = await Archiver.start(log, { url, client, interval: 86_400_000 })
    try {
      await archiver.sync()
      return (await archiver.status()).streams.map((s) => ({ stream: s.stream, shippedOffset: s.shippedOffset, lagRecords: s.lagRecords }))
    } finally {
      await archiver.stop()
    }
  })
}

export async function archivePushCommand(dir: string, url: string, o: ArchiveCliOptions & { follow?: boolean; interval: number }): Promise<number> {
  const client = clientConfig(o)
  const print = (streams: Array<{ stream: string; shippedOffset: number }>) => {
    if (o.json) process.stdout.write(`${toJson({ time: new Date().toISOString(), streams })}\n`)
    else for (const s of streams) process.stdout.write(`${s.stream}: archived up to offset ${s.shippedOffset}\n`)
  }
  print(await pushOnce(dir, url, client))
  if (!o.follow) return EXIT_OK
  const stop = new AbortController()
  const onSignal = () => stop.abort()
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  let last = ''
  while (!stop.signal.aborted) {
    await new Promise((resolve) => {
      const t = setTimeout(resolve, o.interval)
      stop.signal.addEventListener('abort', () => {
        clearTimeout(t)
        resolve(null)
      }, { once: true })
    })
    if (stop.signal.aborted) break
    const streams = await pushOnce(dir, url, client)
    const now = JSON.stringify(streams)
    if (now !== last) print(streams)
    last = now
  }
  return EXIT_OK
}

export async function archiveStatusCommand(dir: string, url: string, o: ArchiveCliOptions): Promise<number> {
  const reader = await ArchiveReader.open(url, { client: clientConfig(o), backend: backend() })
  try {
    const archived = new Set(await reader.streams())
    const rows = await withStore(dir, { readOnly: true }, async (log) => {
      const out = []
      for (const stream of [...new Set([...(await log.streams()), ...archived])].sort()) {
        const local = await log.head(stream)
        const head = archived.has(stream) ? await reader.head(stream) : null
        const shipped = head?.nextOffset ?? 0
        const onChain = head === null || (shipped <= local.nextOffset && (shipped < local.nextOffset || head.hash.equals(local.hash)))
        out.push({ stream, localOffset: local.nextOffset, shippedOffset: shipped, lagRecords: Math.max(0, local.nextOffset - shipped), archiveAhead: shipped > local.nextOffset, headMatches: onChain, seq: head?.seq ?? 0 })
      }
      return out
    })
    if (o.json) process.stdout.write(`${toJson({ url, streams: rows }, 2)}\n`)
    else {
      for (const r of rows) {
        const state = r.archiveAhead ? 'ARCHIVE AHEAD of this store' : !r.headMatches ? 'DIVERGED' : r.lagRecords === 0 ? 'up to date' : `${r.lagRecords} records behind`
        process.stdout.write(`${r.stream}: local next offset ${r.localOffset}, archived up to ${r.shippedOffset} (HEAD seq ${r.seq}): ${state}\n`)
      }
      if (rows.length === 0) process.stdout.write('no streams\n')
    }
    return rows.every((r) => !r.archiveAhead && r.headMatches) ? EXIT_OK : EXIT_PROBLEMS
  } finally {
    reader.close()
  }
}

export async function archiveVerifyCommand(url: string, stream: string | undefined, o: ArchiveCliOptions & { vkey?: string[] }): Promise<number> {
  const reader = await ArchiveReader.open(url, { client: clientConfig(o), backend: backend() })
  try {
    const bar = progressBar(o.progress, 'verifying archive')
    let report: Awaited<ReturnType<ArchiveReader['verify']>>
    try {
      report = await reader.verify(stream, { onProgress: bar.update, keys: verifierKeys(o.vkey ?? []) })
    } finally {
      bar.stop()
    }
    if (o.json) process.stdout.write(`${toJson(report, 2)}\n`)
    else printReport(report)
    return report.ok ? EXIT_OK : EXIT_PROBLEMS
  } finally {
    reader.close()
  }
}

export async function archiveRestoreCommand(url: string, dir: string, o: ArchiveCliOptions & { toOffset?: number; toTime?: number; streams?: string[] }): Promise<number> {
  const bar = progressBar(o.progress, 'restoring')
  let report: Awaited<ReturnType<typeof restore>>
  try {
    report = await restore(url, dir, { client: clientConfig(o), backend: backend(), toOffset: o.toOffset, toTime: o.toTime, streams: o.streams, onProgress: bar.update })
  } finally {
    bar.stop()
  }
  if (o.json) process.stdout.write(`${toJson(report, 2)}\n`)
  else {
    for (const s of report.streams) process.stdout.write(`${s.stream}: restored up to offset ${s.nextOffset} (${s.segments} segments, ${bytes(s.bytes)})${s.cut ? ', cut at the requested point' : ''}\n`)
    process.stdout.write(`restore: ok, into ${dir}\n`)
  }
  return EXIT_OK
}

export async function archiveReadCommand(url: string, stream: string, o: ArchiveCliOptions & { from?: number; limit?: number }): Promise<number> {
  const reader = await ArchiveReader.open(url, { client: clientConfig(o), backend: backend() })
  try {
    let n = 0
    for await (const r of reader.iterate(stream, { from: o.from })) {
      if (o.limit !== undefined && n >= o.limit) break
      process.stdout.write(`${o.json ? JSON.stringify(recordJson(r)) : recordLine(r)}\n`)
      n++
    }
    return EXIT_OK
  } finally {
    reader.close()
  }
}

/** `archive fork <dir> <origin>`: a store restored behind its archive becomes a new log under `origin`. */
export async function archiveForkCommand(dir: string, origin: string): Promise<number> {
  await forkRestored(dir, origin)
  process.stdout.write(`fork: ${dir} now signs as ${JSON.stringify(origin)} and opens writable; archive it under a new prefix\n`)
  return EXIT_OK
}
