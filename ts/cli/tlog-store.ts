/**
 * The store half of the tlog commands (SPEC §8): `checkpoint` signs and publishes a stream's tree
 * head; `prove` and `consistency` print C2SP tlog-proof text and tlog-witness add-checkpoint
 * bodies; `export-tiles` writes a static tlog-tiles log. Read commands open the store read-only.
 */
import { EXIT_OK, usageError } from './exit-codes.ts'
import { requireStream, withStore } from './store-dir.ts'

/** Signs a checkpoint of `stream` with the key file; prints the note. */
export async function checkpointCommand(dir: string, stream: string, o: { key: string; origin: string; stateFile?: string }): Promise<number> {
  const note = await withStore(dir, { tlog: { origin: o.origin, signer: o.key, ...(o.stateFile === undefined ? {} : { stateFile: o.stateFile }) } }, async (log) => {
    await requireStream(log, dir, stream)
    return (await log.checkpoint(stream)).note!
  })
  process.stdout.write(note)
  return EXIT_OK
}

/** Prints the tlog-proof of record `offset` (tree: the published note's, or --size). */
export async function proveCommand(dir: string, stream: string, offset: number, o: { size?: number }): Promise<number> {
  const text = await withStore(dir, { readOnly: true }, async (log) => {
    await requireStream(log, dir, stream)
    const p = await log.prove(stream, offset, o.size === undefined ? undefined : { treeSize: o.size })
    if (p.text === undefined) throw usageError(`no published note of tree size ${p.treeSize} for stream ${stream}: a tlog-proof ends in one (sign one with chainlog checkpoint)`)
    return p.text
  })
  process.stdout.write(text)
  return EXIT_OK
}

/** Prints the add-checkpoint body from `oldSize` to the published note (or `newSize`). */
export async function consistencyCommand(dir: string, stream: string, oldSize: number, newSize: number | undefined): Promise<number> {
  const text = await withStore(dir, { readOnly: true }, async (log) => {
    await requireStream(log, dir, stream)
    const c = await log.consistency(stream, oldSize, newSize)
    if (c.text === undefined) throw usageError(`no published note of tree size ${c.newSize} for stream ${stream}: an add-checkpoint body ends in one`)
    return c.text
  })
  process.stdout.write(text)
  return EXIT_OK
}

/** Writes the static tlog-tiles log of `stream` to `out`. */
export async function exportTilesCommand(dir: string, stream: string, out: string): Promise<number> {
  await withStore(dir, { readOnly: true }, async (log) => {
    await requireStream(log, dir, stream)
    await log.exportTiles(stream, out)
  })
  process.stdout.write(`exported ${stream} to ${out}\n`)
  return EXIT_OK
}
