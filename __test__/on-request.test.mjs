// On-request captures, over this process's DevTools inspector (--inspect=127.0.0.1:0) and in-process
// (no --inspect), in a child app with a known retained class and a named hot function.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { test } from 'node:test'
import { tmpdir } from '../support/paths.js'
import { start } from '../support/child.js'
import { fixture, ls, mode, readSnapshot, countObjectsOfClass } from './helpers.mjs'

async function runOps(ops, { inspect = false, cwd, nodeArgs = [], options } = {}) {
  const args = [...(inspect ? ['--inspect=127.0.0.1:0'] : []), ...nodeArgs, fixture('on-request.js')]
  const env = { OHD_OPS: JSON.stringify(ops) }
  if (options) env.OHD_OPTIONS = JSON.stringify(options)
  const r = await start(args, { env, cwd }).done
  assert.equal(r.code, 0, r.stderr)
  const results = r.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
  assert.equal(results.length, ops.length, r.stdout)
  return { results, stderr: r.stderr }
}

function readCpuProfile(file) {
  const p = JSON.parse(fs.readFileSync(file, 'utf8'))
  assert.ok(p.nodes.length > 0, 'has nodes')
  assert.ok(p.samples.length > 0, 'has samples')
  assert.equal(p.timeDeltas.length, p.samples.length)
  assert.ok(p.startTime < p.endTime, 'startTime < endTime')
  return p
}

async function freePort() {
  const srv = net.createServer().listen(0, '127.0.0.1')
  await new Promise((r) => srv.once('listening', r))
  const { port } = srv.address()
  await new Promise((r) => srv.close(r))
  return port
}

test('devtools without onProgress: V8 itself fills a pipe of ours (no chunk messages); with onProgress: chunks over the protocol', async () => {
  const dir = tmpdir('hs-devtools-pipe')
  // Preloaded into the app: says each time v8.writeHeapSnapshot is called, and on what.
  const watcher = path.join(dir, 'watch.cjs')
  fs.writeFileSync(
    watcher,
    `const v8 = require('node:v8'); const write = v8.writeHeapSnapshot
v8.writeHeapSnapshot = (file, ...rest) => { process.stderr.write('writeHeapSnapshot ' + file + ' ' + require('node:fs').statSync(file).isFIFO() + '\\n'); return write(file, ...rest) }`,
  )
  const out = path.join(dir, 'out')
  fs.mkdirSync(out)
  const { results, stderr } = await runOps(
    [
      { fn: 'createHeapSnapshot', args: [path.join(out, 'plain'), { transport: 'devtools' }] },
      { fn: 'createHeapSnapshot', args: [path.join(out, 'watched'), '$progress'] },
    ],
    { inspect: true, nodeArgs: ['-r', watcher] },
  )
  for (const r of results) {
    assert.ok(r.ok, r.message)
    assert.equal(r.lastCapture.transport, 'devtools')
    const snap = readSnapshot(r.value)
    assert.equal(countObjectsOfClass(snap, 'KnownRetainedThing'), 5000)
    assert.equal(r.lastCapture.nodeCount, snap.snapshot.node_count)
  }
  assert.ok(results[1].progress.length > 0, 'progress over the protocol')
  const calls = stderr.split('\n').filter((l) => l.startsWith('writeHeapSnapshot '))
  assert.equal(calls.length, 1, stderr)
  assert.match(calls[0], /^writeHeapSnapshot \/proc\/self\/fd\/\d+ true$/)
  assert.deepEqual(ls(out), ['plain.heapsnapshot', 'watched.heapsnapshot'])
  fs.rmSync(dir, { recursive: true, force: true })
})

