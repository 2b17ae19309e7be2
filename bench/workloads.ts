/**
 * The workloads of SPEC §5 (W1–W6) as data: sizes for the full and the quick run, which subjects
 * each applies to, and how many records a prepared store holds. bench/worker.ts runs one of them
 * once; bench/run.ts runs them all and reports.
 */
import type { Codec, SubjectName } from './subjects.ts'

export type WorkloadId = 'W1' | 'W2' | 'W3' | 'W3m-1' | 'W3m-16' | 'W3m-256' | 'W3m-skew' | 'W4' | 'W4s' | 'W5-read' | 'W5-get' | 'W6'

export interface Workload {
  id: WorkloadId
  title: string
  subjects: SubjectName[]
  /** W4 and W4s run once per codec on each chainlog core ('zstd-dict': zstd with a trained dictionary). */
  codecs?: Array<Codec | 'zstd-dict'>
  /** Workloads that read or reopen an existing store need it written once per subject first. */
  prepared?: boolean
  /** Records (or for W6, bytes) at each scale. */
  full: number
  quick: number
  size: number
  batch: number
  /** Runs under --quick when fewer than --runs (keeps bench:quick under two minutes). */
  quickRuns?: number
  /** W3m: the streams the producers append to, and the share of appends that go to the first one (the rest spread evenly). */
  streams?: number
  hotShare?: number
  /** Subjects --quick runs (default: all; none: --quick skips the workload). */
  quickSubjects?: SubjectName[]
  note?: string
}

const CHAINLOG: SubjectName[] = ['native', 'js']

/** W3m: W3 spread over streams (uniformly, or skewed); --quick runs the 1- and 16-stream cases on the native core only (its two-minute budget). */
const W3M_STREAMS: Array<{ id: WorkloadId; streams: number; hotShare?: number; inQuick: boolean }> = [
  { id: 'W3m-1', streams: 1, inQuick: true },
  { id: 'W3m-16', streams: 16, inQuick: true },
  { id: 'W3m-256', streams: 256, inQuick: false },
  { id: 'W3m-skew', streams: 16, hotShare: 0.8, inQuick: false },
]
const FLOOR_NOTE = 'floor: the events copied into one buffer, the native core\'s encodeBatch and one write per batch, no engine (no queue, index, checkpoints, rotation or write-behind)'

export const WORKLOADS: Workload[] = [
  {
    id: 'W1', title: '256 B events, batches of 1000, sync never', size: 256, batch: 1000,
    subjects: [...CHAINLOG, 'native+tree', 'hypercore', 'level', 'floor', 'floor+tree', 'raw'], full: 1_000_000, quick: 100_000,
    quickSubjects: [...CHAINLOG, 'hypercore', 'level', 'floor', 'raw'],
    note: `hypercore never fsyncs: compared here, under sync never, only; ${FLOOR_NOTE}; +tree: the Merkle tree on (native: the store opened with tlog, so each batch extends the tree and each checkpoint carries a signed note; floor: each encode call extends the tree)`,
  },
  {
    id: 'W2', title: '256 B events, batches of 1000, sync always', size: 256, batch: 1000,
    subjects: [...CHAINLOG, 'level', 'floor', 'raw'], full: 1_000_000, quick: 100_000,
    note: 'level: classic-level batch with sync: true; floor and raw: fdatasync per batch',
  },
  {
    id: 'W3', title: '256 concurrent producers of single 256 B events, sync always', size: 256, batch: 1,
    subjects: [...CHAINLOG, 'level'], full: 100_000, quick: 20_000,
  },
  ...W3M_STREAMS.map(({ id, streams, hotShare, inQuick }): Workload => ({
    id, title: `256 producers of single 256 B events, sync always, over ${streams} stream${streams > 1 ? 's' : ''}${hotShare ? ` (${hotShare * 100}% to one)` : ''}`,
    size: 256, batch: 1, streams, hotShare, subjects: [...CHAINLOG, 'native+journal', 'js+journal', 'level'], quickSubjects: inQuick ? ['native', 'native+journal'] : [], full: 100_000, quick: 5_000,
    note: id === 'W3m-1' ? 'level: one classic-level database, a key prefix per stream, each put with sync: true; +journal: the store journal on (journal: true)' : undefined,
  })),
  {
    id: 'W4', title: '4 KiB JSON-like events, batches of 100, sync never, per codec', size: 4096, batch: 100,
    subjects: CHAINLOG, codecs: ['none', 'zstd', 'lz4'], full: 100_000, quick: 10_000,
  },
  {
    id: 'W4s', title: '256 B structured log events, batches of 1000, sync never, per codec', size: 256, batch: 1000,
    subjects: CHAINLOG, codecs: ['none', 'zstd', 'zstd-dict', 'lz4'], full: 1_000_000, quick: 20_000, quickRuns: 1,
    note: `size ratio: payload bytes / stored payload bytes of the measured records (the 66-byte record framing, at most 3.9× for 256 B events, is in the "on disk" ratio of the notes); each run first appends 10,000 events of the same kind (3,000 under --quick, which also runs W4s once), which zstd-dict trains its dictionary on (log.trainDictionary, 16 KiB), then times the measured records, all distinct events; the JS core does not write form 4 (ERR_UNSUPPORTED), so it has no zstd-dict figure`,
  },
  {
    id: 'W5-read', title: 'sequential read of the W1 stream (chainlog: chain verified from checkpoints)', size: 256, batch: 1000,
    subjects: [...CHAINLOG, 'hypercore', 'level', 'raw'], prepared: true, full: 1_000_000, quick: 100_000,
    note: 'raw: the segment bytes read with readSync in 64 KiB chunks, nothing parsed',
  },
  {
    id: 'W5-get', title: '100,000 random gets from the W1 stream, one at a time', size: 256, batch: 1000,
    subjects: [...CHAINLOG, 'hypercore', 'level'], prepared: true, full: 1_000_000, quick: 100_000,
    note: 'measured after a warm-up of a tenth as many gets; chainlog (verify checkpoint): the first get in a checkpoint interval verifies the interval (about 1000 records) and caches its hashes, later gets decode one record and check its hash against them',
  },
  {
    id: 'W6', title: 'reopen after kill -9 mid-append (bytes in the stream)', size: 4096, batch: 256,
    subjects: CHAINLOG, prepared: true, full: 1024 * 1024 * 1024, quick: 128 * 1024 * 1024,
  },
]

export const RANDOM_GETS = { full: 100_000, quick: 20_000 }
export const W3_PRODUCERS = 256

export function workload(id: string): Workload {
  const w = WORKLOADS.find((x) => x.id === id)
  if (!w) throw new Error(`unknown workload ${id}; known: ${WORKLOADS.map((x) => x.id).join(', ')}`)
  return w
}
