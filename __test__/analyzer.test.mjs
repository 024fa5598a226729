// The heap snapshot analyzer (crates/analyzer): `node-oom-heapdump analyze|diff` and
// analyzeHeapSnapshot(). Snapshots are written by the tests themselves, on every supported Node
// major, from a small app of known structure (fixtures/analyzer/known-heap.js). Its figures are
// checked, and every class row, total and diff row is checked against Chrome DevTools' own model
// (scripts/devtools-model.mjs), an independent implementation. Then the text output, the JS API,
// and every bad input: exit status 2 and one line on stderr that names the problem, promptly.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { after, before, test } from 'node:test'
import { root, tmpdir } from '../support/paths.js'
import { MAJORS, fixture, nodeBinary, skipOrFail } from './helpers.mjs'

const require = createRequire(import.meta.url)
const BIN = path.join(root, 'bin', 'node-oom-heapdump.js')
const NATIVE_ANALYZER = path.join(root, 'native', 'node-oom-heapdump')
const APP = fixture(path.join('analyzer', 'known-heap.js'))
const TIMEOUT = 20_000 // per child process: a hang fails instead of stalling the run
const BIG_TOP = '100000' // more than any snapshot's number of classes

let dir
before(() => {
  dir = tmpdir('analyzer')
})
after(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true })
})

/** Runs the CLI as users do (`npx node-oom-heapdump ...`). */
function cli(...args) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: TIMEOUT, maxBuffer: 64 << 20 })
  assert.equal(r.error, undefined, `node-oom-heapdump ${args.join(' ')}: ${r.error?.message} (stderr: ${r.stderr})`)
  return r
}

/** The CLI's JSON answer; it must succeed with nothing on stderr. */
function cliJson(...args) {
  const r = cli(...args, '--json')
  assert.equal(r.status, 0, `node-oom-heapdump ${args.join(' ')} --json exited ${r.status}: ${r.stderr}`)
  assert.equal(r.stderr, '')
  return JSON.parse(r.stdout)
}

// ---------------------------------------------------------------------------------------------
// Snapshots of the known heap, one pair per node binary, written once and shared by the tests.

const heaps = new Map()

/** Runs the app on `node`: BASE (a.heapsnapshot) and, after known changes, TARGET (b.heapsnapshot). */
function knownHeap(node) {
  if (heaps.has(node)) return heaps.get(node)
  const out = fs.mkdtempSync(path.join(dir, 'heap-'))
  const base = path.join(out, 'a.heapsnapshot')
  const target = path.join(out, 'b.heapsnapshot')
  const r = spawnSync(node, [APP, base, target], { encoding: 'utf8', timeout: 60_000 })
  assert.equal(r.status, 0, `${node} ${APP} failed: ${r.error?.message ?? ''} ${r.stderr}`)
  const info = JSON.parse(r.stdout)
  assert.equal(info.kept, 5800, 'the app kept 5000 + 1000 - 200')
  const heap = { base, target, version: info.node }
  heaps.set(node, heap)
  return heap
}

/** The node binary of `major`, or null after skipOrFail. */
function binaryOf(t, major) {
  const node = nodeBinary(major)
  if (!node) skipOrFail(t, `no Node.js ${major} binary (npm test's pretest fetches it into .cache/node)`)
  return node
}

/** Chrome DevTools' model, or null after skipOrFail when it cannot be loaded. */
let devtools
async function devtoolsModel(t) {
  devtools ??= import('../scripts/devtools-model.mjs').then(async (m) => {
    await m.loadModel()
    return m
  })
  try {
    return await devtools
  } catch (err) {
    skipOrFail(t, `Chrome DevTools' model (scripts/devtools-model.mjs) cannot be loaded: ${err.message}`)
    return null
  }
}

/** Runs fn with console.warn muted: DevTools' model warns about nodes with only weak retainers. */
async function quietly(fn) {
  const warn = console.warn
  console.warn = () => {}
  try {
    return await fn()
  } finally {
    console.warn = warn
  }
}

/** A Summary row's identity: DevTools' class key, ",Name" or "scriptId,line,column,Name". */
const keyOf = (c) => c.key ?? (c.location ? `${c.location.scriptId},${c.location.line},${c.location.column},${c.name}` : `,${c.name}`)

/** Where V8 locates the constructor of the n-th (0-based) `class Name {` of the app's source. */
function constructorLocation(name, n) {
  const source = fs.readFileSync(APP, 'utf8')
  let at = -1
  for (let i = 0; i <= n; i++) at = source.indexOf(`class ${name} {`, at + 1)
  assert.ok(at >= 0, `class ${name} #${n} in ${APP}`)
  const paren = source.indexOf('constructor(', at) + 'constructor'.length
  const before = source.slice(0, paren)
  return { line: before.split('\n').length - 1, column: paren - before.lastIndexOf('\n') - 1 }
}

function rowsNamed(analysis, name) {
  return analysis.classes.filter((c) => c.name === name)
}

function oneRow(analysis, name) {
  const rows = rowsNamed(analysis, name)
  assert.equal(rows.length, 1, `one row named ${name}, got ${JSON.stringify(rows)}`)
  return rows[0]
}

// ---------------------------------------------------------------------------------------------
// Known figures and DevTools' numbers, on every supported major.

