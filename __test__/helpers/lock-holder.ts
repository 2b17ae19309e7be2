/**
 * Child process for the lock tests: opens a store for writing, prints "ready", and holds it
 * until stdin closes (or it is killed).  node --import=tsx lock-holder.ts <dir> <backend>
 */
import { Log } from '../../ts/index.ts'

const [dir, backend] = process.argv.slice(2)
try {
  const log = await Log.open(dir, { backend: backend as 'js' | 'native' })
  process.stdout.write('ready\n')
  process.stdin.resume()
  process.stdin.on('end', () => void log.close().then(() => process.exit(0)))
} catch (err) {
  process.stdout.write(`error ${(err as { code?: string }).code}\n`)
  process.exit(0)
}
