import test from 'ava'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { EMPTY_ROOT, generateKey, openCheckpoint, verifyConsistencyProof, verifyProof } from '../ts/tlog/index.ts'
import { checkOrigin, formatCheckpoint, parseCheckpoint } from '../ts/tlog/checkpoint.ts'
import { completeNodes, consistencyPlan, hashLeaf, memoryNodeReader, merkleRoot, runPlan } from '../ts/tlog/merkle.ts'
import { parseVerifierKey, signNote } from '../ts/tlog/note.ts'
import { formatAddCheckpoint, formatTlogProof, parseAddCheckpoint, parseTlogProof } from '../ts/tlog/proof-text.ts'
import { encodeRecordPreimage, parseRecordPreimage } from '../ts/tlog/record-preimage.ts'
import { codeOf, fixtureStream, sha256 } from './helpers/tlog-fixture.ts'

// C2SP tlog-checkpoint, tlog-proof and tlog-witness add-checkpoint texts (the C2SP examples byte for
// byte, strict parsing), and the offline verification of chainlog proofs built from them.

const v = JSON.parse(readFileSync(join(import.meta.dirname, 'vectors', 'tlog', 'note.json'), 'utf8'))
const ORIGIN = 'example.com/audit'
const key = generateKey(`${ORIGIN}/orders`)
const s = fixtureStream(ORIGIN, 'orders', key.skey, 300)

test('record preimage: the SPEC §2 SHA-256 vector h0 (stream orders, event-0) is reproduced', (t) => {
  t.is(s.records[0].commitment.toString('hex'), '23352a67ac7ffc4b5d98023dc1a54ee507d4bf95dc1c4154045c5e2bbde73317')
  t.is(s.chainHashes[0].toString('hex'), '81e8d947abde1bb6765535282e0b70bd3a7bd94899112a61f8c59743c2e7fbb2')
  t.is(s.chainHashes[1].toString('hex'), '8e4d40111fe3c35c964af127d133eb4cef7b73ca10757945a7239d9abd8f32a3')
  t.is(s.chainHashes[2].toString('hex'), '3102256b67cb23b322aee8f4f5936c7e21153d8ad68efdfb8026f4672e26b2a2')
  t.deepEqual(parseRecordPreimage(s.preimages[2]), s.records[2])
  t.is(codeOf(() => parseRecordPreimage(s.preimages[2].subarray(1))), 'ERR_INVALID_ARGUMENT')
  t.is(codeOf(() => parseRecordPreimage(Buffer.concat([s.preimages[2], Buffer.alloc(1)]))), 'ERR_INVALID_ARGUMENT')
  const badKind = Buffer.from(s.preimages[2])
  badKind[18 + 2 + 6 + 32 + 16] = 3
  t.is(codeOf(() => parseRecordPreimage(badKind)), 'ERR_INVALID_ARGUMENT')
  t.true(parseRecordPreimage(encodeRecordPreimage({ ...s.records[1], kind: 'checkpoint', batchContinues: true })).batchContinues)
})

test('tlog-checkpoint: the C2SP example parses and formats back byte for byte; strict on every line', (t) => {
  const text = v.c2sp.checkpoint.slice(0, v.c2sp.checkpoint.indexOf('\n\n') + 1)
  const c = parseCheckpoint(text)
  t.is(c.origin, 'example.com/behind-the-sofa')
  t.is(c.size, 20852163)
  t.is(c.root.toString('base64'), 'CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=')
  t.is(formatCheckpoint(c), text)
  t.deepEqual(parseCheckpoint(text + 'ext one\n').extensions, ['ext one'])
  const root = 'CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I='
  for (const bad of [
    `o\n20852163\n${root}`, // no final newline
    `o\n020852163\n${root}\n`, `o\n+1\n${root}\n`, `o\n-1\n${root}\n`, `o\n1e3\n${root}\n`, `o\n9007199254740992\n${root}\n`, `o\n\n${root}\n`,
    `o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2=\n`, `o\n1\n${root.slice(0, -1)}\n`, `o\n1\n${root} \n`,
    `\n1\n${root}\n`, `o\n1\n${root}\n\n`, `o\n1\n`,
  ]) t.is(codeOf(() => parseCheckpoint(bad)), 'ERR_INVALID_ARGUMENT', JSON.stringify(bad))
  t.is(codeOf(() => formatCheckpoint({ origin: 'o', size: 1, root: Buffer.alloc(31) })), 'ERR_INVALID_ARGUMENT')
})

