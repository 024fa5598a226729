// Leak suspects (crates/analyzer/src/suspects.rs) on real heaps: seven leaking apps of different
// shapes (fixtures/suspects/leaks.js), each run as a node child with a small heap on every
// supported Node major, each also keeping a legitimate catalog smaller than the leak. For each,
// the first suspect must be the leaking collection, its path must name the variable or property
// the app's code uses, and its first element class must be what leaks. Then the text report (the
// suspects come first), analyzeHeapSnapshot(), and the summary the helper prints after an OOM.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { after, before, test } from 'node:test'
import { root, tmpdir } from '../support/paths.js'
import { MAJORS, fixture, nodeBinary, runLeak, skipOrFail } from './helpers.mjs'

const require = createRequire(import.meta.url)
const BIN = path.join(root, 'bin', 'node-oom-heapdump.js')
const APP = fixture(path.join('suspects', 'leaks.js'))
const TIMEOUT = 60_000

// Per shape: the first suspect's path (from its start: the variable or property) and its first
// element class, then classes that must be among its elements.
const SHAPES = {
  'global-array': { path: /^global\.audit\.entries \(Array\)$/, first: 'AuditRecord' },
  'module-map': { path: /^sessionCache \(Map\) in /, first: 'Session' },
  'timer-set': { path: /^tracker\.seen \(Set\) in the closure of trackVisits$/, first: 'Visit' },
  'emitter-listeners': { path: /^bus\._events\.config \(Array\) in /, first: 'onConfig()', also: ['RequestContext'] },
  closures: { path: /^pendingCallbacks \(Object\) in /, first: '(anonymous function)', also: ['Payload'] },
  'linked-list': { path: /^history\.head \(HistoryNode\) in /, first: 'HistoryNode' },
  'string-log': { path: /^accessLog \(\(concatenated string\)\) in /, first: '(concatenated string)', also: ['(string)'] },
}

let dir
before(() => {
  dir = tmpdir('suspects')
})
after(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true })
})

function cli(...args) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: TIMEOUT, maxBuffer: 64 << 20 })
  assert.equal(r.error, undefined, `node-oom-heapdump ${args.join(' ')}: ${r.error?.message}`)
  assert.equal(r.status, 0, `node-oom-heapdump ${args.join(' ')} exited ${r.status}: ${r.stderr}`)
  assert.equal(r.stderr, '')
  return r.stdout
}

/** Runs the leaking app of `shape` on `node` until its snapshot is written; returns the file. */
const snapshots = new Map()
function leakSnapshot(node, shape) {
  const key = `${node} ${shape}`
  if (snapshots.has(key)) return snapshots.get(key)
  const out = path.join(dir, `${shape}-${snapshots.size}.heapsnapshot`)
  const r = spawnSync(node, ['--max-old-space-size=64', APP, shape, out], { encoding: 'utf8', timeout: TIMEOUT })
  assert.equal(r.status, 0, `${node} ${APP} ${shape}: ${r.error?.message ?? ''} ${r.stderr}`)
  assert.equal(JSON.parse(r.stdout).leaked, 40_000)
  snapshots.set(key, out)
  return out
}

