/**
 * The README's bound on open-time recovery: after a crash, open scans the active segment from its
 * last indexed record, and that tail is never over 64 MiB, whatever the calling pattern (issue
 * #18 item 4). The pattern that broke it: a bulk import, a tight loop of awaited appends with
 * sync 'never', which never let the background index save run (a 118 MB active segment without
 * an .idx). Here exactly that loop runs in a child process killed with SIGKILL; what open has to
 * scan is read from the disk as open reads it: the segment's size less the position of the last
 * record its .idx (checked like open checks it) lists.
 */
import test from 'ava'
import { spawn } from 'node:child_process'
import { statSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { crc32 } from 'node:zlib'
import { BACKENDS } from './helpers/cores.ts'
import { openLog, segmentFile, segmentNumbers, tempDir } from './helpers/log-dir.ts'
import { loadIndex } from '../ts/storage/offset-index.ts'
import { diskStorage } from '../ts/storage/disk-storage.ts'
import type { BackendName } from '../ts/core/interface.ts'

const WRITER = fileURLToPath(new URL('./helpers/bulk-import-writer.ts', import.meta.url))
/** The README's bound. */
const TAIL_MAX_BYTES = 64 * 1024 * 1024
/** Written before the kill: well past the bound, within one 256 MiB segment. */
const IMPORT_BYTES = 160 * 1024 * 1024

function importAndKill(dir: string, backend: BackendName): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import=tsx', WRITER, dir, backend, String(IMPORT_BYTES)], { stdio: ['ignore', 'pipe', 'pipe'] })
    let err = ''
    child.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) child.kill('SIGKILL')
    })
    child.stderr.on('data', (d: Buffer) => (err += d.toString()))
    const guard = setTimeout(() => child.kill('SIGKILL'), 120_000)
    child.on('exit', (code, signal) => {
      clearTimeout(guard)
      if (signal !== 'SIGKILL') reject(new Error(`the import exited on its own (code ${code}): ${err}`))
      else resolve()
    })
  })
}

for (const backend of BACKENDS) {
  test(`${backend}: a bulk import in a tight append loop with sync 'never', killed, leaves at most 64 MiB for open to scan`, async (t) => {
    const dir = tempDir(t, 'tail-bound')
    await importAndKill(dir, backend)
    const nums = segmentNumbers(dir, 'import')
    const active = nums[nums.length - 1]
    const path = segmentFile(dir, 'import', active)
    const size = statSync(path).size
    t.true(size > IMPORT_BYTES, `the active segment holds the import (${size} bytes)`)
    const loaded = await loadIndex(diskStorage(16), `${path}.idx`, size, (d) => crc32(d))
    const from = loaded?.ok === true && loaded.positions.length > 0 ? loaded.positions.last() : 0
    const tail = size - from
    t.log(`active segment ${size} bytes, .idx covers up to ${from}: open scans ${tail} bytes`)
    t.true(tail <= TAIL_MAX_BYTES, `open scans ${tail} bytes, over ${TAIL_MAX_BYTES}`)

    const log = await openLog(t, backend, dir)
    const head = await log.head('import')
    t.true(head.nextOffset * 256 >= IMPORT_BYTES, 'the import is there after the kill')
    t.deepEqual(log.recovered.filter((e) => e.action === 'corrupt'), [])
  })
}