test('chainlog origins: 1–200 bytes of printable non-space ASCII, no +, not ending in /', (t) => {
  t.is(checkOrigin('example.com/audit'), 'example.com/audit')
  for (const bad of ['', 'a b', 'a+b', 'a/', 'x'.repeat(201), 'é', 'a\nb', 7]) t.is(codeOf(() => checkOrigin(bad)), 'ERR_INVALID_ARGUMENT', String(bad))
  t.is(checkOrigin('x'.repeat(200)).length, 200)
})

test('tlog-witness add-checkpoint: the C2SP example parses and formats back byte for byte; at most 63 hashes', (t) => {
  const body = v.c2sp.addCheckpoint
  const p = parseAddCheckpoint(body)
  t.is(p.oldSize, 20852014)
  t.is(p.proof.length, 4)
  t.is(p.note, v.c2sp.checkpoint.replace(/\n$/, '\n') + p.note.slice(v.c2sp.checkpoint.length))
  t.true(p.note.startsWith(v.c2sp.checkpoint))
  t.is(formatAddCheckpoint(p), body)
  const hash = `${EMPTY_ROOT.toString('base64')}\n`
  t.is(parseAddCheckpoint(`old 5\n${hash.repeat(63)}\n${v.c2sp.checkpoint}`).proof.length, 63)
  t.is(codeOf(() => parseAddCheckpoint(`old 5\n${hash.repeat(64)}\n${v.c2sp.checkpoint}`)), 'ERR_INVALID_ARGUMENT')
  for (const bad of [`old 05\n\n${v.c2sp.checkpoint}`, `old  5\n\n${v.c2sp.checkpoint}`, `Old 5\n\n${v.c2sp.checkpoint}`, `old 5\n\n`, `old 5\n${hash}`, `old 5\nAAAA\n\n${v.c2sp.checkpoint}`, `old 5\n${hash.replace('=', '')}\n${v.c2sp.checkpoint}`]) {
    t.is(codeOf(() => parseAddCheckpoint(bad)), 'ERR_INVALID_ARGUMENT', JSON.stringify(bad.slice(0, 60)))
  }
})

test('tlog-proof: the C2SP example parses (header, extra, index, 5 hashes, the note verbatim); at most 64 hashes', (t) => {
  const example = 'c2sp.org/tlog-proof@v1\nextra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ\nindex 73894\ngSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=\nB95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=\nEKNzoDWG8LGC0Yp9o+sv3qllpMP9uHQ9B20KNL+Q1zs=\nRoopEkOdqkYqMB4MJXrbt/hMjOxsVn0IrWjpz1ZMMes=\nAHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk=\n\nexample.com/fancylog\n109482\nsFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=\n\n— example.com/fancylog hI2DJw[...]1roloI=\n'
  const p = parseTlogProof(example)
  t.is(p.index, 73894)
  t.is(p.proof.length, 5)
  t.is(p.extra?.toString('base64'), 'YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ')
  t.true(p.note.startsWith('example.com/fancylog\n109482\n'))
  t.is(formatTlogProof(p), example)
  const noExtra = formatTlogProof({ index: 0, proof: [], note: s.note(1) })
  t.is(noExtra, `c2sp.org/tlog-proof@v1\nindex 0\n\n${s.note(1)}`)
  t.is(parseTlogProof(noExtra).extra, undefined)
  const hash = `${EMPTY_ROOT.toString('base64')}\n`
  t.is(parseTlogProof(`c2sp.org/tlog-proof@v1\nindex 1\n${hash.repeat(64)}\n${s.note(2)}`).proof.length, 64)
  for (const bad of [
    `c2sp.org/tlog-proof@v1\nindex 1\n${hash.repeat(65)}\n${s.note(2)}`,
    `c2sp.org/tlog-proof@v2\nindex 1\n\n${s.note(2)}`,
    `c2sp.org/tlog-proof@v1\nindex 01\n\n${s.note(2)}`,
    `c2sp.org/tlog-proof@v1\nextra \nindex 1\n\n${s.note(2)}`,
    `c2sp.org/tlog-proof@v1\nextra ab!=\nindex 1\n\n${s.note(2)}`,
    `c2sp.org/tlog-proof@v1\nindex 1\n${hash}`,
    `c2sp.org/tlog-proof@v1\nindex 1\n${hash}\n`,
    `c2sp.org/tlog-proof@v1\r\nindex 1\n\n${s.note(2)}`,
  ]) t.is(codeOf(() => parseTlogProof(bad)), 'ERR_INVALID_ARGUMENT', JSON.stringify(bad.slice(0, 60)))
  t.is(codeOf(() => parseTlogProof(Buffer.from([0xc3, 0x28]))), 'ERR_INVALID_ARGUMENT')
})