for (const [transport, inspect] of [
  ['devtools', true],
  ['in-process', false],
]) {
  test(`${transport}: heap snapshot is complete, holds the known class, reports progress, mode 0600`, async () => {
    const dir = tmpdir(`hs-${transport}`)
    const { results, stderr } = await runOps([{ fn: 'createHeapSnapshot', args: [path.join(dir, 'snap'), '$progress'] }], { inspect })
    const [r] = results
    assert.ok(r.ok, r.message)
    const file = path.join(fs.realpathSync(dir), 'snap.heapsnapshot')
    assert.equal(r.value, file)
    assert.equal(r.lastCapture.transport, transport)
    assert.deepEqual(ls(dir), ['snap.heapsnapshot'])
    assert.equal(mode(file), 0o600)
    const snap = readSnapshot(file)
    assert.equal(countObjectsOfClass(snap, 'KnownRetainedThing'), 5000)
    assert.equal(r.lastCapture.nodeCount, snap.snapshot.node_count)
    assert.ok(r.progress.length > 0, 'progress was reported')
    for (const p of r.progress) assert.ok(p.done <= p.total && p.total > 0, JSON.stringify(p))
    if (inspect) assert.doesNotMatch(stderr, /node-oom-heapdump:/, 'no warning: the inspector answers')
    else assert.equal(stderr.match(/node-oom-heapdump: no DevTools inspector answers on 127\.0\.0\.1:9229/g)?.length, 1, stderr)
  })

  test(`${transport}: CPU profile covers the duration and names the hot function`, async () => {
    const dir = tmpdir(`cpu-${transport}`)
    const { results } = await runOps([{ fn: 'createCpuProfile', args: [path.join(dir, 'prof'), 700, { samplingIntervalUs: 200 }] }], { inspect })
    const [r] = results
    assert.ok(r.ok, r.message)
    assert.equal(r.lastCapture.transport, transport)
    assert.deepEqual(ls(dir), ['prof.cpuprofile'])
    assert.equal(mode(r.value), 0o600)
    const p = readCpuProfile(r.value)
    assert.ok(p.endTime - p.startTime >= 600_000, `covers ${p.endTime - p.startTime} µs`)
    assert.ok(
      p.nodes.some((n) => n.callFrame.functionName === 'namedHotFunction'),
      'hot function is in the profile',
    )
  })
}

test('defaults: names with a timestamp in the working directory, or in --diagnostic-dir', async () => {
  const cwd = tmpdir('defaults')
  const { results } = await runOps([{ fn: 'createHeapSnapshot' }, { fn: 'createCpuProfile', args: [undefined, 200] }], { cwd })
  assert.match(results[0].value, new RegExp(`^${fs.realpathSync(cwd)}/heapsnapshot-\\d{13}\\.heapsnapshot$`))
  assert.match(results[1].value, new RegExp(`^${fs.realpathSync(cwd)}/cpuprofile-\\d{13}\\.cpuprofile$`))
  const diag = tmpdir('diag')
  const d = await runOps([{ fn: 'createHeapSnapshot' }], { cwd, nodeArgs: [`--diagnostic-dir=${diag}`] })
  assert.equal(path.dirname(d.results[0].value), fs.realpathSync(diag))
  readSnapshot(d.results[0].value)
})

for (const [transport, inspect] of [
  ['devtools', true],
  ['in-process', false],
]) {
  test(`${transport}: a second capture while one runs rejects at once`, async () => {
    const dir = tmpdir('busy')
    const { results } = await runOps([{ fn: 'createCpuProfile', args: [path.join(dir, 'p'), 800], parallel: { fn: 'createHeapSnapshot', args: [path.join(dir, 's')] } }], { inspect })
    const [{ first, second }] = results
    assert.ok(first.ok, first.message)
    assert.equal(second.ok, false)
    assert.equal(second.message, 'a CPU profile is already being captured; one capture at a time, retry when it is done')
    assert.deepEqual(ls(dir), ['p.cpuprofile'])
  })
}

