/**
 * Retention under kill -9 (SPEC §9): a child process appends, signs and prunes continually and is
 * SIGKILLed at spread moments; the store then opens and verifies (against the note it published
 * too), every acknowledged record from the first kept offset on is there with its payload, and the
 * stream starts no later than the last prune the child saw finish.
 */
import test from 'ava'
import { BACKENDS } from './helpers/cores.ts'
import { pruneCrashTrial } from './helpers/prune-crash.ts'

const TRIALS = 10

for (const backend of BACKENDS) {
  for (let trial = 0; trial < TRIALS; trial++) {
    test.serial(`${backend}: prune crash trial ${trial}: after SIGKILL the store opens and verifies, every acknowledged kept record is there, the start is where a prune left it`, async (t) => {
      const r = await pruneCrashTrial(t, backend, 5 + trial * 61)
      t.log(`killed after ${r.prunes} prunes, ${r.acked} records acknowledged: ${r.moment}`)
    })
  }
}
