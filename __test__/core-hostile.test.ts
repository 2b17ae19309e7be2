import test from 'ava'
import { spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { BACKENDS } from './helpers/cores.ts'

// A caller that means harm (or a careless one): buffers detached, shrunk, transferred or written
// while the core works, shared memory written by another thread, getters that change one argument
// while another is read, forged handles, wrong types. Every probe runs in a process of its own,
// so a crash (SIGSEGV, an abort on a panic) fails its test instead of killing ava.
const HELPERS = join(dirname(fileURLToPath(import.meta.url)), 'helpers')

function run(args: string[]): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (out += d))
    child.on('close', (code, signal) => resolve({ code, signal, out }))
  })
}

// The raw binding (the addon the loader finds), called as no wrapper would call it.
const RAW_PROBES = {
  'async-writes': 'writes into the input while the pool thread decodes or scans leave the result the bytes of the call',
  'async-resize': 'a resizable ArrayBuffer shrunk to nothing after an async call leaves its result whole',
  'async-transfer': 'an input transferred away and collected during an async call leaves its result whole',
  shared: 'every byte argument over a SharedArrayBuffer, input or output, is ERR_INVALID_ARGUMENT naming it',
  'worker-race': 'a Worker rewriting encodeInto\'s lengths is refused up front, never a panic',
  'wrong-types': 'wrong types and values, and forged decoders, are ERR_INVALID_ARGUMENT naming the argument',
  'error-fields': 'errors carry code, position and offset as properties, not text',
  'encode-no-partial-write': 'encodeInto writes nothing when an output has the wrong size',
}

for (const [probe, title] of Object.entries(RAW_PROBES)) {
  test(`raw binding: ${title}`, async (t) => {
    const r = await run(['--expose-gc', join(HELPERS, 'hostile-probe.mjs'), probe])
    t.is(r.signal, null, `the probe process died of ${r.signal}:\n${r.out}`)
    t.is(r.code, 0, r.out)
    t.regex(r.out, new RegExp(`^ok ${probe}$`, 'm'))
  })
}

// The cores through their ChainlogCore wrappers: the native one must hold up, and the JS one
// must refuse the same inputs as cleanly.
const CORE_PROBES = {
  getters: 'a getter on a later input field that shrinks or detaches an earlier buffer gives a result or a ChainlogError',
  shared: 'inputs over a SharedArrayBuffer are ERR_INVALID_ARGUMENT naming the argument',
  'decode-count': 'a decode result is one decode\'s, however often its input\'s positions getter changes',
  'error-details': 'a damaged record\'s ChainlogError carries its position and offset in details',
  'own-memory': 'decodeOne\'s record is no view of Node\'s shared Buffer pool',
}

for (const backend of BACKENDS) {
  for (const [probe, title] of Object.entries(CORE_PROBES)) {
    test(`${backend}: ${title}`, async (t) => {
      const r = await run(['--import=tsx', '--expose-gc', join(HELPERS, 'hostile-core-probe.ts'), backend, probe])
      t.is(r.signal, null, `the probe process died of ${r.signal}:\n${r.out}`)
      t.is(r.code, 0, r.out)
      t.regex(r.out, new RegExp(`^ok ${probe}$`, 'm'))
    })
  }
}
