#!/usr/bin/env node
// `npm run build`: the published package's compiled code and types, from ts/.
//
//   dist/index.js    ESM build of ts/index.ts     (exports "import")
//   dist/index.cjs   CommonJS build of the same   (exports "require")
//   dist/cli.js      the `chainlog` command (ESM), importing ./index.js rather than a second copy
//   dist/tlog.js     ESM build of ts/tlog/index.ts, the store-free `chainlog/tlog` subpath (+ .cjs,
//                    and dist/tlog.d.ts / .d.cts declarations)
//   dist/archive-ship-worker.js  the archive's shipping thread (ts/archive/ship-worker.ts), started
//                    by index.js and index.cjs from next to themselves
//   dist/errors.js   ts/errors.ts alone (+ .cjs), imported by index and tlog so that both throw the
//                    same ChainlogError class (instanceof holds across the two entry points)
//   index.d.ts       one self-contained declaration file for ESM users (exports "import" types)
//   dist/index.d.cts the same declarations for CommonJS users (exports "require" types)
//
// esbuild bundles our own modules (so the .ts import specifiers disappear) and leaves every
// package dependency external: hash-wasm, @bokuweb/zstd-wasm and fzstd load their WebAssembly
// themselves, from their own install, under either module system. In the CommonJS build
// `import.meta.url` does not exist; it is defined as the file URL of __filename, so code that
// locates files relative to itself (the native loader's package root) works in both builds. The
// names of the platform packages (from package.json napi.targets) are written into the bundles
// as CHAINLOG_PLATFORM_PACKAGES, the list the native loader resolves.
//
//   node scripts/build.mjs           everything
//   node scripts/build.mjs --js      the JavaScript only (skips declarations; a second faster)
//   node scripts/build.mjs --list-undocumented   also list public declarations without TSDoc
import { build } from 'esbuild'
import { execFile } from 'node:child_process'
import { chmodSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { basename, dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { platforms } from './platform-packages.mjs'

const execFileAsync = promisify(execFile)
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const DIST = join(ROOT, 'dist')
const jsOnly = process.argv.includes('--js')
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))

const common = {
  absWorkingDir: ROOT,
  bundle: true,
  platform: 'node',
  target: `node${pkg.engines.node.match(/\d+/)[0]}`,
  packages: 'external', // dependencies stay dependencies
  logLevel: 'warning',
  legalComments: 'none',
  sourcemap: false,
  write: false, // written below, atomically
  define: { CHAINLOG_PLATFORM_PACKAGES: JSON.stringify(platforms(pkg).map((p) => p.name)) },
}

/** The CLI imports the public API (ts/index.ts); in dist it uses the ESM build next to it. */
const cliUsesLibrary = {
  name: 'cli-uses-library',
  setup(b) {
    const library = { [resolve(ROOT, 'ts/index.ts')]: './index.js', [resolve(ROOT, 'ts/tlog/index.ts')]: './tlog.js' }
    b.onResolve({ filter: /index\.ts$/ }, (args) => {
      const built = library[resolve(args.resolveDir, args.path)]
      return built ? { path: built, external: true } : undefined
    })
  },
}

