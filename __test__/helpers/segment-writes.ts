/**
 * Counts and fails the engine's segment writes, whichever way they go: ts/storage/segment-file.ts writeFully
 * writes small groups with fs.writeSync on the handle's fd and large ones with FileHandle.write,
 * so both are intercepted alike. Restored at the test's teardown; tests using it run serially.
 */
import fs, { promises as fsp } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'
import { join } from 'node:path'

type AnyFn = (...args: unknown[]) => unknown

export interface SegmentWrites {
  /** Write calls so far (either path). */
  readonly count: number
  /** Makes the next write fail with `code`; with `half`, half of its bytes reach the file first. */
  failNext(code: string, opts?: { half?: boolean }): void
}

export function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: injected`), { code })
}

export async function interceptSegmentWrites(t: { teardown(fn: () => void): void }, dir: string): Promise<SegmentWrites> {
  const h = await fsp.open(join(dir, 'probe'), 'w')
  const proto = Object.getPrototypeOf(h) as FileHandle
  await h.close()
  const write = proto.write as unknown as AnyFn
  const writeSync = fs.writeSync as unknown as AnyFn
  let count = 0
  let fault: { code: string; half: boolean } | null = null
  const take = () => {
    count++
    const f = fault
    fault = null
    return f
  }
  proto.write = async function (this: FileHandle, ...args: unknown[]) {
    const f = take()
    if (f === null) return write.apply(this, args)
    const [buf, offset, length, position] = args as [Buffer, number, number, number]
    if (f.half) await write.call(this, buf, offset, Math.floor(length / 2), position)
    throw errno(f.code)
  } as unknown as FileHandle['write']
  fs.writeSync = ((...args: unknown[]) => {
    const f = take()
    if (f === null) return writeSync(...args)
    const [fd, buf, offset, length, position] = args as [number, Buffer, number, number, number]
    if (f.half) writeSync(fd, buf, offset, Math.floor(length / 2), position)
    throw errno(f.code)
  }) as typeof fs.writeSync
  t.teardown(() => {
    proto.write = write as unknown as FileHandle['write']
    fs.writeSync = writeSync as typeof fs.writeSync
  })
  return {
    get count() {
      return count
    },
    failNext(code, opts) {
      fault = { code, half: opts?.half ?? false }
    },
  }
}
