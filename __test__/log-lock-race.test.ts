import test from 'ava'
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { BACKENDS } from './helpers/cores.ts'
import { tempDir } from './helpers/log-dir.ts'
import { Log } from '../ts/index.ts'
import type { BackendName } from '../ts/core/interface.ts'

const RACER = fileURLToPath(new URL('./helpers/lock-racer.ts', import.meta.url))
const RACERS = 6
const TRIALS = 3

/** Starts a racer; `line(n)` resolves with its n-th line of output (or '' if it exits first). */
function racer(dir: string, backend: BackendName) {
  const child = spawn(process.execPath, ['--import=tsx', RACER, dir, backend], { stdio: ['pipe', 'pipe', 'inherit'] })
  let out = ''
  const waiters: (() => void)[] = []
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString()
    for (const w of waiters.splice(0)) w()
  })
  child.on('exit', () => {
    for (const w of waiters.splice(0)) w()
  })
  const line = (n: number) =>
    new Promise<string>((resolve) => {
      const check = () => {
        const lines = out.split('\n')
        if (lines.length > n + 1) resolve(lines[n])
        else if (child.exitCode !== null || child.signalCode !== null) resolve('')
        else waiters.push(check)
      }
      check()
    })
  const exited = new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : child.on('exit', () => resolve())))
  return { child, line, exited }
}

for (const backend of BACKENDS) {
  test(`${backend}: processes racing to take over a stale lock (dead owner, empty or half-written file): exactly one holds it`, async (t) => {
    t.timeout(240_000)
    const stale = ['{"pid":999999,"start":null}\n', '', '{"pid":']
    for (let trial = 0; trial < TRIALS; trial++) {
      const dir = tempDir(t)
      const first = await Log.open(dir, { backend })
      await first.close()
      writeFileSync(`${dir}/LOCK`, stale[trial % stale.length])
      const racers = Array.from({ length: RACERS }, () => racer(dir, backend))
      try {
        t.deepEqual(await Promise.all(racers.map((r) => r.line(0))), racers.map(() => 'ready'))
        for (const r of racers) r.child.stdin.write('go\n')
        // Every racer answers while the winner still holds the lock (none has closed yet).
        const results = await Promise.all(racers.map((r) => r.line(1)))
        t.is(results.filter((r) => r === 'got').length, 1, `trial ${trial}: ${results.join(', ')}`)
        t.is(results.filter((r) => r === 'error ERR_LOCKED').length, RACERS - 1, `trial ${trial}: ${results.join(', ')}`)
      } finally {
        for (const r of racers) r.child.stdin.end()
        await Promise.all(racers.map((r) => r.exited))
      }
    }
  })
}
