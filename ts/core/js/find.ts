/** findValidRecord (docs/scan-rules.md §3): the next position where a valid record starts. */
import type { FindValidRecordResult } from '../interface.ts'
import { RECORD_START } from '../format.ts'
import { checkFrame, FRAME_VALID } from './frame.ts'

const START_BYTE = RECORD_START & 0xff

/**
 * Searches d[from..len) (d a Buffer over the caller's data; positions reported as base + j).
 * Only a 0xFE byte can begin anything but an invalid candidate, so the search jumps between them.
 */
export function findValid(d: Buffer, from: number, len: number, base: number, final: boolean): FindValidRecordResult {
  let j = from
  while (j < len) {
    j = d.indexOf(START_BYTE, j)
    if (j < 0 || j >= len) break
    const check = checkFrame(d, j, len)
    if (check === FRAME_VALID) return { state: 'found', position: base + j, needBytes: 0 }
    if (check > 0 && !final) return { state: 'more', position: base + j, needBytes: check }
    j++
  }
  return { state: 'none', position: base + len, needBytes: 0 }
}
