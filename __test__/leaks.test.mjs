// `node-oom-heapdump leaks s1 s2 s3` (crates/analyzer/src/leaks.rs): the three-snapshot technique
// on a real app (fixtures/leaks/three-snapshots.js) run on every supported Node major. It leaks
// LeakedRequest objects into global.history.entries and Session objects into a module-scope Map,
// keeps a catalog built before the first snapshot, makes garbage, and builds Report objects after
// the first snapshot that it drops before the third. The objects leaked between the first and the
// second snapshot are counted independently here, from the parsed snapshots' ids.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { after, before, test } from 'node:test'
import { root, tmpdir } from '../support/paths.js'
import { MAJORS, fixture, nodeBinary, readSnapshot, skipOrFail } from './helpers.mjs'

const BIN = path.join(root, 'bin', 'node-oom-heapdump.js')
const APP = fixture(path.join('leaks', 'three-snapshots.js'))
const TIMEOUT = 60_000

let dir
before(() => {
  dir = tmpdir('leaks')
})
after(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true })
})

function cli(...args) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: TIMEOUT, maxBuffer: 64 << 20 })
  assert.equal(r.error, undefined, `node-oom-heapdump ${args.join(' ')}: ${r.error?.message}`)
  return r
}

function ok(...args) {
  const r = cli(...args)
  assert.equal(r.status, 0, `node-oom-heapdump ${args.join(' ')} exited ${r.status}: ${r.stderr}`)
  assert.equal(r.stderr, '')
  return r.stdout
}

const runs = new Map()
/** The app's three snapshots on `node`. */
function threeSnapshots(node) {
  if (runs.has(node)) return runs.get(node)
  const files = [1, 2, 3].map((i) => path.join(dir, `run${runs.size}-s${i}.heapsnapshot`))
  const r = spawnSync(node, [APP, ...files], { encoding: 'utf8', timeout: TIMEOUT })
  assert.equal(r.status, 0, `${node} ${APP}: ${r.error?.message ?? ''} ${r.stderr}`)
  assert.deepEqual(JSON.parse(r.stdout), { leakedRequests: 1000, leakedSessions: 500, catalog: 3000, sessions: 1000, garbage: true, reports: 0 })
  runs.set(node, files)
  return files
}

/** Ids of the objects named `name`, by snapshot; and every id. */
function idsOf(file, name) {
  const s = readSnapshot(file)
  const m = s.snapshot.meta
  const [nf, nameAt, idAt] = [m.node_fields.length, m.node_fields.indexOf('name'), m.node_fields.indexOf('id')]
  const nameIndex = s.strings.indexOf(name)
  const all = new Set()
  const named = new Set()
  for (let i = 0; i < s.nodes.length; i += nf) {
    all.add(s.nodes[i + idAt])
    if (s.nodes[i + nameAt] === nameIndex) named.add(s.nodes[i + idAt])
  }
  return { all, named }
}