for (const major of MAJORS) {
  test(`Node ${major}: analyze finds the known structure`, { timeout: 120_000 }, (t) => {
    const node = binaryOf(t, major)
    if (!node) return
    const { base } = knownHeap(node)
    const a = cliJson('analyze', base, '--top', BIG_TOP)

    // The header's counts, read independently.
    const header = JSON.parse(fs.readFileSync(base, 'utf8')).snapshot
    assert.equal(a.nodeCount, header.node_count)
    assert.equal(a.edgeCount, header.edge_count)
    assert.ok(a.classes.length > 50 && a.classes.length < Number(BIG_TOP), `${a.classes.length} classes`)
    for (let i = 1; i < a.classes.length; i++) {
      assert.ok(a.classes[i - 1].retainedSize >= a.classes[i].retainedSize, `classes sorted by retained size at ${i}`)
    }

    // Instances of one class all have the same shape, hence the same shallow size.
    const kept = oneRow(a, 'Kept')
    const expected = { Kept: 5000, CacheEntry: 2000, WeakKey: 400, WeakValue: 400 }
    for (const [name, count] of Object.entries(expected)) {
      const row = oneRow(a, name)
      assert.equal(row.count, count, `${name} count`)
      assert.ok(row.selfSize > 0 && row.selfSize % count === 0, `${name} selfSize ${row.selfSize} is ${count} equal instances`)
      assert.ok(row.retainedSize >= row.selfSize, `${name} retains at least itself`)
      assert.equal(row.location?.scriptId, kept.location?.scriptId, `${name} is defined in the app's script`)
      assert.deepEqual({ line: row.location.line, column: row.location.column }, constructorLocation(name, 0), `${name} location`)
    }
    // Each Kept retains its own 'k<i>' string; each CacheEntry its payload array.
    assert.ok(kept.retainedSize > kept.selfSize, 'Kept retains its name strings')
    assert.ok(oneRow(a, 'CacheEntry').retainedSize > oneRow(a, 'CacheEntry').selfSize, 'CacheEntry retains its payload')
    // A WeakValue is held only through the WeakMap and holds nothing of its own.
    assert.equal(oneRow(a, 'WeakValue').retainedSize, oneRow(a, 'WeakValue').selfSize)

    // Two classes named Dup, at two places: two rows, each with its own location.
    const dups = rowsNamed(a, 'Dup').sort((x, y) => x.count - y.count)
    assert.equal(dups.length, 2, `two Dup rows: ${JSON.stringify(dups)}`)
    assert.deepEqual(
      dups.map((d) => d.count),
      [10, 20],
    )
    for (const [i, d] of dups.entries()) {
      assert.equal(d.location.scriptId, kept.location.scriptId)
      assert.deepEqual({ line: d.location.line, column: d.location.column }, constructorLocation('Dup', i), `Dup #${i} location`)
      assert.equal(d.selfSize % d.count, 0)
    }

    // The largest objects: the array behind global.kept, the Map behind global.cache. (From Node 26
    // on, V8 links the root to the native context rather than to the global object, so paths start
    // there.)
    const globalDot = (name) => new RegExp(`^(?:global\\.|system / NativeContext\\.global_object \\(global \\(global\\*\\)\\) -> )${name} \\((?:Array|Map)\\)$`)
    const keptArray = a.largestObjects.find((o) => globalDot('kept').test(o.retainerPath))
    assert.ok(keptArray, `a largest object at global.kept: ${JSON.stringify(a.largestObjects, null, 1)}`)
    assert.equal(keptArray.name, 'Array')
    assert.equal(keptArray.type, 'object')
    assert.ok(keptArray.retainedSize >= kept.retainedSize, 'the kept array retains every Kept')
    const cache = a.largestObjects.find((o) => globalDot('cache').test(o.retainerPath))
    assert.ok(cache, `global.cache among the largest objects: ${JSON.stringify(a.largestObjects, null, 1)}`)
    assert.equal(cache.name, 'Map')
    assert.ok(cache.retainedSize >= oneRow(a, 'CacheEntry').retainedSize, 'the cache retains every CacheEntry')
    assert.ok(a.largestObjects.length <= 5)
    for (let i = 1; i < a.largestObjects.length; i++) {
      assert.ok(a.largestObjects[i - 1].retainedSize >= a.largestObjects[i].retainedSize, 'largest objects sorted')
    }
  })

  test(`Node ${major}: analyze equals Chrome DevTools' Summary view`, { timeout: 120_000 }, async (t) => {
    const node = binaryOf(t, major)
    if (!node) return
    const model = await devtoolsModel(t)
    if (!model) return
    const { base } = knownHeap(node)
    const ours = cliJson('analyze', base, '--top', BIG_TOP)
    const theirs = await quietly(() => model.summary(base))

    assert.deepEqual({ nodeCount: ours.nodeCount, edgeCount: ours.edgeCount, totalSize: ours.totalSize }, { nodeCount: theirs.nodeCount, edgeCount: theirs.edgeCount, totalSize: theirs.totalSize })
    const ourRows = new Map()
    for (const c of ours.classes) {
      assert.ok(!ourRows.has(keyOf(c)), `one row per class key, ${keyOf(c)} twice`)
      ourRows.set(keyOf(c), c)
    }
    const theirRows = new Map(theirs.classes.map((c) => [keyOf(c), c]))
    const numbers = (c) => c && { name: c.name, count: c.count, selfSize: c.selfSize, retainedSize: c.retainedSize }
    const differences = []
    for (const key of new Set([...ourRows.keys(), ...theirRows.keys()])) {
      const [o, d] = [numbers(ourRows.get(key)), numbers(theirRows.get(key))]
      if (JSON.stringify(o) !== JSON.stringify(d)) differences.push(`${key}: ours ${JSON.stringify(o) ?? 'absent'}, DevTools ${JSON.stringify(d) ?? 'absent'}`)
    }
    assert.ok(differences.length === 0, `${base} (${heaps.get(node).version}): rows that differ from DevTools' (class key: ours, DevTools'):\n${differences.join('\n')}`)
    assert.ok(theirRows.has(keyOf(oneRow(ours, 'Kept'))), 'the comparison covers the location-split rows')
  })

  test(`Node ${major}: diff finds the known changes and equals Chrome DevTools' Comparison view`, { timeout: 120_000 }, async (t) => {
    const node = binaryOf(t, major)
    if (!node) return
    const { base, target, version } = knownHeap(node)
    const ours = cliJson('diff', base, target)
    const row = (name) => {
      const rows = ours.classes.filter((c) => c.name === name)
      assert.equal(rows.length, 1, `one diff row named ${name}: ${JSON.stringify(rows)}`)
      return rows[0]
    }
    const summary = cliJson('analyze', base, '--top', BIG_TOP)
    const size = (name) => oneRow(summary, name).selfSize / oneRow(summary, name).count
    // 1000 Kept added, the 200 oldest dropped.
    const keptSize = size('Kept')
    assert.deepEqual(row('Kept'), {
      name: 'Kept',
      addedCount: 1000,
      removedCount: 200,
      countDelta: 800,
      addedSize: 1000 * keptSize,
      removedSize: 200 * keptSize,
      sizeDelta: 800 * keptSize,
    })
    // 50 cache entries added, 20 deleted.
    const entrySize = size('CacheEntry')
    assert.deepEqual(row('CacheEntry'), {
      name: 'CacheEntry',
      addedCount: 50,
      removedCount: 20,
      countDelta: 30,
      addedSize: 50 * entrySize,
      removedSize: 20 * entrySize,
      sizeDelta: 30 * entrySize,
    })
    // 300 more closures, each with its own context.
    for (const name of ['Function', 'system / Context']) {
      const c = row(name)
      assert.deepEqual([c.addedCount, c.removedCount, c.countDelta], [300, 0, 300], name)
      assert.equal(c.addedSize % 300, 0, `${name}: 300 equal objects`)
    }
    // Unchanged classes are not listed.
    for (const name of ['WeakValue', 'WeakKey', 'Dup']) assert.ok(!ours.classes.some((c) => c.name === name), `${name} did not change`)
    // Sorted by size delta, then count delta, then name.
    for (let i = 1; i < ours.classes.length; i++) {
      const [p, c] = [ours.classes[i - 1], ours.classes[i]]
      assert.ok(
        p.sizeDelta > c.sizeDelta || (p.sizeDelta === c.sizeDelta && (p.countDelta > c.countDelta || (p.countDelta === c.countDelta && p.name <= c.name))),
        `diff order at ${i}: ${JSON.stringify(p)} before ${JSON.stringify(c)}`,
      )
    }

    const model = await devtoolsModel(t)
    if (!model) return
    const theirs = await quietly(() => model.diff(base, target))
    // Our rows carry no key; compare the rows as multisets.
    const line = (c) => JSON.stringify([c.name, c.addedCount, c.removedCount, c.countDelta, c.addedSize, c.removedSize, c.sizeDelta])
    const count = (rows) => rows.reduce((m, c) => m.set(line(c), (m.get(line(c)) ?? 0) + 1), new Map())
    const [o, d] = [count(ours.classes), count(theirs.classes)]
    const differences = ['[name, addedCount, removedCount, countDelta, addedSize, removedSize, sizeDelta]']
    for (const k of new Set([...o.keys(), ...d.keys()])) {
      if (o.get(k) !== d.get(k)) differences.push(`${k}: ${o.get(k) ?? 0} in ours, ${d.get(k) ?? 0} in DevTools'`)
    }
    assert.ok(differences.length === 1, `${base} -> ${target} (${version}): diff rows that differ from DevTools':\n${differences.join('\n')}`)
    assert.ok(ours.classes.length > 5)
  })
}