test('verifyProof: every record of a 300-record stream proves into the trees of many sizes, with its payload', (t) => {
  for (const size of [1, 2, 3, 255, 256, 257, 300]) {
    for (let i = 0; i < size; i += Math.max(1, Math.floor(size / 17))) {
      const r = verifyProof(s.prove(i, size), { vkey: s.vkey, origin: ORIGIN, hash: 'sha256', payload: s.payloads[i] })
      t.is(r.index, i)
      t.is(r.treeSize, size)
      t.is(r.stream, 'orders')
      t.true(r.payloadChecked)
      t.deepEqual(r.chainHash, s.chainHashes[i])
    }
  }
  // The stream's full origin line is accepted as the origin too; so is a hash function.
  t.is(verifyProof(s.prove(5, 9), { vkey: s.vkey, origin: `${ORIGIN}/orders`, hash: sha256 }).index, 5)
})

test('verifyProof: what does not check out is ERR_CHAIN_BROKEN', (t) => {
  const good = s.prove(5, 9)
  const other = generateKey(`${ORIGIN}/orders`)
  const payments = fixtureStream(ORIGIN, 'payments', generateKey(`${ORIGIN}/payments`).skey, 9)
  const cases: Array<[string, () => unknown]> = [
    ['another key', () => verifyProof(good, { vkey: other.vkey, origin: ORIGIN, hash: 'sha256' })],
    ['another origin', () => verifyProof(good, { vkey: s.vkey, origin: 'example.org/audit', hash: 'sha256' })],
    ['another stream', () => verifyProof(good, { vkey: s.vkey, origin: `${ORIGIN}/payments`, hash: 'sha256' })],
    ['a payments note vouching for an orders record', () => verifyProof(good.slice(0, good.indexOf('\n\n') + 2) + payments.note(9), { vkey: [s.vkey, payments.vkey], origin: ORIGIN, hash: 'sha256' })],
    ['the wrong payload', () => verifyProof(good, { vkey: s.vkey, origin: ORIGIN, hash: 'sha256', payload: s.payloads[6] })],
    ['a payload of another length', () => verifyProof(good, { vkey: s.vkey, origin: ORIGIN, hash: 'sha256', payload: Buffer.from('event-50') })],
    ['index not the record offset', () => verifyProof(good.replace('index 5', 'index 4'), { vkey: s.vkey, origin: ORIGIN, hash: 'sha256' })],
    ['a hash changed', () => verifyProof(good.replace(/\nindex 5\n(.)/, (m, c: string) => m.slice(0, -1) + (c === 'A' ? 'B' : 'A')), { vkey: s.vkey, origin: ORIGIN, hash: 'sha256' })],
    ['a hash missing', () => verifyProof(good.replace(/\nindex 5\n[^\n]+\n/, '\nindex 5\n'), { vkey: s.vkey, origin: ORIGIN, hash: 'sha256' })],
    ['the wrong store hash', () => verifyProof(good, { vkey: s.vkey, origin: ORIGIN, hash: (d) => sha256(Buffer.concat([d, Buffer.from('x')])) })],
    ['a note for a smaller tree', () => verifyProof(good.slice(0, good.indexOf('\n\n') + 2) + s.note(5), { vkey: s.vkey, origin: ORIGIN, hash: 'sha256' })],
    ['a note whose signature fails', () => verifyProof(good.replace(/(— \S+ )(.)/, (_m, p: string, c: string) => p + (c === 'A' ? 'B' : 'A')), { vkey: s.vkey, origin: ORIGIN, hash: 'sha256' })],
    ['an edited record (extra)', () => verifyProof(good.replace(/extra (\S+)/, (_m, e: string) => `extra ${Buffer.from(Buffer.from(e, 'base64').map((b, i) => (i === 60 ? b ^ 1 : b))).toString('base64')}`), { vkey: s.vkey, origin: ORIGIN, hash: 'sha256' })],
  ]
  for (const [name, fn] of cases) t.is(codeOf(fn), 'ERR_CHAIN_BROKEN', name)
})

