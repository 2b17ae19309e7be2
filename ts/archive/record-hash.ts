/** The chain hash of one local record, recomputed from its bytes (the archiver's resume check). */
import { ChainlogError } from '../errors.ts'
import type { Stream } from '../engine/stream.ts'
import { MAX_PAYLOAD_BYTES } from '../core/format.ts'

export async function recordHashAt(s: Stream, offset: number): Promise<Buffer> {
  const at = await s.locate(offset)
  if (at === null) throw new ChainlogError('ERR_CORRUPT', `stream ${s.name}: offset ${offset} cannot be located in the local store`, { stream: s.name, offset })
  const data = await s.readSegment(at.segment, at.position, at.end - at.position)
  const r = s.core.decodeOne({ hash: s.hash, stream: s.name, data, basePosition: at.position, position: at.position, expectPrevHash: null, maxPayloadBytes: MAX_PAYLOAD_BYTES })
  return r.hash
}
