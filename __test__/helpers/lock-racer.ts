/**
 * Child process for the lock race test: prints "ready", waits for "go" on stdin, opens the store
 * for writing and prints "got" or "error <code>", then holds what it got until stdin closes.
 *   node --import=tsx lock-racer.ts <dir> <backend>
 */
import { Log } from '../../ts/index.ts'

const [dir, backend] = process.argv.slice(2)
let log: Log | null = null
let started = false
process.stdin.on('data', (d: Buffer) => {
  if (started || !d.toString().includes('go')) return
  started = true
  Log.open(dir, { backend: backend as 'js' | 'native' }).then(
    (l) => {
      log = l
      process.stdout.write('got\n')
    },
    (err) => process.stdout.write(`error ${(err as { code?: string }).code}\n`),
  )
})
process.stdin.on('end', () => void (log?.close() ?? Promise.resolve()).then(() => process.exit(0)))
process.stdout.write('ready\n')
