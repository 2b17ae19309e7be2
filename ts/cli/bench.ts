/**
 * `chainlog bench`: the quick benchmark (`npm run bench -- --quick`, bench/run.ts). It runs from a
 * source checkout only: the published package ships no bench/ and none of the peers it compares
 * against, so from an installed package this says where to run it instead (exit 2).
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { CliFailure, EXIT_USAGE } from './exit-codes.ts'
import { packageRoot } from './package-root.ts'

const BENCH_ELSEWHERE =
  'chainlog bench runs from a source checkout of chainlog, not from the installed package (which ships no benchmark):\n' +
  '  git clone <the chainlog repository> && cd chainlog && npm ci && npm run bench -- --quick\n' +
  '(or `npx chainlog bench` inside that checkout after `npm run build`).'

export async function benchCommand(opts: { full?: boolean; only?: string; dryRun?: boolean }): Promise<number> {
  const { dir } = packageRoot()
  const script = join(dir, 'bench', 'run.ts')
  let tsx: string | undefined
  try {
    tsx = createRequire(join(dir, 'package.json')).resolve('tsx')
  } catch {
    tsx = undefined
  }
  if (!existsSync(script) || tsx === undefined) throw new CliFailure(BENCH_ELSEWHERE, EXIT_USAGE)
  const args = ['--import=tsx', script, ...(opts.full ? [] : ['--quick']), ...(opts.only ? ['--only', opts.only] : [])]
  if (opts.dryRun) {
    process.stdout.write(`would run in ${dir}: node ${args.join(' ')}\n`)
    return 0
  }
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: dir, stdio: 'inherit' })
    child.on('error', reject)
    child.on('close', (code) => resolve(code ?? 1))
  })
}
