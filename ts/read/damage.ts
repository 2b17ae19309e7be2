/** The error a reader gives where it reaches a stream's damage (found at open). */
import { ChainlogError } from '../errors.ts'
import type { Stream } from '../engine/stream.ts'
import { segmentFileName } from '../storage/segment-file.ts'

/** ERR_CORRUPT for a reader that reached a stream's damage. */
export function damageError(s: Stream): ChainlogError {
  const c = s.corrupt!
  return new ChainlogError(c.code, `stream ${s.name}: the record at offset ${c.offset} (${segmentFileName(c.segment)}, position ${c.position}) is damaged: ${c.reason}`, {
    stream: s.name, offset: c.offset, position: c.position,
  })
}
