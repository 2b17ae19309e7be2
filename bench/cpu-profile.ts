/**
 * A CPU profile of one stretch of a bench script (node:inspector, in-process): start() before it,
 * stop(path) after it writes the .cpuprofile (bench/cpu-profile-summary.mjs reads it).
 */
import { writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'

export interface CpuProfile {
  stop(path: string): Promise<void>
}

/** Starts sampling every `intervalUs` microseconds. */
export async function startCpuProfile(intervalUs: number): Promise<CpuProfile> {
  const session = new Session()
  session.connect()
  await session.post('Profiler.enable')
  await session.post('Profiler.setSamplingInterval', { interval: intervalUs })
  await session.post('Profiler.start')
  return {
    async stop(path) {
      const { profile } = await session.post('Profiler.stop')
      writeFileSync(path, JSON.stringify(profile))
      session.disconnect()
    },
  }
}
