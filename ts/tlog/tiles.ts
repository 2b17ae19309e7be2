/**
 * C2SP tlog-tiles: tile paths and tile contents. A tile at level L holds up to 256 hashes of tree
 * level 8L; hash i of tile N is the node (8L, N·256 + i). Tree levels between multiples of 8 are
 * not stored: they are folded from the tile below (nodeFromTiles).
 *
 *   tile/<L>/<N>[.p/<W>]        Merkle tree tiles (full: 256 hashes = 8192 bytes; partial: W)
 *   tile/entries/<N>[.p/<W>]    entry bundles: u16 BE length ‖ entry, per leaf
 *
 * <N> is written in 3-digit groups, all but the last prefixed with x: 1234067 → x001/x234/067.
 */
import { ChainlogError } from '../errors.ts'
import { checkSize, completeNodes, HASH_SIZE, hashChildren, type ReadNode } from './merkle.ts'

const TILE_HEIGHT = 8
const TILE_WIDTH = 256
/** Tile levels 0..63 (C2SP); a safe-integer tree never needs more than 7. */
const MAX_TILE_LEVEL = 63

/** A tile: `level` is the tile level (tree level 8·level); `width` is 1..256 (256 = full). */
export interface TileId {
  /** Tile level (tree level 8·level). */
  level: number
  /** Tile index within its level. */
  index: number
  /** Hashes in the tile, 1..256 (256 = full). */
  width: number
}

const invalid = (message: string) => new ChainlogError('ERR_INVALID_ARGUMENT', message)

function indexPath(n: number): string {
  let s = String(n % 1000).padStart(3, '0')
  for (n = Math.floor(n / 1000); n > 0; n = Math.floor(n / 1000)) s = `x${String(n % 1000).padStart(3, '0')}/${s}`
  return s
}

function checkWidth(width: number): number {
  if (!Number.isInteger(width) || width < 1 || width > TILE_WIDTH) throw invalid(`tile width: expected 1..${TILE_WIDTH}, found ${String(width)}`)
  return width
}

/** `tile/<L>/<N>[.p/<W>]` for a Merkle tree tile. */
export function tilePath(tile: TileId): string {
  if (!Number.isInteger(tile.level) || tile.level < 0 || tile.level > MAX_TILE_LEVEL) throw invalid(`tile level: expected 0..${MAX_TILE_LEVEL}, found ${String(tile.level)}`)
  checkSize('tile index', tile.index)
  const w = checkWidth(tile.width)
  return `tile/${tile.level}/${indexPath(tile.index)}${w === TILE_WIDTH ? '' : `.p/${w}`}`
}

/** `tile/entries/<N>[.p/<W>]` for an entry bundle. */
export function entriesPath(index: number, width = TILE_WIDTH): string {
  checkSize('bundle index', index)
  const w = checkWidth(width)
  return `tile/entries/${indexPath(index)}${w === TILE_WIDTH ? '' : `.p/${w}`}`
}

const PATH_RE = /^tile\/(entries|0|[1-9][0-9]?)\/((?:x[0-9]{3}\/)*)([0-9]{3})(?:\.p\/([1-9][0-9]{0,2}))?$/

/** Parses a tile or entry-bundle path strictly (the inverse of tilePath / entriesPath). */
export function parseTilePath(path: string): TileId & { entries: boolean } {
  const m = typeof path === 'string' ? PATH_RE.exec(path) : null
  if (!m) throw invalid(`not a tlog-tiles path: ${JSON.stringify(path)}`)
  const groups = [...m[2].split('/').filter(Boolean).map((g) => g.slice(1)), m[3]]
  // "x000/…" would be a second spelling of a smaller index: only the canonical form is accepted.
  if (groups.length > 1 && groups[0] === '000') throw invalid(`tile index has a leading zero group: ${path}`)
  const index = Number(groups.join(''))
  if (!Number.isSafeInteger(index)) throw invalid(`tile index too large: ${path}`)
  const width = m[4] === undefined ? TILE_WIDTH : Number(m[4])
  if (m[4] !== undefined && width >= TILE_WIDTH) throw invalid(`partial tile width must be 1..255: ${path}`)
  const entries = m[1] === 'entries'
  const level = entries ? 0 : Number(m[1])
  if (level > MAX_TILE_LEVEL) throw invalid(`tile level above ${MAX_TILE_LEVEL}: ${path}`)
  return { level, index, width, entries }
}

/** The tiles (full and partial) that hold a tree of `size` leaves: what a checkpoint needs served. */
export function tilesForSize(size: number): TileId[] {
  checkSize('size', size)
  const tiles: TileId[] = []
  for (let level = 0; size >= TILE_WIDTH ** level && level <= MAX_TILE_LEVEL; level++) {
    const hashes = Math.floor(size / TILE_WIDTH ** level) // stored hashes at tree level 8·level
    const full = Math.floor(hashes / TILE_WIDTH)
    for (let n = 0; n < full; n++) tiles.push({ level, index: n, width: TILE_WIDTH })
    if (hashes % TILE_WIDTH) tiles.push({ level, index: full, width: hashes % TILE_WIDTH })
  }
  return tiles
}

/** Reads `width` hashes (or more) of tile (level, index) as concatenated 32-byte hashes. */
export type ReadTile = (tileLevel: number, index: number, width: number) => Uint8Array

/**
 * A ReadNode served from tiles: a node at tree level 8L + k is the fold of 2^k consecutive hashes
 * of one level-L tile, so any complete node of the tree can be read from one tile.
 */
export function tileNodeReader(readTile: ReadTile): ReadNode {
  return (level, index) => {
    const tileLevel = Math.floor(level / TILE_HEIGHT)
    const k = level - tileLevel * TILE_HEIGHT
    const first = index * 2 ** k // first hash at tree level 8·tileLevel
    const tile = Math.floor(first / TILE_WIDTH)
    const from = first % TILE_WIDTH
    const count = 2 ** k
    const bytes = readTile(tileLevel, tile, from + count)
    if (!(bytes instanceof Uint8Array) || bytes.length < (from + count) * HASH_SIZE) {
      throw new ChainlogError('ERR_CORRUPT', `tile ${tileLevel}/${tile} is too short for node ${level}/${index}`)
    }
    // 2^k hashes of one perfect subtree: hash pairs level by level up to its root.
    let row: Uint8Array[] = []
    for (let i = from; i < from + count; i++) row.push(bytes.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE))
    while (row.length > 1) {
      const up: Uint8Array[] = []
      for (let i = 0; i < row.length; i += 2) up.push(hashChildren(row[i], row[i + 1]))
      row = up
    }
    return Buffer.from(row[0])
  }
}

/**
 * Every tile of the tree of these leaf hashes, full and partial, keyed by tilePath(). For exports
 * and tests; the engine builds its tiles incrementally from MerkleFrontier.append's nodes.
 */
export function buildTiles(leafHashes: readonly Uint8Array[]): Map<string, Buffer> {
  const levels = completeNodes(leafHashes)
  const out = new Map<string, Buffer>()
  for (const tile of tilesForSize(leafHashes.length)) {
    const row = levels[tile.level * TILE_HEIGHT]
    const first = tile.index * TILE_WIDTH
    out.set(tilePath(tile), Buffer.concat(row.slice(first, first + tile.width)))
  }
  return out
}

