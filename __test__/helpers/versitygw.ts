/**
 * The archive test files' S3 server (versitygw-server.ts): started before a file's tests and
 * stopped after them, or the tests skipped with the reason when versitygw cannot run here.
 */
import test from 'ava'
import { randomBytes } from 'node:crypto'
import { Archiver, type Log } from '../../ts/index.ts'
import { Versitygw, versitygwUnavailable } from './versitygw-server.ts'

/** A test file's S3 server: one versitygw started before its tests (with one bucket) and stopped after them, or skipped with the reason. */
export interface S3Suite {
  /** `test.serial` when versitygw can run here, else `test.skip`. */
  test: typeof test.serial | typeof test.skip
  /** Appended to test titles when they skip: why. */
  skipNote: string
  /** The bucket every test of the file archives to (each under its own prefix). */
  bucket: string
  /** The running server (set before the first test). */
  gw: Versitygw
  /** A fresh `s3://bucket/<tag>-<random>` prefix, one per test. */
  prefixUrl: (tag?: string) => string
  /** Ships what `log` has synced to `url` in one pass, then stops the archiver. */
  shipOnce: (log: Log, url: string) => Promise<void>
}

/** Registers the file's before/after hooks that start and stop its versitygw (the one owner of that setup). */
export function s3Suite(bucket: string): S3Suite {
  const why = versitygwUnavailable()
  const suite: S3Suite = {
    test: why === null ? test.serial : test.skip,
    skipNote: why === null ? '' : ` [SKIPPED: ${why}]`,
    bucket,
    gw: undefined as unknown as Versitygw,
    prefixUrl: (tag = 't') => `s3://${bucket}/${tag}-${randomBytes(6).toString('hex')}`,
    shipOnce: async (log, url) => {
      const archiver = await Archiver.start(log, { url, client: suite.gw.client, interval: 60_000 })
      try {
        await archiver.sync()
      } finally {
        await archiver.stop()
      }
    },
  }
  test.before(async () => {
    if (why !== null) return
    suite.gw = await Versitygw.start()
    suite.gw.bucket(bucket)
  })
  test.after.always(async () => {
    await suite.gw?.stop()
  })
  return suite
}
