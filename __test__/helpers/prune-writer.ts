/**
 * Child process for the prune crash test: appends (sync 'always', small segments), signs a
 * checkpoint now and then, and prunes behind the head after every append, printing one JSON line per
 * acknowledged append ({ acked }) and per finished prune ({ pruned }), until it is killed.
 *   node --import=tsx prune-writer.ts <dir> <backend> <signer key>
 * Every event's payload is its own offset (`e-<offset>`): the parent checks every kept record.
 */
import { Log } from '../../ts/index.ts'

const [dir, backend, skey] = process.argv.slice(2)
const log = await Log.open(dir, { backend: backend as 'js' | 'native', hash: 'sha256', maxSegmentBytes: 600, checkpointEvery: false, tlog: { origin: 'example.com/audit', signer: skey } })
const say = (o: object) => process.stdout.write(JSON.stringify(o) + '\n')
say({ ready: true })
for (let n = 1; ; n++) {
  const next = (await log.head('s')).nextOffset
  const r = await log.append('s', [0, 1, 2].map((k) => `e-${next + k}`))
  say({ acked: r.nextOffset })
  if (n % 15 === 0) await log.checkpoint('s')
  say({ pruned: (await log.prune('s', { before: Math.max(0, r.nextOffset - 40) })).firstOffset })
}
