/**
 * Child process for the archive redaction crash test: opens the store, starts an Archiver,
 * redacts one record and ships it. The environment's CHAINLOG_TEST_ARCHIVE_KILL_AT makes it
 * SIGKILL itself at that step of the archiver (ts/archive/archived-redaction.ts); it prints
 * {"redacted":…} once the local redaction is done.
 *   node --import=tsx archive-redact-writer.ts <dir> <backend> <url> <client JSON> <stream> <offset>
 */
import { Archiver, Log } from '../../ts/index.ts'

const [dir, backend, url, client, stream, offsetText] = process.argv.slice(2)
const log = await Log.open(dir, { backend: backend as 'js' | 'native', maxSegmentBytes: 730, checkpointEvery: false })
const archiver = await Archiver.start(log, { url, client: JSON.parse(client), interval: 60_000 })
await archiver.sync()
const r = await log.redact(stream, Number(offsetText), { reason: 'crash test' })
process.stdout.write(`${JSON.stringify({ redacted: r.offset })}\n`)
await archiver.sync()
process.stdout.write(`${JSON.stringify({ shipped: true })}\n`)
await archiver.stop()
await log.close()
