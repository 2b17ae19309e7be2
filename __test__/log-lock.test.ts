import test from 'ava'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { BACKENDS } from './helpers/cores.ts'
import { codeOf, openLog, tempDir, texts } from './helpers/log-dir.ts'
import { Log } from '../ts/index.ts'
import type { BackendName } from '../ts/core/interface.ts'

const HOLDER = fileURLToPath(new URL('./helpers/lock-holder.ts', import.meta.url))

/** Starts a child holding the store; resolves with its first line of output and the child. */
function holder(dir: string, backend: BackendName) {
  const child = spawn(process.execPath, ['--import=tsx', HOLDER, dir, backend], { stdio: ['pipe', 'pipe', 'inherit'] })
  const firstLine = new Promise<string>((resolve) => {
    let out = ''
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      if (out.includes('\n')) resolve(out.split('\n')[0])
    })
    child.on('exit', () => resolve(out.split('\n')[0]))
  })
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()))
  return { child, firstLine, exited }
}

/** A pid that belonged to a process which has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' })
  return Number(r.stdout)
}

for (const backend of BACKENDS) {
  test(`${backend}: a second process opening the store for writing gets ERR_LOCKED`, async (t) => {
    const dir = tempDir(t)
    const h = holder(dir, backend)
    t.teardown(() => h.child.kill('SIGKILL'))
    t.is(await h.firstLine, 'ready')
    const err = await t.throwsAsync(Log.open(dir, { backend }))
    t.is(codeOf(err), 'ERR_LOCKED')
    t.regex(err!.message, new RegExp(`pid ${h.child.pid}`))
    // A reader needs no lock.
    const ro = await Log.open(dir, { backend, readOnly: true })
    await ro.close()
    h.child.stdin!.end()
    await h.exited
    t.false(existsSync(`${dir}/LOCK`), 'close() released the lock')
    const log = await openLog(t, backend, dir)
    await log.append('s', 'mine now')
  })

  test(`${backend}: the store is locked against a second Log in the same process until close()`, async (t) => {
    const dir = tempDir(t)
    const a = await Log.open(dir, { backend })
    t.is(codeOf(await t.throwsAsync(Log.open(dir, { backend }))), 'ERR_LOCKED')
    await a.close()
    const b = await openLog(t, backend, dir)
    await b.append('s', 'x')
  })

  test(`${backend}: a child that holds the lock blocks this process, then a killed child's lock is taken over`, async (t) => {
    const dir = tempDir(t)
    const h = holder(dir, backend)
    t.is(await h.firstLine, 'ready')
    t.is(codeOf(await t.throwsAsync(Log.open(dir, { backend }))), 'ERR_LOCKED')
    h.child.kill('SIGKILL')
    await h.exited
    t.true(existsSync(`${dir}/LOCK`), 'a killed process leaves its lock behind')
    const log = await openLog(t, backend, dir)
    await log.append('s', 'after takeover')
    t.deepEqual(texts(await log.read('s')), ['after takeover'])
    t.is(JSON.parse(readFileSync(`${dir}/LOCK`, 'utf8')).pid, process.pid)
  })

  test(`${backend}: a lock left by a dead pid (plain or JSON) or an unreadable lock file is taken over`, async (t) => {
    for (const content of [`${deadPid()}\n`, JSON.stringify({ pid: deadPid(), start: '1' }), 'garbage', '']) {
      const dir = tempDir(t)
      const first = await Log.open(dir, { backend })
      await first.close()
      writeFileSync(`${dir}/LOCK`, content)
      const log = await Log.open(dir, { backend })
      await log.append('s', 'ok')
      await log.close()
      t.false(existsSync(`${dir}/LOCK`))
    }
  })

  test(`${backend}: a lock held by a live pid whose start time differs (a recycled pid) is taken over`, async (t) => {
    if (process.platform !== 'linux') return t.pass('start times are read from /proc on Linux only')
    const dir = tempDir(t)
    const first = await Log.open(dir, { backend })
    await first.close()
    writeFileSync(`${dir}/LOCK`, JSON.stringify({ pid: process.pid, start: 'not-our-start-time' }))
    const log = await openLog(t, backend, dir)
    await log.append('s', 'ok')
    t.is(JSON.parse(readFileSync(`${dir}/LOCK`, 'utf8')).pid, process.pid)
  })

  test(`${backend}: a readOnly open takes no lock and writes nothing`, async (t) => {
    const dir = tempDir(t)
    const w = await Log.open(dir, { backend })
    await w.append('s', 'x')
    await w.close()
    const { readdirSync, statSync } = await import('node:fs')
    const before = readdirSync(`${dir}/s`).map((n) => [n, statSync(`${dir}/s/${n}`).mtimeMs])
    const ro = await Log.open(dir, { backend, readOnly: true })
    t.false(existsSync(`${dir}/LOCK`))
    await ro.read('s')
    await ro.verify()
    await ro.close()
    t.deepEqual(readdirSync(`${dir}/s`).map((n) => [n, statSync(`${dir}/s/${n}`).mtimeMs]), before)
    t.false(existsSync(`${dir}/LOCK`))
  })
}