// ---------------------------------------------------------------------------------------------
// Output formats, on the running Node.

test('analyze: the text report, and --top', { timeout: 60_000 }, () => {
  const { base } = knownHeap(process.execPath)
  const all = cliJson('analyze', base, '--top', BIG_TOP)
  const grouped = (n) => n.toLocaleString('en-US')

  const r = cli('analyze', base)
  assert.equal(r.status, 0, r.stderr)
  assert.equal(r.stderr, '')
  const lines = r.stdout.split('\n')
  const head = lines[0].match(/^(.*): ([\d,]+) nodes, ([\d,]+) edges, (\d+\.\d) MB in all$/)
  assert.ok(head, lines[0])
  assert.deepEqual(head.slice(1, 4), [base, grouped(all.nodeCount), grouped(all.edgeCount)])
  assert.ok(Math.abs(Number(head[4]) - all.totalSize / 1e6) <= 0.05, `${head[4]} MB is ${all.totalSize} bytes`)
  // Default: the top 10 classes, as in the JSON.
  const tableAt = lines.indexOf("Top 10 classes by retained size (Chrome DevTools' Summary view):")
  assert.ok(tableAt > 0, r.stdout)
  assert.match(lines[tableAt + 1], /^\s+Count\s+Shallow\s+Retained\s+%\s+Class$/)
  const rows = lines.slice(tableAt + 2, lines.indexOf('', tableAt))
  assert.equal(rows.length, 10)
  assert.deepEqual(
    rows.map((l) =>
      l
        .replace(/ {2}\(script \d+, line \d+\)$/, '')
        .split(/ {2}/)
        .pop(),
    ),
    all.classes.slice(0, 10).map((c) => c.name),
  )
  // Kept, with its count and where it is defined (lines count from 1 in text), in the top 20.
  const kept = oneRow(all, 'Kept')
  assert.ok(all.classes.indexOf(kept) < 20, 'Kept is in the top 20')
  const top20 = cli('analyze', base, '--top', '20')
  assert.equal(top20.status, 0, top20.stderr)
  const keptLine = top20.stdout.split('\n').find((l) => / Kept {2}\(/.test(l))
  assert.ok(keptLine, top20.stdout)
  assert.match(keptLine, new RegExp(`^\\s+5,000 .* Kept {2}\\(script ${kept.location.scriptId}, line ${kept.location.line + 1}\\)$`))
  // The largest objects, with their retainer paths.
  const objectsAt = lines.indexOf('Largest objects by retained size, with their shortest path from a root:')
  assert.ok(objectsAt > tableAt, r.stdout)
  const keptArray = all.largestObjects.find((o) => o.retainerPath === 'global.kept (Array)')
  assert.ok(
    lines.slice(objectsAt + 1).some((l) => l.endsWith(`Array @${keptArray.id}: global.kept (Array)`)),
    r.stdout,
  )

  // --top 3: three classes, the first three of the full list, in JSON and in text.
  const top3 = cliJson('analyze', base, '--top', '3')
  assert.deepEqual(top3.classes, all.classes.slice(0, 3))
  assert.deepEqual({ ...top3, classes: [] }, { ...all, classes: [] }, 'the rest does not depend on --top')
  const text3 = cli('analyze', base, '--top', '3').stdout.split('\n')
  const at3 = text3.indexOf("Top 3 classes by retained size (Chrome DevTools' Summary view):")
  assert.ok(at3 > 0, text3.join('\n'))
  assert.equal(text3.indexOf('', at3) - at3 - 2, 3, 'three rows')
  // Without --top, JSON has 10 classes too.
  assert.equal(cliJson('analyze', base).classes.length, 10)
})

test('diff: the text report, and --top', { timeout: 60_000 }, () => {
  const { base, target } = knownHeap(process.execPath)
  const all = cliJson('diff', base, target)
  const r = cli('diff', base, target)
  assert.equal(r.status, 0, r.stderr)
  assert.equal(r.stderr, '')
  const lines = r.stdout.split('\n')
  assert.equal(lines[0], `${base} -> ${target}: ${all.classes.length} classes changed; the 20 that grew most first (Chrome DevTools' Comparison view):`)
  assert.match(lines[1], /^\s+New\s+Deleted\s+Delta\s+Alloc\s+Freed\s+Size delta\s+Class$/)
  const rows = lines.slice(2).filter((l) => l !== '')
  assert.equal(rows.length, Math.min(20, all.classes.length))
  assert.deepEqual(
    rows.map((l) => l.split(/ {2}/).pop()),
    all.classes.slice(0, rows.length).map((c) => c.name),
  )
  assert.match(rows[0], /^\s+1,000\s+200\s+\+800\s+\S+ kB\s+\S+ kB\s+\+\S+ kB {2}Kept$/)
  assert.match(r.stdout, /^\s+300\s+0\s+\+300\s.* {2}Function$/m)

  const top2 = cli('diff', base, target, '--top', '2')
    .stdout.split('\n')
    .filter((l) => l !== '')
  assert.match(top2[0], / classes changed; the 2 that grew most first/)
  assert.equal(top2.length, 4, top2.join('\n'))
  // --json lists every class whatever --top says.
  assert.deepEqual(cliJson('diff', base, target, '--top', '2'), all)
})

test('usage: --help and --version on stdout with exit 0; no arguments, bad commands and options exit 2 naming the problem', () => {
  const usage = /^Usage: node-oom-heapdump /m
  for (const args of [['--help'], ['-h'], ['help']]) {
    const r = cli(...args)
    assert.equal(r.status, 0, `${args}: ${r.stderr}`)
    assert.equal(r.stderr, '')
    assert.match(r.stdout, usage, `${args}: the usage`)
    for (const command of ['analyze', 'diff', 'snapshot', 'cpuprofile', 'heapprofile']) assert.match(r.stdout, new RegExp(`^  ${command} `, 'm'), `${args}: lists ${command}`)
  }
  for (const [args, shape] of [
    [['analyze', '--help'], /^Usage: node-oom-heapdump analyze \[OPTIONS\] <FILE\.heapsnapshot>$/m],
    [['diff', '--help'], /^Usage: node-oom-heapdump diff \[OPTIONS\] <BASE\.heapsnapshot> <TARGET\.heapsnapshot>$/m],
  ]) {
    const r = cli(...args)
    assert.equal(r.status, 0, `${args}: ${r.stderr}`)
    assert.match(r.stdout, shape)
    assert.match(r.stdout, /^ {6}--top <N>/m)
    assert.match(r.stdout, /^ {6}--json/m)
  }
  const version = cli('--version')
  assert.equal(version.status, 0)
  assert.equal(version.stdout, `node-oom-heapdump ${JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version}\n`)
  const none = cli()
  assert.equal(none.status, 2)
  assert.equal(none.stdout, '')
  assert.match(none.stderr, usage)
  const { base } = knownHeap(process.execPath)
  for (const [args, problem] of [
    [['frobnicate', base], "error: unrecognized subcommand 'frobnicate'"],
    [['analyze', base, '--top', '0'], `error: invalid value '0' for '--top <N>': needs a positive whole number, not "0"`],
    [['analyze', base, '--top', 'x'], `error: invalid value 'x' for '--top <N>': needs a positive whole number, not "x"`],
    [['analyze', base, '--top', '2.5'], `error: invalid value '2.5' for '--top <N>': needs a positive whole number, not "2.5"`],
    [['analyze', base, '--top'], "error: a value is required for '--top <N>' but none was supplied"],
    [['analyze', base, '--frob'], "error: unexpected argument '--frob' found"],
    [['analyze'], 'error: the following required arguments were not provided:'],
    [['analyze', base, base], `error: unexpected argument '${base}' found`],
    [['diff', base], 'error: the following required arguments were not provided:'],
  ]) {
    const r = cli(...args)
    assert.equal(r.status, 2, `${args.join(' ')}: exit status`)
    assert.equal(r.stdout, '', `${args.join(' ')}: nothing on stdout`)
    assert.equal(r.stderr.split('\n')[0], problem, `${args.join(' ')}: the first line names the problem`)
  }
  // A negative number is taken for a flag by the parser, and refused too.
  const negative = cli('analyze', base, '--top', '-3')
  assert.equal(negative.status, 2)
  assert.match(negative.stderr, /^error: .*'-3'/)
})

// ---------------------------------------------------------------------------------------------
// The JS API.

test('analyzeHeapSnapshot() answers what analyze --json does, and rejects bad arguments', { timeout: 60_000 }, async () => {
  const { analyzeHeapSnapshot } = require('..')
  const { base } = knownHeap(process.execPath)
  assert.deepEqual(await analyzeHeapSnapshot(base, { top: 5 }), cliJson('analyze', base, '--top', '5'))
  const byDefault = await analyzeHeapSnapshot(base)
  assert.deepEqual(byDefault, cliJson('analyze', base))
  assert.equal(byDefault.classes.length, 10)
  assert.equal(oneRow(await analyzeHeapSnapshot(base, { top: 1000 }), 'Kept').count, 5000)

  for (const [args, name] of [
    [[], 'path'],
    [[undefined], 'path'],
    [[42], 'path'],
    [[''], 'path'],
    [[{ path: base }], 'path'],
    [[base, { top: 0 }], 'top'],
    [[base, { top: -1 }], 'top'],
    [[base, { top: 2.5 }], 'top'],
    [[base, { top: '5' }], 'top'],
    [[base, { top: Infinity }], 'top'],
    [[base, { top: NaN }], 'top'],
  ]) {
    await assert.rejects(analyzeHeapSnapshot(...args), (err) => {
      assert.equal(err.code, 'InvalidArg', `${JSON.stringify(args)}: ${err.message}`)
      assert.match(err.message, new RegExp(`\`${name}\``), `${JSON.stringify(args)}: names ${name}`)
      return true
    })
  }
  await assert.rejects(analyzeHeapSnapshot(base, 5), (err) => {
    assert.equal(err.code, 'InvalidArg')
    assert.match(err.message, /options must be an object/)
    return true
  })

  const missing = path.join(dir, 'no-such.heapsnapshot')
  await assert.rejects(analyzeHeapSnapshot(missing), (err) => {
    assert.ok(err.message.includes(missing), err.message)
    assert.match(err.message, /No such file/)
    return true
  })
  const truncated = path.join(dir, 'api-truncated.heapsnapshot')
  fs.writeFileSync(truncated, fs.readFileSync(base).subarray(0, 5000))
  await assert.rejects(analyzeHeapSnapshot(truncated), (err) => {
    assert.equal(err.message, `${truncated}: the file ends at byte 5000, inside nodes: the snapshot is truncated`)
    return true
  })
})

// ---------------------------------------------------------------------------------------------
// Bad input: exit status 2, one line on stderr naming the problem (and the byte for parse errors).

/** A small, valid snapshot by hand: (root) -> (GC roots), (root) -> global -a-> Foo. */
function tinySnapshot(o = {}) {
  const meta = {
    node_fields: ['type', 'name', 'id', 'self_size', 'edge_count', 'trace_node_id', 'detachedness'],
    node_types: [
      ['hidden', 'array', 'string', 'object', 'code', 'closure', 'regexp', 'number', 'native', 'synthetic', 'concatenated string', 'sliced string', 'symbol', 'bigint', 'object shape'],
      'string',
      'number',
      'number',
      'number',
      'number',
      'number',
    ],
    edge_fields: ['type', 'name_or_index', 'to_node'],
    edge_types: [['context', 'element', 'property', 'internal', 'hidden', 'shortcut', 'weak'], 'string_or_number', 'node'],
    location_fields: ['object_index', 'script_id', 'line', 'column'],
  }
  return JSON.stringify({
    snapshot: { meta: o.meta?.(meta) ?? meta, node_count: o.nodeCount ?? 4, edge_count: o.edgeCount ?? 3 },
    nodes: o.nodes ?? [9, 0, 1, 0, 2, 0, 0, 9, 1, 3, 0, 0, 0, 0, 3, 2, 5, 100, 1, 0, 0, 3, 3, 7, 40, 0, 0, 0],
    edges: o.edges ?? [5, 2, 7, 5, 4, 14, 2, 5, 21],
    locations: [],
    strings: ['', '(GC roots)', 'global', 'Foo', 'x', 'a'],
  })
}

test('a small hand-made snapshot is read (the base of the bad inputs below)', () => {
  const file = path.join(dir, 'tiny.heapsnapshot')
  fs.writeFileSync(file, tinySnapshot())
  const a = cliJson('analyze', file)
  assert.deepEqual({ nodeCount: a.nodeCount, edgeCount: a.edgeCount, totalSize: a.totalSize }, { nodeCount: 4, edgeCount: 3, totalSize: 140 })
  assert.deepEqual(a.classes, [
    { name: 'global', count: 1, selfSize: 100, retainedSize: 140 },
    { name: 'Foo', count: 1, selfSize: 40, retainedSize: 40 },
  ])
  assert.equal(a.largestObjects.find((o) => o.name === 'Foo')?.retainerPath, 'global.a (Foo)')
})

test('every bad input exits 2 with one line naming the problem', { timeout: 120_000 }, () => {
  const { base } = knownHeap(process.execPath)
  const real = fs.readFileSync(base)
  const offset = (text) => {
    const at = real.indexOf(text)
    assert.ok(at > 0, text)
    return at + text.length
  }
  const [nodesAt, edgesAt, stringsAt] = [offset('"nodes":['), offset('"edges":['), offset('"strings":[')]
  const mid = (from, to) => from + Math.floor((to - from) / 2)
  const [cutNodes, cutEdges, cutStrings] = [mid(nodesAt, edgesAt), mid(edgesAt, stringsAt), mid(stringsAt, real.length)]
  // A real node row starts at nodesAt: "9,1,1,0,..."; replace its second number.
  const second = real.indexOf(',', nodesAt) + 1
  const patched = (text) => Buffer.concat([real.subarray(0, second), Buffer.from(text), real.subarray(real.indexOf(',', second))])

  const cases = [
    ['a missing file', null, (f) => `cannot read ${f}: No such file or directory (os error 2)`],
    ['a directory', 'dir', (f) => `cannot read ${f}: it is a folder`],
    ['an empty file', '', (f) => `${f}: the file ends at byte 0, inside the snapshot: the snapshot is truncated`],
    ['a text file', 'hello, world\n', (f) => `${f}: not a heap snapshot: expected '{', found 'h' at byte 0`],
    ['a JSON array', '[1, 2, 3]', (f) => `${f}: not a heap snapshot: expected '{', found '[' at byte 0`],
    ['binary noise', Buffer.alloc(4096, 0), (f) => `${f}: not a heap snapshot: expected '{', found '\\x00' at byte 0`],
    ['an empty object', '{}', (f) => `${f}: inconsistent snapshot: the snapshot has no "snapshot" section`],
    ['a snapshot cut in the middle of nodes', real.subarray(0, cutNodes), (f) => `${f}: the file ends at byte ${cutNodes}, inside nodes: the snapshot is truncated`],
    ['a snapshot cut in the middle of edges', real.subarray(0, cutEdges), (f) => `${f}: the file ends at byte ${cutEdges}, inside edges: the snapshot is truncated`],
    ['a snapshot cut in the middle of strings', real.subarray(0, cutStrings), (f) => `${f}: the file ends at byte ${cutStrings}, inside strings: the snapshot is truncated`],
    ['a snapshot cut in its header', real.subarray(0, 300), (f) => `${f}: the file ends at byte 300, inside the snapshot header: the snapshot is truncated`],
    ['a letter among the nodes', patched('x'), (f) => `${f}: not a heap snapshot: expected a number in nodes, found 'x' at byte ${second}`],
    ['a negative number among the nodes', patched('-1'), (f) => `${f}: not a heap snapshot: expected a number in nodes, found '-' at byte ${second}`],
    ['a fraction among the nodes', patched('1.5'), (f) => new RegExp(`^${esc(f)}: not a heap snapshot: expected a whole number in nodes at byte ${second + 1}$`)],
    ['something after the snapshot', Buffer.concat([real, Buffer.from('{}')]), (f) => `${f}: not a heap snapshot: unexpected '{' after the snapshot at byte ${real.length}`],
    ['meta without node_fields', tinySnapshot({ meta: ({ node_fields: _, ...m }) => m }), (f) => `${f}: unknown snapshot layout: meta has no "node_fields" list`],
    ['meta without edge_fields', tinySnapshot({ meta: ({ edge_fields: _, ...m }) => m }), (f) => `${f}: unknown snapshot layout: meta has no "edge_fields" list`],
    [
      'edge fields without to_node',
      tinySnapshot({ meta: (m) => ({ ...m, edge_fields: ['type', 'name_or_index', 'target'] }) }),
      (f) => `${f}: unknown snapshot layout: edge fields ["type", "name_or_index", "target"] have no "to_node"`,
    ],
    [
      'node fields without self_size',
      tinySnapshot({ meta: (m) => ({ ...m, node_fields: m.node_fields.map((x) => (x === 'self_size' ? 'size' : x)) }) }),
      (f) => new RegExp(`^${esc(f)}: unknown snapshot layout: node fields .* have no "self_size"$`),
    ],
    ['a header without node_count', tinySnapshot().replace('"node_count":4,', ''), (f) => `${f}: unknown snapshot layout: the header has no "node_count"`],
    [
      'an edge to_node past the last node',
      tinySnapshot({ edges: [5, 2, 7, 5, 4, 14, 2, 5, 28] }),
      (f) => `${f}: inconsistent snapshot: edge 2 points at 28, not a node (node rows are 7 wide, 28 numbers in all), before byte 699`,
    ],
    [
      'an edge to_node inside a node row',
      tinySnapshot({ edges: [5, 2, 7, 5, 4, 14, 2, 5, 22] }),
      (f) => `${f}: inconsistent snapshot: edge 2 points at 22, not a node (node rows are 7 wide, 28 numbers in all), before byte 699`,
    ],
    ['node_count larger than the nodes', tinySnapshot({ nodeCount: 5 }), (f) => `${f}: inconsistent snapshot: 4 nodes in "nodes", the header says 5`],
    ['edge_count smaller than the edges', tinySnapshot({ edgeCount: 2 }), (f) => `${f}: inconsistent snapshot: nodes up to node 2 claim more edges than the 2 the header says, before byte 669`],
    [
      'nodes claiming more edges than there are',
      tinySnapshot({ nodes: [9, 0, 1, 0, 3, 0, 0, 9, 1, 3, 0, 0, 0, 0, 3, 2, 5, 100, 1, 0, 0, 3, 3, 7, 40, 0, 0, 0] }),
      (f) => `${f}: inconsistent snapshot: nodes up to node 2 claim more edges than the 3 the header says, before byte 669`,
    ],
    [
      'a node name past the strings',
      tinySnapshot({ nodes: [9, 0, 1, 0, 2, 0, 0, 9, 1, 3, 0, 0, 0, 0, 3, 2, 5, 100, 1, 0, 0, 3, 99, 7, 40, 0, 0, 0] }),
      (f) => `${f}: inconsistent snapshot: node 3 names string 99, there are 6`,
    ],
    [
      'nodes of more than 2^32 numbers (2^31 nodes of 7 fields)',
      tinySnapshot({ nodeCount: 2 ** 31 }),
      (f) => `${f}: snapshot too large for 32-bit indexes: 2147483648 nodes of 7 fields do not fit 32-bit indexes`,
    ],
    ['a node_count over 32 bits', tinySnapshot({ nodeCount: 2 ** 32 }), (f) => `${f}: snapshot too large for 32-bit indexes: node_count is 4294967296`],
    ['edges of more than 2^32 numbers', tinySnapshot({ edgeCount: 2 ** 31 }), (f) => `${f}: snapshot too large for 32-bit indexes: 2147483648 edges of 3 fields do not fit 32-bit indexes`],
  ].map(([what, content, message, range]) => ({ what, content, message, range }))

  const failures = []
  for (const [i, { what, content, message, range }] of cases.entries()) {
    const file = path.join(dir, `bad-${i}.heapsnapshot`)
    if (content === 'dir') fs.mkdirSync(file)
    else if (content !== null) fs.writeFileSync(file, content)
    const started = Date.now()
    const r = cli('analyze', file)
    const ms = Date.now() - started
    const lines = r.stderr.split('\n').filter((l) => l !== '')
    const expected = message(file)
    const line = lines[0]?.replace(/^node-oom-heapdump: /, '')
    const ok =
      r.status === 2 &&
      r.stdout === '' &&
      lines.length === 1 &&
      lines[0].startsWith('node-oom-heapdump: ') &&
      (typeof expected === 'string' ? line === expected : expected.test(line)) &&
      (!range || (Number(expected.exec(line)[1]) >= range[0] && Number(expected.exec(line)[1]) <= range[1]))
    if (!ok) failures.push(`${what}: status ${r.status}, ${ms} ms, stdout ${JSON.stringify(r.stdout.slice(0, 200))}, stderr ${JSON.stringify(r.stderr)}; expected ${expected}`)
  }
  assert.deepEqual(failures, [])
})

test('2^31 nodes in the header is refused before anything is allocated', (t) => {
  if (!fs.existsSync(NATIVE_ANALYZER)) return skipOrFail(t, `${NATIVE_ANALYZER} is not built (node scripts/build.js)`)
  const file = path.join(dir, 'huge-header.heapsnapshot')
  fs.writeFileSync(file, tinySnapshot({ nodeCount: 2 ** 31 }))
  // 64 MB of address space: enough to run the analyzer, far too little for 2^31 x 7 u32 numbers.
  const r = spawnSync('/bin/sh', ['-c', 'ulimit -v 65536 && exec "$0" analyze "$1"', NATIVE_ANALYZER, file], { encoding: 'utf8', timeout: TIMEOUT })
  assert.equal(r.error, undefined)
  assert.equal(r.signal, null, r.stderr)
  assert.equal(r.status, 2, r.stderr)
  assert.match(r.stderr, /^node-oom-heapdump: .*: snapshot too large for 32-bit indexes: /)
  // The same binary reads a small valid snapshot under the same limit.
  const ok = path.join(dir, 'tiny-ulimit.heapsnapshot')
  fs.writeFileSync(ok, tinySnapshot())
  const good = spawnSync('/bin/sh', ['-c', 'ulimit -v 65536 && exec "$0" analyze "$1"', NATIVE_ANALYZER, ok], { encoding: 'utf8', timeout: TIMEOUT })
  assert.equal(good.status, 0, good.stderr)
})

test('a FIFO is refused at once by the CLI and by analyzeHeapSnapshot(), not read forever', { timeout: 60_000 }, async (t) => {
  if (process.platform === 'win32') return t.skip('no FIFOs')
  const fifo = path.join(dir, 'snapshot.fifo')
  const made = spawnSync('mkfifo', [fifo])
  assert.equal(made.status, 0, `mkfifo: ${made.stderr}`)
  const message = `cannot read ${fifo}: it is a FIFO (named pipe), not a regular file`
  // Nobody writes to the FIFO: reading it would block forever (cli() fails on its timeout).
  const r = cli('analyze', fifo)
  assert.equal(r.status, 2, r.stderr)
  assert.equal(r.stdout, '')
  assert.equal(r.stderr, `node-oom-heapdump: ${message}\n`)
  const d = cli('diff', fifo, fifo)
  assert.equal(d.status, 2, d.stderr)
  assert.equal(d.stderr, `node-oom-heapdump: ${message}\n`)
  const { analyzeHeapSnapshot } = require('..')
  let timer
  const hang = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error('analyzeHeapSnapshot(fifo) still pending after 20 s')), TIMEOUT)
  })
  try {
    await assert.rejects(Promise.race([analyzeHeapSnapshot(fifo), hang]), (err) => {
      assert.equal(err.message, message)
      return true
    })
  } finally {
    clearTimeout(timer)
  }
})

