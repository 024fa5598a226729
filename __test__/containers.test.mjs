// Containers, in real memory cgroups: a cheap diagnosis always, a full snapshot only when it fits,
// GC_MONITORING snapshots while there is still room, and a report before a kill for memory outside
// the V8 heap.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { tmpdir } from '../support/paths.js'
import { start } from '../support/child.js'
import { runLeak, fixture, ls, mode, readSnapshot, countObjectsOfClass, skipOrFail, cgroupOrSkip } from './helpers.mjs'

const MB = 1024 * 1024

/** Reads a .heapprofile and checks it is the shape DevTools loads; returns it. */
function readHeapProfile(file) {
  const p = JSON.parse(fs.readFileSync(file, 'utf8'))
  assert.equal(p.head.callFrame.functionName, '(root)')
  const ids = new Set()
  const visit = (n) => {
    assert.equal(typeof n.callFrame.url, 'string')
    assert.equal(typeof n.callFrame.lineNumber, 'number')
    assert.equal(typeof n.selfSize, 'number')
    ids.add(n.id)
    n.children.forEach(visit)
  }
  visit(p.head)
  assert.ok(p.samples.length > 0, 'has samples')
  for (const s of p.samples) assert.ok(ids.has(s.nodeId), `sample of unknown node ${s.nodeId}`)
  return p
}

test('NATIVE_HOOK in a 256 MB cgroup: heap profile and report, no snapshot that would not fit', async (t) => {
  const cg = cgroupOrSkip(t, 256 * MB)
  if (!cg) return
  const dir = tmpdir('cg-native')
  const r = await runLeak({ heapMb: 64, options: { path: path.join(dir, 'crash') }, command: cg.command })
  assert.equal(r.code, 1, `exit ${r.code} ${r.signal}: ${r.stderr}`)
  assert.deepEqual(ls(dir), ['crash.heapprofile', 'crash.oom.json'], 'no .heapsnapshot, no temporary')
  for (const f of ls(dir)) assert.equal(mode(path.join(dir, f)), 0o600)
  const profile = readHeapProfile(path.join(dir, 'crash.heapprofile'))
  assert.ok(profile.samples.length > 10)
  const report = JSON.parse(fs.readFileSync(path.join(dir, 'crash.oom.json'), 'utf8'))
  assert.equal(report.kind, 'v8-heap-oom')
  assert.match(report.trigger.location, /heap limit|mark-compacts/)
  assert.equal(report.container.limit, 256 * MB)
  assert.match(report.container.source, new RegExp(`^cgroup v${cg.version} .*ohd-test-`))
  assert.ok(report.heapStatistics.usedHeapSize > 40 * MB)
  assert.ok(report.heapSpaces.some((s) => s.name === 'old_space'))
  assert.equal(report.snapshot.attempted, false)
  assert.match(report.snapshot.reason, /would need about .* but only .* is left under the 268.4 MB limit of cgroup/)
  assert.equal(report.topAllocationSites[0].functionName, 'leak', JSON.stringify(report.topAllocationSites.slice(0, 3)))
  assert.match(report.topAllocationSites[0].url, /leak\.js$/)
  assert.match(r.stderr, /where the heap was allocated \(live sampled bytes by allocation site\):\n +\d.* MB +leak \(.*leak\.js:\d+:\d+\)/)
  assert.match(r.stderr, /no heap snapshot: a heap snapshot would need about/)
})

test('forceSnapshot takes the snapshot anyway outside a container, with profile and report', async () => {
  const dir = tmpdir('force')
  const r = await runLeak({ heapMb: 32, options: { path: path.join(dir, 'crash'), forceSnapshot: true } })
  assert.equal(r.code, 1, r.stderr)
  assert.deepEqual(ls(dir), ['crash.heapprofile', 'crash.heapsnapshot', 'crash.oom.json'])
  readSnapshot(path.join(dir, 'crash.heapsnapshot'))
  const report = JSON.parse(fs.readFileSync(path.join(dir, 'crash.oom.json'), 'utf8'))
  assert.equal(report.snapshot.attempted, true)
  assert.equal(report.snapshot.outcome, 'written')
  assert.ok(report.snapshot.seconds > 0)
})

