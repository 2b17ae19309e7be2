/**
 * Creating a stream's directory under one store-wide creation lock (SPEC §2): the new name is
 * checked against the case-folded names in the store directory, and no other creation runs
 * between that check and the mkdir. The writer's LOCK keeps other processes out; this chain
 * keeps the streams of this process from racing each other.
 */
import { dirname, basename } from 'node:path'
import { ChainlogError } from '../errors.ts'
import { ioError } from '../storage/durable.ts'
import type { StorageEntry } from '../storage/storage.ts'
import { newStreamNameProblem } from '../storage/stream-name.ts'
import type { StoreContext } from './store-context.ts'

const creations = new WeakMap<StoreContext, Promise<unknown>>()

/** Makes the directory `dir` of the new stream `name`, or ERR_INVALID_ARGUMENT when the name clashes. */
export function createStreamDirectory(ctx: StoreContext, name: string, dir: string): Promise<void> {
  const run = (creations.get(ctx) ?? Promise.resolve()).then(() => checkAndMake(ctx, name, dir))
  creations.set(ctx, run.catch(() => {}))
  return run
}

async function checkAndMake(ctx: StoreContext, name: string, dir: string): Promise<void> {
  const root = dirname(dir)
  let entries: StorageEntry[]
  try {
    entries = (await ctx.storage.list(root)) ?? []
  } catch (err) {
    throw ioError(err, `cannot list the store directory ${root}`)
  }
  // Its own directory may exist already (a first append that failed after the mkdir).
  if (!entries.some((e) => e.isDirectory && e.name === basename(dir))) {
    const problem = newStreamNameProblem(name, entries.map((e) => e.name))
    if (problem !== null) throw new ChainlogError('ERR_INVALID_ARGUMENT', `stream: cannot create ${JSON.stringify(name)}: ${problem}`, { stream: name })
  }
  await ctx.storage.makeDir(dir)
}