test('diff with a bad file names that file', { timeout: 60_000 }, () => {
  const { base } = knownHeap(process.execPath)
  const truncated = path.join(dir, 'diff-truncated.heapsnapshot')
  fs.writeFileSync(truncated, fs.readFileSync(base).subarray(0, 5000))
  const broken = path.join(dir, 'diff-broken-edge.heapsnapshot')
  fs.writeFileSync(broken, tinySnapshot({ edges: [5, 2, 7, 5, 4, 14, 2, 5, 28] }))
  const missing = path.join(dir, 'diff-missing.heapsnapshot')
  for (const [args, bad, problem] of [
    [[base, truncated], truncated, 'the file ends at byte 5000, inside nodes'],
    [[truncated, base], truncated, 'the file ends at byte 5000, inside nodes'],
    [[broken, base], broken, 'inconsistent snapshot: edge 2 points at 28'],
    [[base, missing], missing, 'No such file or directory'],
    [['/', base], '/', 'it is a folder'],
  ]) {
    const r = cli('diff', ...args)
    assert.equal(r.status, 2, `diff ${args.join(' ')}: ${r.stderr}`)
    assert.equal(r.stdout, '')
    const lines = r.stderr.split('\n').filter((l) => l !== '')
    assert.equal(lines.length, 1, r.stderr)
    assert.ok(lines[0].includes(problem), `diff ${args.join(' ')}: ${lines[0]} says ${problem}`)
    assert.ok(lines[0].includes(bad), `diff ${args.join(' ')}: "${lines[0]}" names ${bad}`)
  }
})

