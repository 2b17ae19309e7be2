#!/usr/bin/env node
// A throwaway npm registry for the release dry-run (__test__/registry.test.ts): verdaccio on
// 127.0.0.1 at a free port, storing packages in <dir>/storage. chainlog and @chainlog/* are
// served only from what is published to it; every other package is proxied from <uplink> (the
// registry npm is configured with). Once listening it makes a user and prints one line,
//   registry {"url":"http://127.0.0.1:PORT/","token":"…"}
// with a token that may publish. It stops on SIGTERM or SIGINT, or when its stdin closes.
//
//   node scripts/registry-server.mjs <dir> <uplink>
import { mkdirSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { runServer } from 'verdaccio'

const [dirArg, uplink] = process.argv.slice(2)
if (!dirArg || !uplink) {
  console.error('usage: node scripts/registry-server.mjs <dir> <uplink>')
  process.exit(2)
}
const dir = resolve(dirArg)
mkdirSync(join(dir, 'storage'), { recursive: true })
const config = join(dir, 'config.yaml')
writeFileSync(config, `storage: ${JSON.stringify(join(dir, 'storage'))}
auth:
  htpasswd:
    file: ${JSON.stringify(join(dir, 'htpasswd'))}
uplinks:
  upstream:
    url: ${JSON.stringify(uplink)}
packages:
  'chainlog':
    access: $all
    publish: $authenticated
  '@chainlog/*':
    access: $all
    publish: $authenticated
  '**':
    access: $all
    proxy: upstream
log: { type: stdout, format: pretty, level: error }
`)

const server = await runServer(config)
await new Promise((done, fail) => server.once('error', fail).listen(0, '127.0.0.1', done))
const url = `http://127.0.0.1:${server.address().port}/`
// npm adduser, as its HTTP request: the htpasswd plugin creates the user and returns a token.
const user = 'release-dry-run'
const response = await fetch(`${url}-/user/org.couchdb.user:${user}`, {
  method: 'PUT',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ name: user, password: 'dry-run-only', email: 'dry-run@chainlog.invalid', type: 'user', roles: [] }),
})
const { token } = await response.json()
if (!response.ok || !token) throw new Error(`${url}: adding a user failed: HTTP ${response.status}`)
console.log(`registry ${JSON.stringify({ url, token })}`)

const stop = () => {
  server.close(() => process.exit(0))
  server.closeAllConnections() // npm keeps connections alive
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
process.stdin.on('end', stop).resume()
