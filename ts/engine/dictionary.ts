/**
 * A stream's zstd dictionaries (SPEC §2, form 4): loaded into the core when the stream opens
 * (before recovery, which may decode form-4 records), checked against the hashes its
 * dictionaries.json records, trained and stored by log.trainDictionary, unloaded at close.
 *
 * A dictionary file that is missing, of the wrong size or hash, or that the core refuses is not
 * loaded: records that need it read as ERR_CORRUPT (the core names the dictionary), verify()
 * lists it, and new records are compressed without a dictionary (form 2) rather than with one
 * that may be lost. The file is durable, and listed, before any record uses it.
 */
import { ChainlogError } from '../errors.ts'
import { type DictionaryEntry, dictionaryFileName, readDictionaryFile, readDictionaryList, saveDictionary } from '../storage/dictionary-files.ts'
import type { StoreContext } from './store-context.ts'

/** Dictionary size trainDictionary aims for: measured best for 256-byte JSON events (docs/perf-notes.md). */
export const DEFAULT_DICTIONARY_BYTES = 16 * 1024
/** Records of the stream trainDictionary samples when it is given no samples. */
export const DEFAULT_SAMPLE_RECORDS = 10_000

export class StreamDictionaries {
  /** IDs this stream loaded into the core (each once), unloaded by release(). */
  private loaded: number[] = []
  private entries: DictionaryEntry[] = []
  /** The dictionary new records compress with; 0 for none. */
  current = 0
  /** Damage found at open. */
  problems: string[] = []
  /** trainDictionary calls of this stream, one at a time (each rewrites the list). */
  private saving: Promise<unknown> = Promise.resolve()

  static none(): StreamDictionaries {
    return new StreamDictionaries()
  }

  /** Loads the stream's listed dictionaries; what cannot be loaded becomes a problem, not an error. */
  static async open(ctx: StoreContext, streamDir: string): Promise<StreamDictionaries> {
    const d = new StreamDictionaries()
    d.problems = await d.loadAll(ctx, streamDir)
    return d
  }

  private async loadAll(ctx: StoreContext, streamDir: string): Promise<string[]> {
    const read = await readDictionaryList(ctx.storage, streamDir)
    if (read.problem !== null) return [read.problem]
    this.entries = read.list
    const problems: string[] = []
    for (const entry of read.list) {
      const problem = await checkedLoad(ctx, streamDir, entry, (id) => this.loaded.push(id))
      if (problem !== null) problems.push(problem)
    }
    const last = read.list.at(-1)
    this.current = last !== undefined && this.loaded.includes(last.id) ? last.id : 0
    return problems
  }

  /** Stores a trained dictionary durably, loads it, and makes it the one new records use. */
  add(ctx: StoreContext, streamDir: string, bytes: Buffer): Promise<DictionaryEntry> {
    const run = this.saving.then(async () => {
      const id = ctx.core.loadDictionary(bytes)
      try {
        const entry: DictionaryEntry = { id, file: dictionaryFileName(id), bytes: bytes.length, hash: ctx.core.commitment(ctx.hash, bytes).toString('hex') }
        await saveDictionary(ctx.storage, streamDir, this.entries, entry, bytes)
        this.entries = [...this.entries.filter((e) => e.id !== id), entry]
        if (this.loaded.includes(id)) ctx.core.unloadDictionary(id)
        else this.loaded.push(id)
        this.current = id
        return entry
      } catch (err) {
        ctx.core.unloadDictionary(id)
        throw err
      }
    })
    this.saving = run.catch(() => {})
    return run
  }

  /** Unloads what this stream loaded (at close); safe to call twice. */
  release(ctx: StoreContext): void {
    for (const id of this.loaded) ctx.core.unloadDictionary(id)
    this.loaded = []
    this.current = 0
  }
}

/** Loads one listed dictionary after checking its file; the problem when it cannot be. */
async function checkedLoad(ctx: StoreContext, streamDir: string, entry: DictionaryEntry, loaded: (id: number) => void): Promise<string | null> {
  const problem = await checkFile(ctx, streamDir, entry)
  if (typeof problem === 'string') return problem
  try {
    const id = ctx.core.loadDictionary(problem)
    if (id !== entry.id) {
      ctx.core.unloadDictionary(id)
      return `${entry.file} holds dictionary ${id}, not ${entry.id}`
    }
    loaded(id)
    return null
  } catch (err) {
    if (err instanceof ChainlogError) return `${entry.file}: ${err.message}`
    throw err
  }
}

/** The file's bytes when they match the list, else what is wrong with them. */
async function checkFile(ctx: StoreContext, streamDir: string, entry: DictionaryEntry): Promise<Buffer | string> {
  const { bytes, problem } = await readDictionaryFile(ctx.storage, streamDir, entry)
  if (bytes === null) return `zstd dictionary ${entry.id}: ${problem}`
  const hash = ctx.core.commitment(ctx.hash, bytes).toString('hex')
  if (hash !== entry.hash) return `zstd dictionary ${entry.id}: ${entry.file} is damaged (its hash is ${hash}, ${entry.hash} was recorded)`
  return bytes
}

/** What verify() reports about a stream's dictionaries, read from disk now. */
export async function dictionaryProblems(ctx: StoreContext, streamDir: string): Promise<string[]> {
  const read = await readDictionaryList(ctx.storage, streamDir)
  if (read.problem !== null) return [read.problem]
  const problems: string[] = []
  for (const entry of read.list) {
    const checked = await checkFile(ctx, streamDir, entry)
    if (typeof checked === 'string') problems.push(checked)
  }
  return problems
}

/** Sample events end to end, as the core's trainer takes them. */
export function trainingSamples(events: ReadonlyArray<Uint8Array | string>): { bytes: Buffer; lengths: Uint32Array } {
  const parts = events.map((e) => (typeof e === 'string' ? Buffer.from(e) : e))
  return { bytes: Buffer.concat(parts), lengths: Uint32Array.from(parts, (p) => p.length) }
}