function esc(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

// ---------------------------------------------------------------------------------------------
// Gzip: .heapsnapshot.gz is read directly (the fleet compresses dumps before upload), recognized
// by gzip's magic bytes whatever the name; the answers are those of the plain file.

test('a gzip-compressed snapshot is read directly by analyze, diff and analyzeHeapSnapshot(), whatever its name', { timeout: 120_000 }, async () => {
  const { base, target } = knownHeap(process.execPath)
  const zlib = await import('node:zlib')
  const gz = (from, name, level = 6) => {
    const file = path.join(dir, name)
    fs.writeFileSync(file, zlib.gzipSync(fs.readFileSync(from), { level }))
    return file
  }
  const baseGz = gz(base, 'gz-base.heapsnapshot.gz')
  const targetGzNoSuffix = gz(target, 'gz-target.heapsnapshot', 1)
  assert.ok(fs.statSync(baseGz).size < fs.statSync(base).size / 3, 'it is compressed')
  assert.deepEqual(cliJson('analyze', baseGz, '--top', BIG_TOP), cliJson('analyze', base, '--top', BIG_TOP))
  assert.deepEqual(cliJson('analyze', targetGzNoSuffix), cliJson('analyze', target))
  assert.deepEqual(cliJson('diff', baseGz, targetGzNoSuffix), cliJson('diff', base, target))
  const text = cli('analyze', baseGz)
  assert.equal(text.status, 0, text.stderr)
  assert.equal(text.stdout.replace(baseGz, 'F'), cli('analyze', base).stdout.replace(base, 'F'))
  const { analyzeHeapSnapshot } = require('..')
  assert.deepEqual(await analyzeHeapSnapshot(baseGz, { top: 5 }), cliJson('analyze', base, '--top', '5'))

  // Two gzip members in one file (`cat a.gz b.gz`, or a compressor writing in blocks) are one stream.
  const whole = fs.readFileSync(base)
  const half = Math.floor(whole.length / 2)
  const members = path.join(dir, 'gz-members.heapsnapshot.gz')
  fs.writeFileSync(members, Buffer.concat([zlib.gzipSync(whole.subarray(0, half)), zlib.gzipSync(whole.subarray(half))]))
  assert.deepEqual(cliJson('analyze', members), cliJson('analyze', base))
})

test('analyze - reads standard input: a file, a pipe, gzip; a terminal or device is refused; errors say (stdin)', { timeout: 120_000 }, async () => {
  const { base } = knownHeap(process.execPath)
  const zlib = await import('node:zlib')
  const whole = fs.readFileSync(base)
  const expected = cliJson('analyze', base)
  const stdin = (input, ...args) => {
    const r = spawnSync(process.execPath, [BIN, 'analyze', '-', ...args], {
      input,
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      encoding: 'utf8',
      timeout: TIMEOUT,
      maxBuffer: 64 << 20,
    })
    assert.equal(r.error, undefined, r.error?.message)
    return r
  }
  // A pipe, plain and gzip.
  for (const input of [whole, zlib.gzipSync(whole, { level: 1 })]) {
    const r = stdin(input, '--json')
    assert.equal(r.status, 0, r.stderr)
    assert.deepEqual(JSON.parse(r.stdout), expected)
  }
  // A pipe that hands over gzip's first byte alone; one left non-blocking (O_NONBLOCK), fed slowly.
  const gzFile = path.join(dir, 'stdin.heapsnapshot.gz')
  fs.writeFileSync(gzFile, zlib.gzipSync(whole, { level: 1 }))
  const oneByte = spawnSync('/bin/sh', ['-c', '(head -c1 "$1"; sleep 0.3; tail -c +2 "$1") | "$0" analyze - --json', NATIVE_ANALYZER, gzFile], {
    encoding: 'utf8',
    timeout: TIMEOUT,
    maxBuffer: 64 << 20,
  })
  assert.equal(oneByte.status, 0, oneByte.stderr)
  assert.deepEqual(JSON.parse(oneByte.stdout), expected)
  const nonBlocking = spawnSync(
    'python3',
    [
      '-c',
      `import fcntl, os, subprocess, sys, time
r, w = os.pipe()
fcntl.fcntl(r, fcntl.F_SETFL, fcntl.fcntl(r, fcntl.F_GETFL) | os.O_NONBLOCK)
p = subprocess.Popen([sys.argv[1], 'analyze', '-', '--json'], stdin=r)
os.close(r)
data = open(sys.argv[2], 'rb').read()
for i in range(0, len(data), 65536):
    time.sleep(0.01)
    os.write(w, data[i:i + 65536])
os.close(w)
sys.exit(p.wait())`,
      NATIVE_ANALYZER,
      gzFile,
    ],
    { encoding: 'utf8', timeout: TIMEOUT, maxBuffer: 64 << 20 },
  )
  assert.equal(nonBlocking.error, undefined, `python3 is needed here: ${nonBlocking.error?.message}`)
  assert.equal(nonBlocking.status, 0, nonBlocking.stderr)
  assert.deepEqual(JSON.parse(nonBlocking.stdout), expected)
  // A file as standard input (`analyze - < FILE`), as the text report names it.
  const text = spawnSync('/bin/sh', ['-c', 'exec "$0" analyze - < "$1"', NATIVE_ANALYZER, base], { encoding: 'utf8', timeout: TIMEOUT, maxBuffer: 64 << 20 })
  assert.equal(text.status, 0, text.stderr)
  assert.equal(text.stdout, cli('analyze', base).stdout.replace(base, '(stdin)'))
  // Not a snapshot, cut short, and /dev/null (a device): one line naming (stdin), exit 2.
  for (const [input, message] of [
    [Buffer.from('hello'), "node-oom-heapdump: (stdin): not a heap snapshot: expected '{', found 'h' at byte 0\n"],
    [whole.subarray(0, 5000), 'node-oom-heapdump: (stdin): the file ends at byte 5000, inside nodes: the snapshot is truncated\n'],
  ]) {
    const r = stdin(input)
    assert.equal(r.status, 2, r.stderr)
    assert.equal(r.stderr, message)
  }
  const devNull = stdin(undefined)
  assert.equal(devNull.status, 2, devNull.stderr)
  assert.equal(devNull.stderr, 'node-oom-heapdump: cannot read (stdin): it is a character device, not a regular file\n')
})

test('a broken gzip snapshot exits 2 with one line naming the problem', { timeout: 60_000 }, async () => {
  const { base } = knownHeap(process.execPath)
  const zlib = await import('node:zlib')
  const whole = fs.readFileSync(base)
  const compressed = zlib.gzipSync(whole)
  // The plain file cut where the gzip's content is cut: the gunzipped offset is named.
  const cutPlain = zlib.gzipSync(whole.subarray(0, 5000))
  const corrupt = Buffer.from(compressed)
  for (let i = 2000; i < 2400; i++) corrupt[i] ^= 0x55
  const notSnapshot = zlib.gzipSync(Buffer.from('hello, world\n'))
  const cases = [
    ['gzip of a cut snapshot', cutPlain, (f) => `${f}: the gunzipped snapshot ends at byte 5000, inside nodes: the snapshot is truncated`],
    [
      'a gzip file cut short',
      compressed.subarray(0, compressed.length >> 1),
      (f) => new RegExp(`^${esc(f)}: the gzip file ends inside its compressed data, after byte \\d+ of the gunzipped snapshot: the file is truncated \\(.+\\)$`),
    ],
    ['a corrupt deflate stream', corrupt, (f) => new RegExp(`^${esc(f)}: the gzip file is damaged after byte \\d+ of the gunzipped snapshot: .+$`)],
    ['gzip of a text file', notSnapshot, (f) => `${f}: not a heap snapshot: expected '{', found 'h' at byte 0 of the gunzipped snapshot`],
    [
      'only the magic bytes',
      Buffer.from([0x1f, 0x8b]),
      (f) => `${f}: the gzip file ends inside its compressed data, after byte 0 of the gunzipped snapshot: the file is truncated (unexpected end of file)`,
    ],
  ]
  const failures = []
  for (const [i, [what, content, message]] of cases.entries()) {
    const file = path.join(dir, `bad-gz-${i}.heapsnapshot.gz`)
    fs.writeFileSync(file, content)
    const r = cli('analyze', file)
    const lines = r.stderr.split('\n').filter((l) => l !== '')
    const expected = message(file)
    const line = lines[0]?.replace(/^node-oom-heapdump: /, '')
    const ok = r.status === 2 && r.stdout === '' && lines.length === 1 && (typeof expected === 'string' ? line === expected : expected.test(line))
    if (!ok) failures.push(`${what}: status ${r.status}, stderr ${JSON.stringify(r.stderr)}; expected ${expected}`)
  }
  assert.deepEqual(failures, [])
})

// ---------------------------------------------------------------------------------------------
// What DevTools accepts, read as DevTools reads it: a node type meta does not name (old Chrome)
// is the type `undefined`, class "(undefined)"; a number wider than 32 bits (Julia's node ids) is
// kept modulo 2^32, as DevTools' Uint32Arrays keep it (digit by digit into a double first).

/** The known heap's base snapshot rewritten by `edit(snapshot, fieldsOf)`, as JSON text with `ids` (texts) as the node ids. */
function rewritten(name, edit) {
  const { base } = knownHeap(process.execPath)
  const s = JSON.parse(fs.readFileSync(base, 'utf8'))
  const fields = s.snapshot.meta.node_fields
  const ids = edit(s, fields) ?? null
  let text = JSON.stringify(s)
  if (ids) {
    // Node ids as exact decimal texts, beyond what a JS number holds.
    const [nf, idAt] = [fields.length, fields.indexOf('id')]
    const rows = []
    for (let i = 0; i < s.nodes.length; i += nf)
      rows.push(
        s.nodes
          .slice(i, i + nf)
          .map((x, j) => (j === idAt ? ids[i / nf] : String(x)))
          .join(','),
      )
    const nodesText = `"nodes":[${rows.join(',')}]`
    text = text.replace(/"nodes":\[[^\]]*\]/, () => nodesText)
  }
  const file = path.join(dir, name)
  fs.writeFileSync(file, text)
  return file
}

