// OOM captures through the native hook: a leaking child process on every supported Node major.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { root, tmpdir } from '../support/paths.js'
import { MAJORS, nodeBinary, runLeak, readSnapshot, countObjectsOfClass, ls, mode, skipOrFail } from './helpers.mjs'

for (const major of MAJORS) {
  test(`Node ${major}: OOM leaves one complete snapshot holding the leak, mode 0600`, async (t) => {
    const node = nodeBinary(major)
    if (!node) return skipOrFail(t, `no Node.js ${major} (run scripts/other-nodes.js)`)
    const dir = tmpdir(`oom${major}`)
    const target = path.join(dir, 'crash')
    const r = await runLeak({ node, heapMb: 50, options: { path: target } })
    assert.equal(r.code, 1, r.stderr)
    assert.match(r.stderr, /FATAL ERROR: .* JavaScript heap out of memory/)
    const final = `${target}.heapsnapshot`
    assert.match(r.stderr, new RegExp(`generating heap snapshot to ${final} now`))
    assert.match(r.stderr, /wrote .*crash\.heapsnapshot \(\d+\.\d MB, \d+ nodes, \d+ edges\) in \d+\.\d s .*via helper process/)
    assert.deepEqual(ls(dir), ['crash.heapprofile', 'crash.heapsnapshot', 'crash.oom.json'], 'no temporary file beside them')
    assert.equal(mode(final), 0o600)
    const snap = readSnapshot(final)
    const leaked = countObjectsOfClass(snap, 'LeakyRequestRecord')
    assert.ok(leaked > 10000, 'the leaking class is in the snapshot')
    // What filled the heap, printed by the helper once the app has exited: the leaking class with
    // its count, and the array that holds it among the largest objects.
    const summary = r.stderr.slice(r.stderr.indexOf(`what filled the heap, from ${final}`))
    assert.ok(summary.length < r.stderr.length, r.stderr)
    const row = summary.split('\n').find((l) => / LeakyRequestRecord {2}\(script \d+, line \d+\)$/.test(l))
    assert.ok(row, summary)
    assert.equal(Number(row.trim().split(/\s+/)[0].replaceAll(',', '')), leaked, row)
    assert.match(summary, /Largest objects by retained size[^\n]*\n +[\d.]+ MB {2}Array @\d+: /, summary)
  })
}

test('the summary does not hold up the exit of the dying process', async () => {
  // An analyzer that takes 5 s: the app must exit long before its report arrives.
  const dir = tmpdir('slowsummary')
  const slow = path.join(dir, 'slow-analyzer')
  fs.writeFileSync(slow, `#!/bin/sh\nsleep 5\nexec ${path.join(root, 'native', 'node-oom-heapdump')} "$@"\n`, { mode: 0o755 })
  const r = await runLeak({ options: { path: path.join(dir, 'slow') }, env: { NODE_OOM_HEAPDUMP_ANALYZER: slow } })
  assert.equal(r.code, 1, r.stderr)
  assert.ok(!r.stderrAtExit.includes('Top 10 classes'), 'the app exited before the analysis ended')
  assert.match(r.stderr, /what filled the heap, from .*slow\.heapsnapshot[^]*Top 10 classes by retained size[^]*LeakyRequestRecord/)
})

test('the summary is of the file the OOM wrote, even when another is put under its name before the analyzer starts', async () => {
  const dir = tmpdir('swapsummary')
  // Another snapshot, of a heap without the leak, that "someone" moves over ours just before the
  // analyzer starts, after the helper checked the name.
  const planted = path.join(dir, 'planted.heapsnapshot')
  execFileSync(process.execPath, ['-e', `require('node:v8').writeHeapSnapshot(${JSON.stringify(planted)})`])
  const final = path.join(dir, 'swap.heapsnapshot')
  const swapping = path.join(dir, 'swapping-analyzer')
  fs.writeFileSync(swapping, `#!/bin/sh\nmv -f ${planted} ${final}\nexec ${path.join(root, 'native', 'node-oom-heapdump')} "$@"\n`, { mode: 0o755 })
  const r = await runLeak({ options: { path: path.join(dir, 'swap') }, env: { NODE_OOM_HEAPDUMP_ANALYZER: swapping } })
  assert.equal(r.code, 1, r.stderr)
  assert.ok(!fs.existsSync(planted), 'the swap happened')
  assert.equal(countObjectsOfClass(readSnapshot(final), 'LeakyRequestRecord'), 0, 'the name holds the planted snapshot')
  const summary = r.stderr.slice(r.stderr.indexOf(`what filled the heap, from ${final}`))
  assert.ok(summary.length < r.stderr.length, r.stderr)
  assert.ok(summary.includes(`\n${final}: `), `the report names the file, not (stdin): ${summary}`)
  assert.match(summary, /Top 10 classes by retained size[^]* LeakyRequestRecord {2}\(script \d+, line \d+\)\n/, summary)
})