for (const major of MAJORS) {
  for (const [shape, want] of Object.entries(SHAPES)) {
    test(`Node ${major}: ${shape}: the first suspect is the leak, named by its path, holding the leaking class`, { timeout: 120_000 }, (t) => {
      const node = nodeBinary(major)
      if (!node) return skipOrFail(t, `no Node.js ${major} binary (npm test's pretest fetches it into .cache/node)`)
      const a = JSON.parse(cli('analyze', leakSnapshot(node, shape), '--json'))
      const shown = JSON.stringify(a.suspects, null, 1)
      assert.ok(a.suspects.length >= 1, shown)
      const [first] = a.suspects
      assert.match(first.retainerPath, want.path, shown)
      assert.equal(first.elements[0]?.name, want.first, shown)
      for (const name of want.also ?? [])
        assert.ok(
          first.elements.some((e) => e.name === name),
          `${name} among the elements: ${shown}`,
        )
      // The leak holds most of the heap; the legitimate catalog (12,000 Product) is not first,
      // and where it is a suspect, it is one of its own, not inside the leak's.
      assert.ok(first.share > 0.4 && first.share < 1, shown)
      assert.equal(first.share, first.retainedSize / a.totalSize)
      assert.ok(!first.elements.some((e) => e.name === 'Product'), shown)
      const catalog = a.suspects.find((s) => /^catalog \(Map\)/.test(s.retainerPath))
      if (catalog) {
        assert.equal(catalog.elements[0].name, 'Product', shown)
        assert.equal(catalog.elements[0].count, 12_000)
        assert.ok(catalog.retainedSize < first.retainedSize)
      }
      for (const [i, s] of a.suspects.entries()) {
        assert.ok(s.share >= 0.1, `suspect ${i} holds 10% or more: ${shown}`)
        if (i > 0) assert.ok(a.suspects[i - 1].retainedSize >= s.retainedSize, `sorted at ${i}: ${shown}`)
        for (let k = 1; k < s.elements.length; k++) assert.ok(s.elements[k - 1].retainedSize >= s.elements[k].retainedSize, shown)
        assert.ok(s.elements.length <= 5)
      }
      // The leaking class's count: each leaked object is held once.
      const leaked = first.elements.find((e) => e.name === want.first)
      if (!want.first.startsWith('(')) assert.ok(leaked.count >= 39_999 && leaked.count <= 40_000, `${leaked.count} leaked objects: ${shown}`)
    })
  }
}

test('analyze: the text report starts with the leak suspects', { timeout: 120_000 }, () => {
  const file = leakSnapshot(process.execPath, 'module-map')
  const a = JSON.parse(cli('analyze', file, '--json'))
  const lines = cli('analyze', file).split('\n')
  assert.match(lines[0], / nodes, .* edges, .* in all$/)
  assert.equal(lines[1], '')
  assert.equal(lines[2], 'Leak suspects (objects of the app holding 10% of the heap or more, where it piles up):')
  // `  1.   13.7 MB   71%  sessionCache (Map) in a module's scope  @88511`, then its elements.
  const s = a.suspects[0]
  const head = lines[3].match(/^ +1\. +([\d.]+) (MB|kB) +(\d+)%  (.*)  @(\d+)$/)
  assert.ok(head, lines.slice(0, 12).join('\n'))
  assert.deepEqual(head.slice(3), [String(Math.round(s.share * 100)), s.retainerPath, String(s.id)])
  const element = lines[4].match(/^ +([\d,]+) x (.*)  [\d.]+ (?:MB|kB|B)$/)
  assert.ok(element, lines[4])
  assert.deepEqual([Number(element[1].replaceAll(',', '')), element[2]], [s.elements[0].count, s.elements[0].name])
  assert.ok(lines.indexOf("Top 10 classes by retained size (Chrome DevTools' Summary view):") > 3 + a.suspects.length)
})

test('analyzeHeapSnapshot() answers the suspects as analyze --json does', { timeout: 120_000 }, async () => {
  const { analyzeHeapSnapshot } = require('..')
  const file = leakSnapshot(process.execPath, 'timer-set')
  const ours = await analyzeHeapSnapshot(file)
  assert.deepEqual(ours.suspects, JSON.parse(cli('analyze', file, '--json')).suspects)
  assert.match(ours.suspects[0].retainerPath, SHAPES['timer-set'].path)
})

test('after an OOM, the helper prints the leak suspects first', { timeout: 120_000 }, async () => {
  const out = tmpdir('suspects-oom')
  const r = await runLeak({ options: { path: path.join(out, 'crash') } })
  assert.equal(r.code, 1, r.stderr)
  const summary = r.stderr.slice(r.stderr.indexOf('what filled the heap, from '))
  assert.ok(summary.length < r.stderr.length, r.stderr)
  const lines = summary.split('\n')
  assert.match(lines[1], / nodes, .* edges, .* in all$/, summary)
  assert.equal(lines[3], 'Leak suspects (objects of the app holding 10% of the heap or more, where it piles up):', summary)
  // support/fixtures/leak.js pushes LeakyRequestRecord objects into `const kept = []`.
  assert.match(lines[4], /^ +1\. .* kept \(Array\) in .*  @\d+$/, summary)
  assert.match(lines[5], / x LeakyRequestRecord {2}/, summary)
  fs.rmSync(out, { recursive: true, force: true })
})