/** Our Summary rows and totals against DevTools' model on `file`; the differences, none expected. */
async function differencesFromDevTools(t, file) {
  const ours = cliJson('analyze', file, '--top', BIG_TOP)
  const model = await devtoolsModel(t)
  if (!model) return null
  const theirs = await quietly(() => model.summary(file))
  const numbers = (c) => c && JSON.stringify({ name: c.name, count: c.count, selfSize: c.selfSize, retainedSize: c.retainedSize })
  const differences = []
  const totals = (a) => JSON.stringify([a.nodeCount, a.edgeCount, a.totalSize])
  if (totals(ours) !== totals(theirs)) differences.push(`totals: ours ${totals(ours)}, DevTools ${totals(theirs)}`)
  const [o, d] = [new Map(ours.classes.map((c) => [keyOf(c), c])), new Map(theirs.classes.map((c) => [keyOf(c), c]))]
  for (const key of new Set([...o.keys(), ...d.keys()])) {
    if (numbers(o.get(key)) !== numbers(d.get(key))) differences.push(`${key}: ours ${numbers(o.get(key)) ?? 'absent'}, DevTools ${numbers(d.get(key)) ?? 'absent'}`)
  }
  return { ours, differences }
}

test('a node type meta does not name is "undefined", as in DevTools: class "(undefined)", numbers equal to DevTools\'', { timeout: 120_000 }, async (t) => {
  let changed = 0
  const file = rewritten('undefined-type.heapsnapshot', (s, fields) => {
    const [nf, typeAt, nameAt] = [fields.length, fields.indexOf('type'), fields.indexOf('name')]
    const keptName = s.strings.indexOf('Kept')
    const types = s.snapshot.meta.node_types[0].length
    // Every Kept object gets a type past meta's list (old Chrome wrote types newer DevTools lacks).
    for (let i = 0; i < s.nodes.length; i += nf) {
      if (s.nodes[i + nameAt] === keptName && s.snapshot.meta.node_types[0][s.nodes[i + typeAt]] === 'object') {
        s.nodes[i + typeAt] = types + 3
        changed++
      }
    }
  })
  assert.equal(changed, 5000)
  const r = await differencesFromDevTools(t, file)
  if (!r) return
  assert.deepEqual(r.differences, [])
  const row = oneRow(r.ours, '(undefined)')
  assert.equal(row.count, 5000)
  assert.deepEqual(rowsNamed(r.ours, 'Kept'), [])
})

