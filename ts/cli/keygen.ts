/**
 * `chainlog keygen <name> [--out FILE]`: a new Ed25519 signing key for signed checkpoints, in the Go
 * `note` format (PRIVATE+KEY+<name>+<id>+<key>). With --out the private key goes to a new file
 * (mode 0600, never overwritten) and the verifier key (vkey) is printed on stdout; without it the
 * private key is printed on stdout and the vkey on stderr, so `> key` captures only the secret.
 */
import { writeFileSync } from 'node:fs'
import { generateKey } from '../tlog/index.ts'
import { EXIT_OK, usageError } from './exit-codes.ts'

export async function keygenCommand(name: string, opts: { out?: string }): Promise<number> {
  const { skey, vkey } = generateKey(name)
  if (opts.out === undefined) {
    process.stdout.write(`${skey}\n`)
    process.stderr.write(`verifier key: ${vkey}\n`)
    return EXIT_OK
  }
  try {
    writeFileSync(opts.out, `${skey}\n`, { mode: 0o600, flag: 'wx' })
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EEXIST') throw usageError(`refusing to overwrite ${opts.out}: it exists`)
    if (code === 'ENOENT' || code === 'ENOTDIR') throw usageError(`cannot create ${opts.out}: no such directory`)
    throw err
  }
  process.stdout.write(`${vkey}\n`)
  return EXIT_OK
}