test('heapProfile: false writes the report without a profile', async () => {
  const dir = tmpdir('noprof')
  const r = await runLeak({ heapMb: 32, options: { path: path.join(dir, 'crash'), heapProfile: false } })
  assert.equal(r.code, 1, r.stderr)
  assert.ok(!ls(dir).includes('crash.heapprofile'))
  const report = JSON.parse(fs.readFileSync(path.join(dir, 'crash.oom.json'), 'utf8'))
  assert.match(report.heapProfile.reason, /heapProfile: false/)
})

test('GC_MONITORING in a 256 MB cgroup: a complete snapshot holding the leak, taken before the process died', async (t) => {
  const cg = cgroupOrSkip(t, 256 * MB)
  if (!cg) return
  const dir = tmpdir('cg-gc')
  const r = await runLeak({
    heapMb: 64,
    options: { path: path.join(dir, 'crash'), OOMImplementation: 'GC_MONITORING' },
    env: { OHD_LEAK_ASYNC: '1' },
    command: cg.command,
  })
  assert.notEqual(r.code, 0, 'the leak ends the process')
  assert.match(r.stderr, /GC_MONITORING snapshot 1 of 3: .*taking it while it still fits/)
  assert.ok(ls(dir).includes('crash.heapsnapshot'), `files: ${ls(dir)}\n${r.stderr}`)
  assert.ok(!ls(dir).some((f) => f.endsWith('.partial')), `a temporary is left: ${ls(dir)}`)
  const snap = readSnapshot(path.join(dir, 'crash.heapsnapshot'))
  assert.ok(countObjectsOfClass(snap, 'LeakyRequestRecord') > 1000, 'the leaking class is in it')
})

test('Buffers outside the V8 heap: the report is written before the kernel kills the process', async (t) => {
  const cg = cgroupOrSkip(t, 256 * MB)
  if (!cg) return
  const dir = tmpdir('cg-buf')
  const child = start([fixture('buffer-leak.js')], {
    env: { OHD_OPTIONS: JSON.stringify({ path: path.join(dir, 'crash'), rssThreshold: 80 }) },
    command: cg.command,
  })
  const r = await child.done
  assert.equal(r.signal, 'SIGKILL', `killed by the kernel, got ${r.code}: ${r.stderr}`)
  const report = JSON.parse(fs.readFileSync(path.join(dir, 'crash.oom.json'), 'utf8'))
  assert.equal(report.kind, 'container-memory-near-limit')
  assert.ok(report.trigger.percent >= 80, JSON.stringify(report.trigger))
  assert.equal(report.container.limit, 256 * MB)
  assert.ok(report.memoryUsage.arrayBuffers > 100 * MB, JSON.stringify(report.memoryUsage))
  assert.ok(report.memoryUsage.heapUsed < 50 * MB)
  assert.match(r.stderr, /memory at \d+% of the 268\.4 MB limit of cgroup .*array buffers \d+/)
  assert.ok(!ls(dir).some((f) => f.endsWith('.partial')), `a temporary is left: ${ls(dir)}`)
})

test('the hook also catches "Ineffective mark-compacts near heap limit"', async (t) => {
  for (let attempt = 1; attempt <= 3; attempt++) {
    const dir = tmpdir('ineffective')
    const r = await start(['--max-old-space-size=64', fixture('timer-leak.js')], {
      env: { OHD_OPTIONS: JSON.stringify({ path: path.join(dir, 'crash') }) },
    }).done
    if (!/FATAL ERROR: Ineffective mark-compacts near heap limit/.test(r.stderr)) continue
    assert.equal(r.code, 1, r.stderr)
    assert.deepEqual(ls(dir), ['crash.heapprofile', 'crash.heapsnapshot', 'crash.oom.json'])
    const snap = readSnapshot(path.join(dir, 'crash.heapsnapshot'))
    assert.ok(countObjectsOfClass(snap, 'TimerLeakEntry') > 10000)
    const report = JSON.parse(fs.readFileSync(path.join(dir, 'crash.oom.json'), 'utf8'))
    assert.equal(report.trigger.location, 'Ineffective mark-compacts near heap limit')
    return
  }
  skipOrFail(t, 'V8 ended all three runs through another OOM path')
})
