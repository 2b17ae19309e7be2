#!/usr/bin/env node
// `npm run check:structure`: two rules about ts/ that the compiler does not check.
//
// 1. Layers: imports point one way. core/ knows only itself; storage/ (files on disk) knows core/
//    and nothing of the engine or the readers; engine/ never imports read/ or the public API;
//    read/ never imports the public API; tlog/ is pure (a client may import it alone); archive/
//    (object storage) uses engine/, storage/ and read/ but not the public API; cli/ goes
//    through the public API (index.ts) and tlog/. Only storage/ (and the CLI) touch the file
//    system: the engine and the readers reach files through storage/storage.ts, so they run the
//    same on disk and in memory.
// 2. No dead exports: a value export (not a type) that no other file imports (ts/, __test__/, bench/) is either
//    unused or private to its file. Entry points (index.ts, tlog/index.ts, cli/main.ts) are exempt.
//
// Prints one line per violation and exits 1 if there is any.
import ts from 'typescript'
import { readdirSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const rel = (f) => relative(ROOT, f).split('\\').join('/')

function walk(dir, out = []) {
  let names
  try {
    names = readdirSync(dir)
  } catch {
    return out
  }
  for (const n of names) {
    const p = join(dir, n)
    if (statSync(p).isDirectory()) {
      if (n !== 'node_modules' && !n.startsWith('.')) walk(p, out)
    } else if (n.endsWith('.ts') && !n.endsWith('.d.ts')) out.push(p)
  }
  return out
}

const files = [...walk(join(ROOT, 'ts')), ...walk(join(ROOT, '__test__')), ...walk(join(ROOT, 'bench'))]
const parsed = new Map(files.map((f) => [f, ts.createSourceFile(f, ts.sys.readFile(f), ts.ScriptTarget.ES2022, true)]))

/** Relative imports and re-exports of a file: { target, names (null: all) }. */
function importsOf(sf) {
  const out = []
  for (const st of sf.statements) {
    let spec
    let names = []
    if (ts.isImportDeclaration(st)) {
      spec = st.moduleSpecifier.text
      const c = st.importClause
      if (c?.name) names.push('default')
      const b = c?.namedBindings
      if (b && ts.isNamespaceImport(b)) names = null
      else if (b) for (const e of b.elements) names.push((e.propertyName ?? e.name).text)
    } else if (ts.isExportDeclaration(st) && st.moduleSpecifier) {
      spec = st.moduleSpecifier.text
      names = st.exportClause && ts.isNamedExports(st.exportClause) ? st.exportClause.elements.map((e) => (e.propertyName ?? e.name).text) : null
    } else continue
    if (spec.startsWith('.')) out.push({ target: resolve(dirname(sf.fileName), spec), names })
  }
  // import('...') types and dynamic imports
  const visit = (n) => {
    if (ts.isImportTypeNode(n) && ts.isLiteralTypeNode(n.argument) && ts.isStringLiteral(n.argument.literal) && n.argument.literal.text.startsWith('.')) {
      out.push({ target: resolve(dirname(sf.fileName), n.argument.literal.text), names: null })
    }
    if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword && n.arguments[0] && ts.isStringLiteral(n.arguments[0]) && n.arguments[0].text.startsWith('.')) {
      out.push({ target: resolve(dirname(sf.fileName), n.arguments[0].text), names: null })
    }
    ts.forEachChild(n, visit)
  }
  visit(sf)
  return out
}

const problems = []

// ---- 1. layers ----
const layerOf = (f) => {
  const r = rel(f)
  if (!r.startsWith('ts/')) return null
  const parts = r.slice(3).split('/')
  return parts.length > 1 ? parts[0] : 'api'
}
/** For each layer, the layers it must not import. */
const FORBIDDEN = {
  core: ['storage', 'engine', 'read', 'api', 'cli', 'tlog'],
  storage: ['engine', 'read', 'api', 'cli'],
  engine: ['read', 'api', 'cli'],
  read: ['api', 'cli'],
  tlog: ['core', 'storage', 'engine', 'read', 'cli'],
  cli: ['storage', 'engine', 'read'],
  // The archiver reads the engine's streams and writes restored stores through storage/.
  archive: ['api', 'cli'],
}
/** Top-level files any layer may use: the error type and the invariant check; types.ts holds only types. */
const SHARED = new Set(['ts/errors.ts', 'ts/assert.ts', 'ts/types.ts'])
for (const [f, sf] of parsed) {
  const from = layerOf(f)
  if (from === null || !(from in FORBIDDEN)) continue
  for (const { target } of importsOf(sf)) {
    if (SHARED.has(rel(target))) continue
    const to = layerOf(target)
    if (to !== null && FORBIDDEN[from].includes(to)) problems.push(`layer: ${rel(f)} (${from}) imports ${rel(target)} (${to})`)
  }
}

/** Layers that reach files only through the Storage interface. */
const NO_FS = new Set(['engine', 'read', 'api', 'archive'])
for (const [f, sf] of parsed) {
  const from = layerOf(f)
  if (!NO_FS.has(from)) continue
  for (const st of sf.statements) {
    if (ts.isImportDeclaration(st) && /^(node:)?fs(\/promises)?$/.test(st.moduleSpecifier.text) && !st.importClause?.isTypeOnly) {
      problems.push(`file system: ${rel(f)} (${from}) imports ${st.moduleSpecifier.text}; use the store's Storage (ts/storage/storage.ts)`)
    }
  }
}

// ---- 2. dead exports ----
const used = new Map() // file -> Set of names imported by other files (null entry: all)
for (const [f, sf] of parsed) {
  for (const { target, names } of importsOf(sf)) {
    if (target === f) continue
    const set = used.get(target) ?? new Set()
    if (names === null) set.add('*')
    else for (const n of names) set.add(n)
    used.set(target, set)
  }
}
const ENTRY = new Set(['ts/index.ts', 'ts/tlog/index.ts', 'ts/cli/main.ts'])
for (const [f, sf] of parsed) {
  const r = rel(f)
  if (!r.startsWith('ts/') || ENTRY.has(r)) continue
  const set = used.get(f) ?? new Set()
  if (set.has('*')) continue
  for (const st of sf.statements) {
    const mods = ts.canHaveModifiers(st) ? ts.getModifiers(st) : undefined
    if (!mods?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword)) continue
    // Types may stay exported: declaration files name them in exported signatures.
    if (ts.isInterfaceDeclaration(st) || ts.isTypeAliasDeclaration(st)) continue
    const names = []
    if (ts.isVariableStatement(st)) for (const d of st.declarationList.declarations) names.push(d.name.getText(sf))
    else if (st.name) names.push(st.name.text)
    for (const n of names) {
      if (!set.has(n)) problems.push(`unused export: ${r}:${sf.getLineAndCharacterOfPosition(st.getStart(sf)).line + 1} ${n} (no other file imports it)`)
    }
  }
}

for (const p of problems) console.log(p)
console.log(problems.length === 0 ? 'structure: ok (layers, exports)' : `structure: ${problems.length} problem(s)`)
process.exit(problems.length === 0 ? 0 : 1)