test('verifyProof: malformed input is ERR_INVALID_ARGUMENT; unknown extra signatures are ignored', (t) => {
  const good = s.prove(5, 9)
  const witness = generateKey('witness.example/w1')
  // A witness cosignature line by a key the verifier does not know: ignored, not rejected.
  const cosigned = good + '— witness.example/w1 ' + Buffer.alloc(72, 7).toString('base64') + '\n'
  t.is(verifyProof(cosigned, { vkey: s.vkey, origin: ORIGIN, hash: 'sha256' }).checkpoint.unverified.length, 1)
  t.is(verifyProof(cosigned, { vkey: [s.vkey, witness.vkey], origin: ORIGIN, hash: 'sha256' }).checkpoint.unverified.length, 1) // name known, ID not: another key
  const id = Buffer.alloc(4)
  id.writeUInt32BE(parseVerifierKey(witness.vkey).keyId)
  const badCosig = good + '— witness.example/w1 ' + Buffer.concat([id, Buffer.alloc(64, 7)]).toString('base64') + '\n'
  t.is(verifyProof(badCosig, { vkey: s.vkey, origin: ORIGIN, hash: 'sha256' }).index, 5)
  t.is(codeOf(() => verifyProof(badCosig, { vkey: [s.vkey, witness.vkey], origin: ORIGIN, hash: 'sha256' })), 'ERR_CHAIN_BROKEN') // known key, failing signature
  const cases: Array<[string, () => unknown]> = [
    ['bad base64 hash', () => verifyProof(good.replace(/\nindex 5\n(.)/, '\nindex 5\n!'), { vkey: s.vkey, origin: ORIGIN, hash: 'sha256' })],
    ['no extra', () => verifyProof(good.replace(/extra \S+\n/, ''), { vkey: s.vkey, origin: ORIGIN, hash: 'sha256' })],
    ['a malformed vkey', () => verifyProof(good, { vkey: 'not a key', origin: ORIGIN, hash: 'sha256' })],
    ['no origin', () => verifyProof(good, { vkey: s.vkey, hash: 'sha256' } as never)],
    ['an unknown hash name', () => verifyProof(good, { vkey: s.vkey, origin: ORIGIN, hash: 'md5' as never })],
    ['a truncated note', () => verifyProof(good.slice(0, -5), { vkey: s.vkey, origin: ORIGIN, hash: 'sha256' })],
    ['garbage', () => verifyProof('hello', { vkey: s.vkey, origin: ORIGIN, hash: 'sha256' })],
    ['no vkey', () => verifyProof(good, { origin: ORIGIN, hash: 'sha256' } as never)],
    ['a vkey of the wrong type', () => verifyProof(good, { vkey: [42], origin: ORIGIN, hash: 'sha256' } as never)],
  ]
  for (const [name, fn] of cases) t.is(codeOf(fn), 'ERR_INVALID_ARGUMENT', name)
  t.is(codeOf(() => verifyProof(good, { vkey: s.vkey, origin: ORIGIN, hash: 'blake3' as never })), 'ERR_UNSUPPORTED')
})

test('openCheckpoint: origin and key name must match; a note from another stream or origin is rejected', (t) => {
  const c = openCheckpoint(s.note(9), { vkey: s.vkey, origin: ORIGIN })
  t.is(c.size, 9)
  t.is(c.stream, 'orders')
  t.deepEqual(c.root, s.root(9))
  t.is(openCheckpoint(s.note(9), { vkey: s.vkey, origin: `${ORIGIN}/orders` }).stream, undefined)
  t.is(codeOf(() => openCheckpoint(s.note(9), { vkey: s.vkey, origin: 'example.com' })), 'ERR_CHAIN_BROKEN') // two levels up is not a stream
  t.is(codeOf(() => openCheckpoint(s.note(9), { vkey: s.vkey, origin: 'example.com/other' })), 'ERR_CHAIN_BROKEN')
  // Signed by a key of another name: the log's own key (named as the origin) must have signed.
  const stranger = generateKey('someone.example/k')
  const foreign = fixtureStream(ORIGIN, 'orders', stranger.skey, 3)
  t.is(codeOf(() => openCheckpoint(foreign.note(3), { vkey: stranger.vkey, origin: ORIGIN })), 'ERR_CHAIN_BROKEN')
})

