/**
 * W6's crash: a child (bench/appender.ts) appends to `dir` until it is killed with SIGKILL at a
 * random moment after its first acknowledged append. Used by the W6 worker and by
 * bench/reopen-profile.ts, which then time Log.open on what it left.
 */
import { spawn } from 'node:child_process'

export async function appendUntilKilled(dir: string, backend: 'native' | 'js'): Promise<void> {
  // Bundled by bench/run.ts (this code in worker.mjs, beside appender.mjs), or run from source through tsx.
  const bundled = import.meta.url.endsWith('.mjs')
  const appender = new URL(bundled ? './appender.mjs' : './appender.ts', import.meta.url).pathname
  const child = spawn(process.execPath, [...(bundled ? [] : ['--import=tsx']), appender, dir, backend], { stdio: ['ignore', 'pipe', 'inherit'] })
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve())
    child.once('exit', (code) => reject(new Error(`appender exited early (${code})`)))
  })
  await new Promise((r) => setTimeout(r, 20 + Math.random() * 100))
  const exited = new Promise((r) => child.once('exit', r))
  child.kill('SIGKILL')
  await exited
}
