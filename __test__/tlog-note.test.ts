import test from 'ava'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { codeOf } from './helpers/tlog-fixture.ts'
import { generateKey, keyIdFor, openNote, parseNote, parseSignerKey, parseVerifierKey, signerKeyFor, signNote, verifierKeyFor } from '../ts/tlog/note.ts'

// C2SP signed-note and the Go golang.org/x/mod/sumdb/note key formats, against the Go package's own
// test vectors and the C2SP example (__test__/vectors/tlog/note.json), byte for byte.

const v = JSON.parse(readFileSync(join(import.meta.dirname, 'vectors', 'tlog', 'note.json'), 'utf8'))
const { peter, enoch, text } = v.go

test('Go vectors: the signer key signs the text into exactly the Go signature (Ed25519 is deterministic)', (t) => {
  const signer = parseSignerKey(peter.skey)
  t.is(signer.name, 'PeterNeumann')
  t.is(signer.keyId, 0xc74f20a3)
  t.is(signer.vkey, peter.vkey)
  t.is(signNote(text, peter.skey), v.go.signed)
  t.is(signNote(text, signer), text + '\n' + peter.sig)
})

test('Go vectors: the verifier key parses, its key ID is SHA-256(name ‖ \\n ‖ 0x01 ‖ key)[:4], and it re-encodes', (t) => {
  const ver = parseVerifierKey(peter.vkey)
  t.is(ver.name, 'PeterNeumann')
  t.is(ver.keyId, 0xc74f20a3)
  t.is(keyIdFor(ver.name, ver.publicKey), 0xc74f20a3)
  t.is(verifierKeyFor(ver.name, ver.publicKey), peter.vkey)
  t.is(parseVerifierKey(enoch.vkey).keyId, 0xaf0cfe78)
  for (const bad of v.go.badVkeys) t.is(codeOf(() => parseVerifierKey(bad)), 'ERR_INVALID_ARGUMENT', bad)
})

test('Go vectors: every substring and every one-byte change of a key is refused (TestNewVerifier / TestNewSigner)', (t) => {
  for (const key of [peter.vkey, peter.skey]) {
    const parse = key === peter.vkey ? parseVerifierKey : parseSignerKey
    let refused = 0
    for (let i = 0; i <= key.length; i++) {
      for (let j = i + 1; j <= key.length; j++) {
        if (i === 0 && j === key.length) continue
        if (codeOf(() => parse(key.slice(i, j))) === 'ERR_INVALID_ARGUMENT') refused++
        else t.fail(`accepted ${key.slice(i, j)}`)
      }
    }
    for (let i = 0; i < key.length; i++) {
      const mangled = key.slice(0, i) + String.fromCharCode(key.charCodeAt(i) + 1) + key.slice(i + 1)
      if (codeOf(() => parse(mangled)) === 'ERR_INVALID_ARGUMENT') refused++
      else t.fail(`accepted ${mangled}`)
    }
    t.true(refused > 2000)
  }
})

test('Go TestOpen: one known key verifies and the other signature is kept aside, unverified', (t) => {
  const msg = text + '\n' + peter.sig + enoch.sig
  const n = openNote(msg, [peter.vkey])
  t.is(n.text, text)
  t.deepEqual(n.verified.map((s) => [s.name, s.keyId]), [['PeterNeumann', 0xc74f20a3]])
  t.deepEqual(n.unverified.map((s) => [s.name, s.keyId, s.base64]), [['EnochRoot', 0xaf0cfe78, enoch.sig.slice('— EnochRoot '.length, -1)]])
  const both = openNote(msg, [peter.vkey, enoch.vkey])
  t.deepEqual(both.verified.map((s) => s.name), ['PeterNeumann', 'EnochRoot'])
  t.deepEqual(both.unverified, [])
  // No known key: nothing verifies, the note is rejected.
  t.is(codeOf(() => openNote(msg, [])), 'ERR_CHAIN_BROKEN')
  // The same verifier listed twice is not ambiguous; an unused key is harmless.
  openNote(text + '\n' + peter.sig, [enoch.vkey, peter.vkey, enoch.vkey])
  // Duplicated lines: one check per known key; duplicated unknown lines listed once.
  const dup = openNote(text + '\n' + peter.sig + peter.sig + enoch.sig + enoch.sig, [peter.vkey])
  t.is(dup.verified.length, 1)
  t.is(dup.unverified.length, 1)
})

test('Go TestOpen: a failing signature by a known key rejects the note; malformed messages are refused', (t) => {
  const corrupt = peter.sig.slice(0, 60) + 'ABCD' + peter.sig.slice(60)
  t.is(codeOf(() => openNote(text + '\n' + corrupt, [peter.vkey])), 'ERR_CHAIN_BROKEN')
  // …even when another known key's signature verifies.
  t.is(codeOf(() => openNote(text + '\n' + enoch.sig + corrupt, [peter.vkey, enoch.vkey])), 'ERR_CHAIN_BROKEN')
  // A failing signature by an unknown key is ignored.
  const enochCorrupt = enoch.sig.slice(0, 60) + 'ABCD' + enoch.sig.slice(60)
  t.is(openNote(text + '\n' + peter.sig + enochCorrupt, [peter.vkey]).unverified.length, 1)
  // The text changed under the signature.
  t.is(codeOf(() => openNote(text.replace('answer', 'Answer') + '\n' + peter.sig, [peter.vkey])), 'ERR_CHAIN_BROKEN')
  const bad = [
    text,
    text + '\n',
    text + '\n' + peter.sig.slice(0, -1),
    '\x01' + text + '\n' + peter.sig,
    text + '\n' + '— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=',
    text + '\n' + peter.sig + 'Unexpected line.\n',
    text + '\n' + peter.sig.repeat(101),
    text + '\n' + '— PeterNeumann x08g\n', // shorter than key ID + signature
    text + '\n' + '— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM\n', // no padding
    text + '\n' + '— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAN=\n', // stray bits
    text + '\n' + '- PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n', // ASCII dash
  ]
  for (const msg of bad) t.is(codeOf(() => openNote(msg, [peter.vkey])), 'ERR_INVALID_ARGUMENT', JSON.stringify(msg.slice(-40)))
  // Invalid UTF-8 (Go's "\xff" case) as bytes.
  t.is(codeOf(() => openNote(Buffer.concat([Buffer.from([0xff]), Buffer.from(text + '\n' + peter.sig)]), [peter.vkey])), 'ERR_INVALID_ARGUMENT')
  // 100 signature lines are still parsed (C2SP asks for at least 16).
  t.is(openNote(text + '\n' + peter.sig.repeat(100), [peter.vkey]).verified.length, 1)
})