test('verifyConsistencyProof: add-checkpoint bodies check against a trusted note; a rollback or fork is ERR_CHAIN_BROKEN', (t) => {
  for (const [m, n] of [[0, 1], [1, 1], [1, 2], [3, 7], [8, 9], [255, 256], [256, 300], [300, 300]]) {
    const next = verifyConsistencyProof(s.consistency(m, n), { vkey: s.vkey, origin: ORIGIN, old: s.note(m) })
    t.is(next.size, n)
  }
  t.is(verifyConsistencyProof(s.consistency(0, 4), { vkey: s.vkey, origin: ORIGIN, old: { size: 0, root: EMPTY_ROOT } }).size, 4)
  // A fork: record 100 edited, every hash after it recomputed, and the new tree signed again.
  const edited = fixtureStreamWithEdit(100)
  t.is(codeOf(() => verifyConsistencyProof(edited.consistency(50, 300), { vkey: s.vkey, origin: ORIGIN, old: s.note(50) })), undefined) // before the edit: still consistent
  t.is(codeOf(() => verifyConsistencyProof(edited.consistency(150, 300), { vkey: s.vkey, origin: ORIGIN, old: s.note(150) })), 'ERR_CHAIN_BROKEN')
  t.is(codeOf(() => verifyConsistencyProof(edited.consistency(150, 300), { vkey: s.vkey, origin: ORIGIN, old: { size: 150, root: s.root(150) } })), 'ERR_CHAIN_BROKEN')
  t.is(codeOf(() => verifyConsistencyProof(s.consistency(3, 7), { vkey: s.vkey, origin: ORIGIN, old: s.note(4) })), 'ERR_INVALID_ARGUMENT')
  t.is(codeOf(() => verifyConsistencyProof(s.consistency(3, 7), { vkey: s.vkey, origin: ORIGIN, old: { size: 9, root: s.root(9) } })), 'ERR_INVALID_ARGUMENT')
  // A log rolled back behind a client's trusted note: a smaller new checkpoint.
  t.is(codeOf(() => verifyConsistencyProof(`old 9\n\n${s.note(7)}`, { vkey: s.vkey, origin: ORIGIN, old: s.note(9) })), 'ERR_CHAIN_BROKEN')
  const other = fixtureStream(ORIGIN, 'payments', generateKey(`${ORIGIN}/payments`).skey, 9)
  t.is(codeOf(() => verifyConsistencyProof(s.consistency(3, 7), { vkey: [s.vkey, other.vkey], origin: ORIGIN, old: other.note(3) })), 'ERR_CHAIN_BROKEN')
})

/** The fixture stream with the payload of record `at` edited and every hash after it recomputed. */
function fixtureStreamWithEdit(at: number) {
  const f = fixtureStream(ORIGIN, 'orders', key.skey, 300)
  const chain = f.chainHashes.slice(0, at)
  let prev = at === 0 ? Buffer.alloc(32) : chain[at - 1]
  for (let i = at; i < 300; i++) {
    const payload = i === at ? Buffer.from('edited!') : f.payloads[i]
    const pre = encodeRecordPreimage({ ...f.records[i], prevHash: prev, payloadLength: payload.length, commitment: sha256(payload) })
    prev = sha256(pre)
    chain.push(prev)
  }
  const leaves = chain.map(hashLeaf)
  const read = memoryNodeReader(completeNodes(leaves))
  const note = (size: number) => signNote(formatCheckpoint({ origin: `${ORIGIN}/orders`, size, root: merkleRoot(leaves.slice(0, size)) }), key.skey)
  return { consistency: (m: number, n: number) => formatAddCheckpoint({ oldSize: m, proof: runPlan(consistencyPlan(m, n), read), note: note(n) }) }
}

test('fuzz: mutated proof texts and add-checkpoint bodies give ERR_INVALID_ARGUMENT or ERR_CHAIN_BROKEN, never another error', (t) => {
  const inputs = [Buffer.from(s.prove(5, 9)), Buffer.from(s.consistency(3, 9))]
  let state = 0x2545f491
  const rand = (n: number) => {
    state = (Math.imul(state ^ (state >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0
    return state % n
  }
  const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
  const counts = new Map<string, number>()
  for (let i = 0; i < 4000; i++) {
    const base = inputs[i % 2]
    const b = Buffer.from(base)
    // Half the edits keep to the base64 alphabet, so that many texts still parse and must then fail the checks.
    for (let k = 0, edits = 1 + rand(3); k < edits; k++) b[rand(b.length)] = rand(2) === 0 ? ALPHABET.charCodeAt(rand(64)) : rand(8) === 0 ? 0x0a : rand(256)
    const input = rand(5) === 0 ? b.subarray(0, rand(b.length)) : b
    const code = codeOf(() => (i % 2 === 0
      ? verifyProof(input, { vkey: s.vkey, origin: ORIGIN, hash: 'sha256' })
      : verifyConsistencyProof(input, { vkey: s.vkey, origin: ORIGIN, old: s.note(3) }))) ?? 'ok'
    counts.set(code, (counts.get(code) ?? 0) + 1)
  }
  t.deepEqual([...counts.keys()].filter((c) => !['ok', 'ERR_INVALID_ARGUMENT', 'ERR_CHAIN_BROKEN'].includes(c)), [])
  t.true((counts.get('ERR_INVALID_ARGUMENT') ?? 0) > 500 && (counts.get('ERR_CHAIN_BROKEN') ?? 0) > 500, JSON.stringify([...counts]))
})
