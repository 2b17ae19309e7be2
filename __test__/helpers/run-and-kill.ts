/**
 * The crash tests' one way to kill a child: run a TypeScript script in a child Node process that
 * prints one JSON line per acknowledged step, SIGKILL it at a chosen moment, and return the lines
 * it printed whole (the last one may have been cut by the kill: only whole lines count).
 */
import { spawn } from 'node:child_process'

export interface KillPlan {
  /** Path of the child's script (run with tsx). */
  script: string
  args: string[]
  /** The kill timer starts once this holds of everything the child printed so far. */
  armed: (out: string) => boolean
  /** Delay between arming and the SIGKILL. */
  killMs: number
  /** The child is killed after this long whatever happens (a hung child fails its test). Default 120 s. */
  guardMs?: number
  /** Extra environment (a child may SIGKILL itself at a step: see engine/redaction.ts). */
  env?: Record<string, string>
  /** true: a child that exits on its own (it finished before the kill) is a result, not an error. */
  mayExit?: boolean
}

export interface KilledRun {
  /** The whole JSON lines the child printed, parsed. */
  lines: Array<Record<string, unknown>>
  /** false when the child exited on its own (mayExit only). */
  killed: boolean
}

export function runAndKill(plan: KillPlan): Promise<KilledRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [`--import=${import.meta.resolve('tsx')}`, plan.script, ...plan.args], {
      stdio: ['ignore', 'pipe', 'pipe'], env: plan.env === undefined ? process.env : { ...process.env, ...plan.env },
    })
    let out = ''
    let err = ''
    let timer: NodeJS.Timeout | undefined
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      if (timer === undefined && plan.armed(out)) timer = setTimeout(() => child.kill('SIGKILL'), plan.killMs)
    })
    child.stderr.on('data', (d: Buffer) => (err += d.toString()))
    const guard = setTimeout(() => child.kill('SIGKILL'), plan.guardMs ?? 120_000)
    // 'close', not 'exit': it comes after the child's stdout has been read to its end.
    child.on('close', (code, signal) => {
      clearTimeout(guard)
      clearTimeout(timer)
      const killed = signal === 'SIGKILL'
      if (!killed && (plan.mayExit !== true || code !== 0)) return reject(new Error(`${plan.script} exited on its own (code ${code}, signal ${signal}): ${err}`))
      const lines = out.split('\n').slice(0, -1).map((l) => JSON.parse(l) as Record<string, unknown>)
      resolve({ lines, killed })
    })
  })
}