test('C2SP signed-note example verifies with its verifier key; the quasimodo example parses', (t) => {
  const n = openNote(v.c2sp.note, [v.c2sp.vkey])
  t.is(n.text, 'This is an example message.\n')
  t.is(n.verified[0].name, 'example.com/foo')
  const q = parseNote(v.c2sp.quasimodo)
  t.is(q.text, 'Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n')
  t.is(q.signatures[0].name, 'quasimodo.example/salvatore')
  t.is(codeOf(() => openNote(v.c2sp.quasimodo, [v.c2sp.vkey])), 'ERR_CHAIN_BROKEN')
  t.is(codeOf(() => openNote(v.c2sp.note.replace('example message', 'example massage'), [v.c2sp.vkey])), 'ERR_CHAIN_BROKEN')
})

test('at least 16 signatures: 20 keys sign one note; any one of them, or all, opens it; unknown ones are ignored', (t) => {
  const keys = Array.from({ length: 20 }, (_, i) => generateKey(`witness${i}.example/w`))
  const note = signNote('example.com/log\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n', keys.map((k) => k.skey))
  t.is(parseNote(note).signatures.length, 20)
  t.is(openNote(note, [keys[7].vkey]).verified.length, 1)
  t.is(openNote(note, [keys[7].vkey]).unverified.length, 19)
  t.is(openNote(note, keys.map((k) => k.vkey)).verified.length, 20)
  // A key sharing the name but not the ID, or the ID but not the name, is a different key: ignored.
  const sameName = generateKey('witness7.example/w')
  t.is(codeOf(() => openNote(note, [sameName.vkey])), 'ERR_CHAIN_BROKEN')
})

test('generateKey: Go-format keys whose names and IDs check; bad names are refused', (t) => {
  const { skey, vkey } = generateKey('example.com/audit/orders')
  t.regex(skey, /^PRIVATE\+KEY\+example\.com\/audit\/orders\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}$/)
  t.regex(vkey, /^example\.com\/audit\/orders\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}$/)
  t.is(parseSignerKey(skey).vkey, vkey)
  const seed = Buffer.from(skey.split('+').slice(4).join('+'), 'base64').subarray(1)
  t.is(signerKeyFor('example.com/audit/orders', seed), skey)
  t.not(generateKey('example.com/audit/orders').skey, skey)
  for (const name of ['', 'a b', 'a+b', 'a\tb', 'a\u00a0b', 'a\u2003b', 'a\u3000b']) t.is(codeOf(() => generateKey(name)), 'ERR_INVALID_ARGUMENT', JSON.stringify(name))
  t.truthy(generateKey('a\ufeffb')) // U+FEFF is not a space for Go's unicode.IsSpace
})

test('signing refuses a text without a final newline or with control characters; errors never leak a private key', (t) => {
  t.is(codeOf(() => signNote('abc', peter.skey)), 'ERR_INVALID_ARGUMENT')
  t.is(codeOf(() => signNote('a\rb\n', peter.skey)), 'ERR_INVALID_ARGUMENT')
  t.is(codeOf(() => signNote('a\ud800\n', peter.skey)), 'ERR_INVALID_ARGUMENT')
  const broken = peter.skey.slice(0, -2) + '!!'
  try {
    parseSignerKey(broken)
    t.fail()
  } catch (err) {
    t.false((err as Error).message.includes(peter.skey.split('+').slice(4).join('+').slice(1, 21)))
  }
})

test('fuzz: mutated notes give ERR_INVALID_ARGUMENT or ERR_CHAIN_BROKEN, never another error', (t) => {
  const base = Buffer.from(text + '\n' + peter.sig + enoch.sig)
  let state = 0x9e3779b9
  const rand = (n: number) => {
    state = (Math.imul(state ^ (state >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0
    return state % n
  }
  let opened = 0
  for (let i = 0; i < 3000; i++) {
    const b = Buffer.from(base)
    for (let k = 0, edits = 1 + rand(3); k < edits; k++) b[rand(b.length)] = rand(256)
    const cut = rand(4) === 0 ? b.subarray(0, rand(b.length)) : b
    const code = codeOf(() => openNote(cut, [peter.vkey, enoch.vkey]))
    if (code === undefined) opened++
    else t.true(code === 'ERR_INVALID_ARGUMENT' || code === 'ERR_CHAIN_BROKEN', code)
  }
  t.log(`${opened} of 3000 mutations still opened (byte rewritten to itself, or a key name changed into an unknown, ignored key)`)
})