for (const major of MAJORS) {
  test(`Node ${major}: leaks finds what was allocated after s1 and kept in s2 and s3, grouped by where it is held`, { timeout: 120_000 }, (t) => {
    const node = nodeBinary(major)
    if (!node) return skipOrFail(t, `no Node.js ${major} binary (npm test's pretest fetches it into .cache/node)`)
    const files = threeSnapshots(node)
    const l = JSON.parse(ok('leaks', ...files, '--json'))
    const shown = JSON.stringify(l.groups.slice(0, 5), null, 1)

    // Independently: the LeakedRequest and Session objects of s3 new since s1 and present in s2.
    const [s1, s2, s3] = files.map((f) => idsOf(f, 'LeakedRequest'))
    const requests = [...s3.named].filter((id) => !s1.all.has(id) && s2.all.has(id))
    assert.equal(requests.length, 1000)
    const [t1, t2, t3] = files.map((f) => idsOf(f, 'Session'))
    const sessions = [...t3.named].filter((id) => !t1.all.has(id) && t2.all.has(id))
    assert.equal(sessions.length, 500)

    // The largest group is the leaked requests, by the path the app's code uses.
    const [first] = l.groups
    assert.equal(first.retainerPath, 'global.history.entries[*] (LeakedRequest)', shown)
    assert.equal(first.name, 'LeakedRequest')
    assert.equal(first.count, 1000)
    // Each holds its url string and its headers object: more objects than leak roots.
    assert.ok(first.objects >= 2 * first.count && first.selfSize > 0 && first.retainedSize > 100 * first.count, shown)
    assert.equal(first.examples.length, 3)
    for (const id of first.examples) assert.ok(requests.includes(id), `example @${id} is a leaked request`)
    // The sessions: one group, in the module's Map.
    const session = l.groups.filter((g) => g.name === 'Session')
    assert.equal(session.length, 1, shown)
    assert.match(session[0].retainerPath, /^sessions -> table -> \[\*\] \(Session\) in /)
    assert.equal(session[0].count, 500)
    for (const id of session[0].examples) assert.ok(sessions.includes(id))
    assert.ok(first.retainedSize > session[0].retainedSize)
    // Not leaks: the catalog (before s1), the reports (dropped before s3), the garbage, and what
    // was allocated after s2.
    for (const name of ['Product', 'Report', 'Temp', 'Map']) assert.ok(!l.groups.some((g) => g.name === name), `no ${name} group: ${shown}`)
    assert.equal(
      l.groups.reduce((n, g) => n + (g.name === 'LeakedRequest' ? g.count : 0), 0),
      1000,
    )
    // Totals: every new object once.
    assert.ok(l.objects >= l.groups.reduce((n, g) => n + g.objects, 0))
    assert.ok(l.selfSize >= l.groups.reduce((n, g) => n + g.selfSize, 0))
    for (let i = 1; i < l.groups.length; i++) assert.ok(l.groups[i - 1].retainedSize >= l.groups[i].retainedSize, shown)
  })
}

test('leaks: the text report, and --top', { timeout: 60_000 }, () => {
  const files = threeSnapshots(process.execPath)
  const l = JSON.parse(ok('leaks', ...files, '--json'))
  const lines = ok('leaks', ...files, '--top', '2').split('\n')
  const total = l.objects.toLocaleString('en-US')
  assert.match(
    lines[0],
    new RegExp(`^${files.join(' -> ').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: ${total} objects \\([\\d.]+ kB\\) allocated after the first snapshot are alive in the second and the third$`),
  )
  assert.equal(lines[1], '')
  assert.match(lines[2], /^Where they are held in the third, by retained size \(top 2 of \d+ groups; /)
  assert.match(lines[3], /^ +Retained +Count +Objects {2}Retainer path \(examples\)$/)
  const first = l.groups[0]
  assert.equal(
    lines[4].trim().replace(/ +/g, ' '),
    `${(first.retainedSize / 1000).toFixed(1)} kB 1,000 ${first.objects.toLocaleString('en-US')} ${first.retainerPath} (${first.examples.map((id) => `@${id}`).join(' ')})`,
  )
  assert.equal(lines.filter((x) => x !== '').length, 5)
})

test('leaks: bad usage and a bad file exit 2 naming the problem', { timeout: 60_000 }, () => {
  const files = threeSnapshots(process.execPath)
  const two = cli('leaks', files[0], files[1])
  assert.equal(two.status, 2)
  assert.equal(two.stdout, '')
  assert.match(two.stderr, /^error: the following required arguments were not provided:\n +<S3\.heapsnapshot>\n/)
  const truncated = path.join(dir, 'truncated.heapsnapshot')
  fs.writeFileSync(truncated, fs.readFileSync(files[1]).subarray(0, 5000))
  for (const args of [
    [truncated, files[1], files[2]],
    [files[0], truncated, files[2]],
    [files[0], files[1], truncated],
  ]) {
    const r = cli('leaks', ...args)
    assert.equal(r.status, 2, r.stderr)
    assert.equal(r.stdout, '')
    assert.equal(r.stderr, `node-oom-heapdump: ${truncated}: the file ends at byte 5000, inside nodes: the snapshot is truncated\n`)
  }
})
