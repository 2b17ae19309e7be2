/**
 * A real S3 server for the archive tests: versitygw (github.com/versity/versitygw, Apache-2.0),
 * built once per machine by scripts/install-versitygw.mjs and started here on 127.0.0.1 over a
 * temporary directory, one server per test file. Where `go` is missing, versitygwUnavailable()
 * says why and the archive tests skip with that reason in their titles. No ava here: benches
 * (plain node processes, which ava refuses to be imported in) start their server from this file.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs'
import { createServer, connect } from 'node:net'
import { setPriority, tmpdir } from 'node:os'
import { join } from 'node:path'
import { ROOT } from './dist.ts'

const ACCESS_KEY = 'chainlogtest'
const SECRET_KEY = 'chainlogtestsecret'

let built: { binary: string } | { why: string } | undefined

/** Builds (once) or finds the versitygw binary. */
function install(): { binary: string } | { why: string } {
  if (built !== undefined) return built
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'install-versitygw.mjs')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 1_800_000 })
  if (r.status === 0) built = { binary: r.stdout.trim().split('\n').pop()! }
  else if (r.status === 2) built = { why: 'the `go` command is not on PATH, so versitygw cannot be built; install Go ≥ 1.26 to run the archive tests' }
  else throw new Error(`scripts/install-versitygw.mjs failed (exit ${r.status}${r.error ? `, ${r.error.message}` : ''})`)
  return built
}

/** Why the archive tests cannot run here, or null when they can. */
export function versitygwUnavailable(): string | null {
  const r = install()
  return 'why' in r ? r.why : null
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
  })
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(port, '127.0.0.1')
    c.once('connect', () => {
      c.destroy()
      resolve(true)
    })
    c.once('error', () => resolve(false))
  })
}

/** A running versitygw: its endpoint, its data directory (one folder per bucket) and how to stop or restart it. */
export class Versitygw {
  private child: ChildProcess | null = null

  private constructor(
    private readonly binary: string,
    readonly dataDir: string,
    readonly port: number,
  ) {}

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`
  }

  /** The S3 client settings for this server (path-style, static credentials). */
  get client(): { endpoint: string; region: string; forcePathStyle: boolean; credentials: { accessKeyId: string; secretAccessKey: string } } {
    return { endpoint: this.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY } }
  }

  /** Starts a server over a fresh temp directory under `root` (default the OS temp dir); stop() it when done (test.after.always). */
  static async start(root = tmpdir()): Promise<Versitygw> {
    const r = install()
    if (!('binary' in r)) throw new Error(r.why)
    const dataDir = mkdtempSync(join(root, 'chainlog-s3-'))
    const gw = new Versitygw(r.binary, dataDir, await freePort())
    await gw.restart()
    return gw
  }

  /** Makes a bucket: with the posix backend a bucket is a directory of the data directory. */
  bucket(name: string): string {
    mkdirSync(join(this.dataDir, name), { recursive: true })
    return name
  }

  /** (Re)starts the server process on the same port and data directory and waits until it accepts connections. */
  async restart(): Promise<void> {
    if (this.child !== null) return
    // The server's output goes to a file, not a pipe: a pipe fills while this process blocks (a
    // spawnSync of the CLI), and the server then stalls writing its log with requests unanswered.
    const out = openSync(this.logFile, 'w')
    let child: ChildProcess
    try {
      child = spawn(this.binary, ['--access', ACCESS_KEY, '--secret', SECRET_KEY, '--port', `127.0.0.1:${this.port}`, 'posix', this.dataDir], { stdio: ['ignore', out, out] })
    } finally {
      closeSync(out)
    }
    this.child = child
    const deadline = Date.now() + 30_000
    while (!(await accepts(this.port))) {
      if (child.exitCode !== null) {
        this.child = null
        throw new Error(`versitygw exited (code ${child.exitCode}) before accepting connections:\n${this.output()}`)
      }
      if (Date.now() > deadline) throw new Error(`versitygw did not accept connections on 127.0.0.1:${this.port} within 30 s:\n${this.output()}`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }

  /** The server's log file, beside its data directory (not in it: every folder there is a bucket). */
  private get logFile(): string {
    return `${this.dataDir}.log`
  }

  private output(): string {
    try {
      return readFileSync(this.logFile, 'utf8')
    } catch {
      return '(no output)'
    }
  }

  /** CPU seconds (user + system) the server process has used so far, from /proc (Linux; null elsewhere). */
  cpuSeconds(): number | null {
    const pid = this.child?.pid
    if (pid === undefined) return null
    try {
      // Fields after the ")" that ends the command name: utime and stime are the 12th and 13th, in clock ticks (100 Hz).
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
      return (Number(fields[11]) + Number(fields[12])) / 100
    } catch {
      return null
    }
  }

  /** Sets the server process's scheduling priority (a nice value, -20..19): a bench lowers it so the server yields the CPU to the appends. */
  nice(priority: number): void {
    if (this.child?.pid !== undefined) setPriority(this.child.pid, priority)
  }

  /** Stops the server process (the data directory stays, for restart()). */
  async stopServer(): Promise<void> {
    const child = this.child
    this.child = null
    if (child === null || child.exitCode !== null) return
    const exited = new Promise((r) => child.once('exit', r))
    child.kill('SIGKILL')
    await exited
  }

  /** Stops the server and removes its data directory. */
  async stop(): Promise<void> {
    await this.stopServer()
    rmSync(this.dataDir, { recursive: true, force: true })
    rmSync(this.logFile, { force: true })
  }
}