test('analyzeOnOOM: false: no summary after the snapshot', async () => {
  const dir = tmpdir('nosummary')
  const r = await runLeak({ options: { path: path.join(dir, 'quiet'), analyzeOnOOM: false } })
  assert.equal(r.code, 1, r.stderr)
  assert.match(r.stderr, /wrote .*quiet\.heapsnapshot/)
  assert.doesNotMatch(r.stderr, /what filled the heap, from/)
})

test('the path shorthand and the .heapsnapshot extension', async () => {
  const dir = tmpdir('short')
  const r = await runLeak({ options: path.join(dir, 'short.heapsnapshot') })
  assert.equal(r.code, 1, r.stderr)
  assert.deepEqual(ls(dir), ['short.heapprofile', 'short.heapsnapshot', 'short.oom.json'])
  readSnapshot(path.join(dir, 'short.heapsnapshot'))
})

test('addTimestamp gives two crashes two complete snapshots', async () => {
  const dir = tmpdir('stamp')
  const options = { path: path.join(dir, 'crash'), addTimestamp: true }
  const first = await runLeak({ options })
  const second = await runLeak({ options })
  assert.equal(first.code, 1, first.stderr)
  assert.equal(second.code, 1, second.stderr)
  const files = ls(dir).filter((f) => f.endsWith('.heapsnapshot'))
  assert.equal(files.length, 2, `files: ${ls(dir)}`)
  assert.equal(ls(dir).length, 6, 'a heap profile and a report beside each')
  for (const f of files) {
    assert.match(f, /^crash-\d{8}T\d{6}\.\d{3}Z(-\d+)?\.heapsnapshot$/)
    readSnapshot(path.join(dir, f))
  }
})

test('without a path, the snapshot goes to --diagnostic-dir', async () => {
  const diag = tmpdir('diag')
  const cwd = tmpdir('cwd')
  const r = await runLeak({ nodeArgs: [`--diagnostic-dir=${diag}`], cwd })
  assert.equal(r.code, 1, r.stderr)
  const files = ls(diag).filter((f) => f.endsWith('.heapsnapshot'))
  assert.equal(files.length, 1)
  assert.match(files[0], /^OoM-pid-\d+\.heapsnapshot$/)
  assert.deepEqual(ls(cwd), [])
  readSnapshot(path.join(diag, files[0]))
})

test('without a path or --diagnostic-dir, the snapshot goes to the working directory', async () => {
  const cwd = tmpdir('cwd')
  const r = await runLeak({ cwd })
  assert.equal(r.code, 1, r.stderr)
  const files = ls(cwd).filter((f) => f.endsWith('.heapsnapshot'))
  assert.equal(files.length, 1)
  assert.match(files[0], /^OoM-pid-\d+\.heapsnapshot$/)
})

test('heapdumpOnOOM: false installs nothing: Node handles the OOM as usual', async () => {
  const cwd = tmpdir('off')
  const r = await runLeak({ cwd, options: { heapdumpOnOOM: false } })
  const installed = JSON.parse(r.stdout.split('\n')[0])
  assert.equal(installed.heapdumpOnOOM, false)
  assert.equal(installed.helperPid, undefined, 'no helper started')
  assert.equal(r.signal, 'SIGABRT', `Node's own OOM abort, got code ${r.code}`)
  assert.doesNotMatch(r.stderr, /node-oom-heapdump/)
  assert.deepEqual(ls(cwd), [])
})