test('delete rules: only files this instance created', async () => {
  const dir = tmpdir('delete')
  const stranger = path.join(dir, 'stranger.heapsnapshot')
  fs.writeFileSync(stranger, 'not ours')
  const a = path.join(dir, 'a')
  const b = path.join(dir, 'b')
  const c = path.join(dir, 'c')
  const { results } = await runOps([
    { fn: 'createHeapSnapshot', args: [a] },
    { fn: 'createHeapSnapshot', args: [b] },
    { fn: 'createCpuProfile', args: [c, 100] },
    { fn: 'deleteHeapSnapshot', args: [`${a}.heapsnapshot`] },
    { fn: 'deleteHeapSnapshot', args: [`${a}.heapsnapshot`] },
    { fn: 'deleteHeapSnapshot', args: [stranger] },
    { fn: 'deleteCpuProfile', args: [`${b}.heapsnapshot`] },
    { fn: 'deleteAllHeapSnapshots' },
  ])
  assert.ok(
    results.slice(0, 4).every((r) => r.ok),
    JSON.stringify(results),
  )
  assert.equal(results[3].value, path.join(fs.realpathSync(dir), 'a.heapsnapshot'))
  assert.match(results[4].message, /^File not found: ".*a\.heapsnapshot" is not a \.heapsnapshot file created by this instance$/)
  assert.match(results[5].message, /^File not found: .*stranger\.heapsnapshot/)
  assert.match(results[6].message, /^File not found: .*b\.heapsnapshot" is not a \.cpuprofile file/)
  assert.equal(results[7].ok, true)
  assert.equal(results[7].value, undefined)
  assert.deepEqual(ls(dir), ['c.cpuprofile', 'stranger.heapsnapshot'], 'the stranger and the CPU profile stay')
  const all = await runOps([{ fn: 'createCpuProfile', args: [c, 100] }, { fn: 'deleteAllCpuProfiles' }])
  assert.ok(all.results[1].ok)
  assert.deepEqual(ls(dir), ['stranger.heapsnapshot'])
})

test('bad arguments reject with what and where, and leave no file', async () => {
  const dir = tmpdir('bad')
  const p = path.join(dir, 'p')
  const ops = [0, -5, 'abc', '1000ms', 3_600_001, '$NaN', '$Infinity'].map((d) => ({ fn: 'createCpuProfile', args: [p, d] }))
  ops.push({ fn: 'createCpuProfile', args: [p, 100, { samplingIntervalUs: 0 }] })
  ops.push({ fn: 'createHeapSnapshot', args: ['/no/such/folder/snap'] })
  ops.push({ fn: 'createHeapSnapshot', args: [42] })
  ops.push({ fn: 'createHeapSnapshot', args: [p, { onProgress: 'yes' }] })
  ops.push({ fn: 'createHeapSnapshot', args: [p, { transport: 'carrier-pigeon' }] })
  const { results } = await runOps(ops)
  const messages = results.map((r) => (r.ok ? 'ok' : r.message))
  const duration = (got) => `argument \`durationMs\` must be a finite number of milliseconds greater than 0 and at most 3600000 (1 hour), got ${got}`
  assert.deepEqual(messages, [
    duration(0),
    duration(-5),
    duration('"abc"'),
    duration('"1000ms"'),
    duration(3600001),
    duration('NaN'),
    duration('Infinity'),
    'option `samplingIntervalUs` must be an integer from 1 to 1000000, got 0',
    'argument `path`: folder "/no/such/folder" does not exist',
    'argument `path` must be a string, got 42',
    'option `onProgress` must be a function, got "yes"',
    'option `transport` must be one of "auto", "devtools", "in-process", got "carrier-pigeon"',
  ])
  assert.ok(results.slice(0, 10).every((r) => r.code === 'InvalidArg'))
  assert.deepEqual(ls(dir), [])
})

test('devtools without an inspector: nothing listening, or another process listening', async () => {
  const port = await freePort()
  const dir = tmpdir('noinsp')
  const none = await runOps([{ fn: 'createHeapSnapshot', args: [path.join(dir, 's'), { transport: 'devtools' }] }], { options: { port } })
  assert.equal(none.results[0].message, `nothing is listening on 127.0.0.1:${port} and this process has no inspector (start node with --inspect=${port}, or capture in-process)`)
  const other = start([`--inspect=127.0.0.1:${port}`, '-e', 'setTimeout(() => {}, 60000)'])
  await new Promise((resolve) => other.stderr.on('data', (d) => String(d).includes('Debugger listening') && resolve()))
  try {
    const r = await runOps([{ fn: 'createCpuProfile', args: [path.join(dir, 'p'), 100, { transport: 'devtools' }] }], { options: { port } })
    assert.match(r.results[0].message, new RegExp(`^the inspector on 127\\.0\\.0\\.1:${port} belongs to another process, not this one \\(pid \\d+\\)$`))
    assert.match(r.stderr, new RegExp(`the inspector on 127\\.0\\.0\\.1:${port} belongs to another process`), 'the load-time check warned')
  } finally {
    other.kill()
  }
  assert.deepEqual(ls(dir), [])
})

test('devtools: the inspector connection dropping mid-capture rejects and leaves nothing', async () => {
  const dir = tmpdir('drop')
  const { results } = await runOps([{ fn: 'createCpuProfile', args: [path.join(dir, 'p'), 5000], closeInspectorAfterMs: 300 }], { inspect: true })
  assert.equal(results[0].ok, false)
  assert.match(results[0].message, /^inspector connection ws:\/\/127\.0\.0\.1:\d+\/[0-9a-f-]+ closed in the middle of the capture \(0 bytes received\)$/)
  assert.deepEqual(ls(dir), [])
})