test('node ids wider than 32 bits keep their low 32 bits, as in DevTools (analyze and diff)', { timeout: 120_000 }, async (t) => {
  const { base, target } = knownHeap(process.execPath)
  // Below 2^53 the low 32 bits are exact; above, DevTools' double rounds first, and so do we.
  const wide = (name, high) =>
    rewritten(name, (s, fields) => {
      const [nf, idAt] = [fields.length, fields.indexOf('id')]
      const ids = []
      for (let i = 0; i < s.nodes.length; i += nf) ids.push(String((BigInt(high) << 32n) + BigInt(s.nodes[i + idAt])))
      return ids
    })
  const exact = wide('wide-ids.heapsnapshot', 0x5a5a5)
  assert.match(fs.readFileSync(exact, 'utf8').slice(0, 100000), /"nodes":\[\d+,\d+,\d{15,},/)
  // Kept modulo 2^32, the ids are the original ones: every answer is the original's.
  assert.deepEqual(cliJson('analyze', exact, '--top', BIG_TOP), cliJson('analyze', base, '--top', BIG_TOP))
  assert.deepEqual(cliJson('diff', exact, target), cliJson('diff', base, target))
  const r = await differencesFromDevTools(t, exact)
  if (r) assert.deepEqual(r.differences, [])

  // 64-bit ids (Julia's are addresses): past 2^53, as DevTools computes them.
  const huge = wide('huge-ids.heapsnapshot', 0xfedcba98)
  const h = await differencesFromDevTools(t, huge)
  if (h) assert.deepEqual(h.differences, [])
  const model = await devtoolsModel(t)
  if (!model) return
  const theirs = await quietly(() => model.diff(huge, target))
  const ours = cliJson('diff', huge, target)
  const line = (c) => JSON.stringify([c.name, c.addedCount, c.removedCount, c.countDelta, c.addedSize, c.removedSize, c.sizeDelta])
  assert.deepEqual(ours.classes.map(line).sort(), theirs.classes.map(line).sort())
})

// ---------------------------------------------------------------------------------------------
// Duplicate strings (MAT's and memlab's report).

test('duplicate strings: the bytes their copies waste and the texts that waste most, cut at a character boundary', { timeout: 60_000 }, () => {
  const file = path.join(dir, 'duplicate-strings.heapsnapshot')
  const r = spawnSync(process.execPath, [fixture(path.join('analyzer', 'duplicate-strings.js')), file], { encoding: 'utf8', timeout: 60_000 })
  assert.equal(r.status, 0, r.stderr)
  const { long, short } = JSON.parse(r.stdout)
  const a = cliJson('analyze', file)
  const d = a.duplicateStrings
  assert.deepEqual(Object.keys(d), ['values', 'copies', 'size', 'wastedSize', 'top'])
  assert.equal(d.top.length, 10)
  const [first, second] = d.top
  // The long text: 100 characters at most and 256 UTF-8 bytes at most, whole characters.
  assert.equal(first.truncated, true)
  assert.ok(long.startsWith(first.value), first.value)
  assert.ok(Buffer.byteLength(first.value) <= 256 && [...first.value].length <= 100, first.value)
  assert.ok(Buffer.byteLength(long.slice(0, first.value.length + 1)) > 256, 'cut at the byte bound, not earlier')
  // The copies and the app's own text (`long`, `short`).
  assert.equal(first.count, 3001)
  assert.ok(first.selfSize >= long.length * 2, `a two-byte string of ${long.length} characters: ${first.selfSize}`)
  assert.equal(first.wastedSize, 3000 * first.selfSize)
  assert.deepEqual({ ...second, selfSize: 0, wastedSize: 0 }, { value: short, truncated: false, count: 1001, selfSize: 0, wastedSize: 0 })
  assert.equal(second.wastedSize, 1000 * second.selfSize)
  // Sorted by waste; no text held once is listed; the totals add up over at least the two.
  for (let i = 1; i < d.top.length; i++) assert.ok(d.top[i - 1].wastedSize >= d.top[i].wastedSize)
  assert.ok(!d.top.some((s) => s.value.startsWith('unique text number')))
  assert.ok(d.wastedSize >= first.wastedSize + second.wastedSize && d.copies >= 4002 && d.values >= 2)
  assert.ok(d.size - d.wastedSize >= first.selfSize + second.selfSize)

  // The text report: one line per text, quoted, the cut marked.
  const text = cli('analyze', file).stdout
  const head = text.split('\n').find((l) => l.startsWith('Duplicate strings: '))
  assert.match(head, /^Duplicate strings: [\d.]+ [kMG]?B wasted \([\d.]+% of the heap\) by [\d,]+ copies of [\d,]+ texts:$/)
  const line = text.split('\n').find((l) => l.includes(JSON.stringify(first.value)))
  assert.match(line, /^\s+[\d.]+ [kM]?B\s+3,001\s+[\d.]+ [k]?B {2}".*"\u2026$/)
  assert.ok(text.split('\n').some((l) => l.endsWith(`  ${JSON.stringify(short)}`) && / 1,001 /.test(l)))
})