/** index and tlog share one copy of ts/errors.ts (dist/errors.js or .cjs), so one ChainlogError class. */
const sharedErrors = (ext) => ({
  name: 'shared-errors',
  setup(b) {
    const errors = resolve(ROOT, 'ts/errors.ts')
    b.onResolve({ filter: /errors\.ts$/ }, (args) =>
      resolve(args.resolveDir, args.path) === errors ? { path: `./errors${ext}`, external: true } : undefined)
  },
})
const cjs = {
  format: 'cjs',
  define: { ...common.define, 'import.meta.url': '__chainlogModuleUrl' },
  banner: { js: "const __chainlogModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
}

mkdirSync(DIST, { recursive: true })
for (const f of readdirSync(DIST)) if (f.includes('.tmp')) rmSync(join(DIST, f)) // left by an interrupted build
// Every output is written to a temporary name and renamed into place, so a test (or a tail)
// running dist/ while it is rebuilt never sees a half-written file.
const writeAtomic = (file, contents) => {
  const tmp = `${file}.${process.pid}.tmp`
  writeFileSync(tmp, contents)
  renameSync(tmp, file)
}
const results = await Promise.all([
  build({ ...common, entryPoints: ['ts/index.ts'], format: 'esm', outfile: 'dist/index.js', plugins: [sharedErrors('.js')] }),
  build({ ...common, ...cjs, entryPoints: ['ts/index.ts'], outfile: 'dist/index.cjs', plugins: [sharedErrors('.cjs')] }),
  build({ ...common, entryPoints: ['ts/tlog/index.ts'], format: 'esm', outfile: 'dist/tlog.js', plugins: [sharedErrors('.js')] }),
  build({ ...common, ...cjs, entryPoints: ['ts/tlog/index.ts'], outfile: 'dist/tlog.cjs', plugins: [sharedErrors('.cjs')] }),
  build({ ...common, entryPoints: ['ts/errors.ts'], format: 'esm', outfile: 'dist/errors.js' }),
  // The archive's shipping thread (ts/archive/ship-thread.ts starts it from next to the bundle), for both builds.
  build({ ...common, entryPoints: ['ts/archive/ship-worker.ts'], format: 'esm', outfile: 'dist/archive-ship-worker.js' }),
  build({ ...common, ...cjs, entryPoints: ['ts/errors.ts'], outfile: 'dist/errors.cjs' }),
  build({
    ...common,
    entryPoints: ['ts/cli/main.ts'],
    format: 'esm',
    outfile: 'dist/cli.js',
    banner: { js: '#!/usr/bin/env node' },
    plugins: [cliUsesLibrary],
  }),
])
for (const { outputFiles } of results) {
  for (const f of outputFiles) {
    if (f.path.endsWith('.cjs') && f.text.includes('import.meta')) throw new Error(`${f.path}: import.meta survived in the CommonJS build`)
    writeAtomic(f.path, f.contents)
  }
}
chmodSync(join(DIST, 'cli.js'), 0o755)

if (!jsOnly) {
  // One declaration file per entry point, bundled from the sources (so it cannot drift from the
  // code), with the TSDoc comments kept. The same text serves CommonJS users as a .d.cts file. The
  // two generators run side by side: each type-checks its bundle, which is most of the build time.
  const declarations = async (entry, out, cjsOut) => {
    const generated = join(DIST, `${basename(out, '.d.ts')}.${process.pid}.tmp.d.ts`)
    await execFileAsync(process.execPath, [
      join(ROOT, 'node_modules/dts-bundle-generator/dist/bin/dts-bundle-generator.js'),
      '--silent', '--no-banner', '--export-referenced-types=false', '-o', generated, entry,
    ], { cwd: ROOT }).catch((err) => {
      process.stderr.write(`${err.stdout ?? ''}${err.stderr ?? ''}`)
      throw err
    })
    const text = `// Generated from ${entry} by scripts/build.mjs (npm run build): do not edit.\n${readFileSync(generated, 'utf8')}`
    rmSync(generated)
    writeAtomic(out, text)
    writeAtomic(cjsOut, text)
  }
  const dts = join(ROOT, 'index.d.ts')
  await Promise.all([
    declarations('ts/index.ts', dts, join(DIST, 'index.d.cts')),
    declarations('ts/tlog/index.ts', join(DIST, 'tlog.d.ts'), join(DIST, 'tlog.d.cts')),
  ])
  const undocumented = [...undocumentedDeclarations(dts), ...undocumentedDeclarations(join(DIST, 'tlog.d.ts')).map((d) => `tlog: ${d}`)]
  if (undocumented.length) {
    const list = process.argv.includes('--list-undocumented') ? `:\n  ${undocumented.join('\n  ')}` : ` (${undocumented.slice(0, 4).join(', ')}, …; --list-undocumented lists them)`
    console.warn(`warning: ${undocumented.length} public declarations in index.d.ts or dist/tlog.d.ts have no TSDoc comment${list}`)
  }
}

/** Exported declarations, and their members, that carry no /** … *\/ comment. */
function undocumentedDeclarations(file) {
  const ts = createRequire(import.meta.url)('typescript')
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true)
  const documented = (node) => ts.getJSDocCommentsAndTags(node).length > 0
  const missing = []
  for (const statement of source.statements) {
    const names = ts.isVariableStatement(statement) ? statement.declarationList.declarations.map((d) => d.name.getText()) : [statement.name?.getText()]
    // Only what the package exports; aliases it merely uses are inlined without comments.
    if (!names[0] || !statement.modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword)) continue
    if (!documented(statement)) missing.push(names.join(', '))
    if (ts.isClassDeclaration(statement) || ts.isInterfaceDeclaration(statement)) {
      for (const member of statement.members) {
        const name = member.name?.getText() ?? (ts.isConstructorDeclaration(member) ? 'constructor' : undefined)
        if (name === undefined || name.startsWith('#') || member.modifiers?.some((m) => m.kind === ts.SyntaxKind.PrivateKeyword)) continue
        if (!documented(member)) missing.push(`${names[0]}.${name}`)
      }
    }
  }
  return missing
}
console.log(`built dist/index.js, dist/index.cjs, dist/cli.js, dist/tlog.js, dist/tlog.cjs, dist/errors.js, dist/errors.cjs, dist/archive-ship-worker.js${jsOnly ? '' : ', index.d.ts, dist/index.d.cts, dist/tlog.d.ts, dist/tlog.d.cts'}`)
