// `node-oom-heapdump convert` (issue 15): V8's heap and CPU profiles as pprof, read back by the real
// `go tool pprof` (Debian's golang-go, installed by .ci/run), whose totals must equal the source
// profile's, with the functions and files of the workload (__test__/fixtures/pprof-workload.js).
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { root, tmpdir } from '../support/paths.js'
import { start } from '../support/child.js'
import { fixture, ls, mode, runLeak, skipOrFail } from './helpers.mjs'

const cli = path.join(root, 'bin', 'node-oom-heapdump.js')
const convert = (...args) => start([cli, 'convert', ...args]).done
const workload = fixture('pprof-workload.js')

const goVersion = spawnSync('go', ['version'], { encoding: 'utf8' })
const haveGo = goVersion.status === 0

/**
 * `go tool pprof -top` of `file` for `sampleIndex`: its total (in `unit`, exact) and its text.
 */
function pprofTop(file, sampleIndex, unit) {
  const args = ['tool', 'pprof', '-top', '-lines', '-nodecount=100000', `-sample_index=${sampleIndex}`]
  if (unit) args.push(`-unit=${unit}`)
  const r = spawnSync('go', [...args, file], { encoding: 'utf8', timeout: 120000 })
  assert.equal(r.status, 0, `go tool pprof failed: ${r.stderr}`)
  const m = r.stdout.match(/Showing nodes accounting for \S+, [\d.]+% of (\d+)(\S*) total/)
  assert.ok(m, r.stdout)
  assert.equal(m[2], unit ?? '', r.stdout)
  return { total: Number(m[1]), text: r.stdout }
}

/** A file name as pprof prints it: cleaned like a path (`file:///a` becomes `file:/a`). */
const pprofPath = (url) => url.replace(/\/{2,}/g, '/')

/** The sum of selfSize over a heap profile's tree. */
function selfSizes(node) {
  return node.selfSize + node.children.reduce((sum, c) => sum + selfSizes(c), 0)
}

/** The call frame of the function named `name` in a heap profile's tree, if any. */
function findFrame(node, name) {
  if (node.callFrame.functionName === name) return node.callFrame
  for (const c of node.children) {
    const f = findFrame(c, name)
    if (f) return f
  }
}

test('a heap profile taken through the inspector: pprof totals equal its bytes and samples', async (t) => {
  if (!haveGo) return skipOrFail(t, 'no go (apt-get install golang-go)')
  const dir = tmpdir('pprof-heap')
  const input = path.join(dir, 'app.heapprofile')
  const w = await start([workload, 'heap', input]).done
  assert.equal(w.code, 0, w.stderr)
  const profile = JSON.parse(fs.readFileSync(input, 'utf8'))
  const bytes = selfSizes(profile.head)
  assert.ok(bytes > 4e6 && profile.samples.length > 100, `${bytes} bytes in ${profile.samples.length} samples`)

  const r = await convert(input)
  assert.equal(r.code, 0, r.stderr)
  const output = path.join(dir, 'app.heap.pb.gz')
  assert.equal(r.stdout, `wrote ${output} (${fs.statSync(output).size} bytes, pprof of a heap profile): ${r.stdout.split('): ')[1]}`)
  assert.match(r.stdout, new RegExp(`totals objects/count ${profile.samples.length}, space/bytes ${bytes}\n$`))
  assert.equal(mode(output), 0o600)
  assert.deepEqual(ls(dir), ['app.heap.pb.gz', 'app.heapprofile'])

  const space = pprofTop(output, 'space', 'B')
  assert.equal(space.total, bytes)
  assert.equal(pprofTop(output, 'objects').total, profile.samples.length)
  // The function, its file and its line (V8's 0-based line, 1-based in pprof).
  const frame = findFrame(profile.head, 'retainMany')
  assert.ok(frame.url.endsWith('pprof-workload.js'), frame.url)
  const line = space.text.split('\n').find((l) => l.includes(' retainMany '))
  assert.ok(line && line.endsWith(`retainMany ${pprofPath(frame.url)}:${frame.lineNumber + 1}`), space.text)
  assert.match(space.text, /^Type: space$/m)
})

test("node --heap-prof's own file converts with the same totals", async (t) => {
  if (!haveGo) return skipOrFail(t, 'no go (apt-get install golang-go)')
  const dir = tmpdir('pprof-heapprof')
  const keep = 'globalThis.kept = Array.from({ length: 100000 }, (_, i) => ({ i }))'
  const w = await start(['--heap-prof', `--heap-prof-dir=${dir}`, '--heap-prof-interval=8192', '-e', keep]).done
  assert.equal(w.code, 0, w.stderr)
  const [name] = ls(dir)
  const profile = JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8'))
  assert.ok(profile.samples.length > 10, `${profile.samples.length} samples`)
  const r = await convert(path.join(dir, name), '-o', path.join(dir, 'out.pb.gz'))
  assert.equal(r.code, 0, r.stderr)
  assert.equal(pprofTop(path.join(dir, 'out.pb.gz'), 'space', 'B').total, selfSizes(profile.head))
  // V8 builds the tree, then the samples: a sample may name a node allocated in between, which
  // is not in the tree; those are not counted, and the summary says how many.
  const ids = new Set()
  const walk = (n) => (ids.add(n.id), n.children.forEach(walk))
  walk(profile.head)
  const inTree = profile.samples.filter((s) => ids.has(s.nodeId)).length
  assert.equal(pprofTop(path.join(dir, 'out.pb.gz'), 'objects').total, inTree)
  const unmatched = profile.samples.length - inTree
  if (unmatched > 0) assert.match(r.stdout, new RegExp(`; ${unmatched} sample\\(s\\) named a node not in the tree and are not counted\n$`))
  else assert.doesNotMatch(r.stdout, /not in the tree/)
})

test('a CPU profile from node --cpu-prof: pprof totals equal its samples and time', async (t) => {
  if (!haveGo) return skipOrFail(t, 'no go (apt-get install golang-go)')
  const dir = tmpdir('pprof-cpu')
  const w = await start(['--cpu-prof', `--cpu-prof-dir=${dir}`, '--cpu-prof-name=app.cpuprofile', workload, 'cpu']).done
  assert.equal(w.code, 0, w.stderr)
  const input = path.join(dir, 'app.cpuprofile')
  const profile = JSON.parse(fs.readFileSync(input, 'utf8'))
  const nanos = profile.timeDeltas.reduce((sum, d) => sum + Math.max(0, d), 0) * 1000
  // A loaded machine starves V8's sampler thread: far fewer ticks than 1 per ms, each longer.
  assert.ok(profile.samples.length > 10 && nanos > 300e6, `${profile.samples.length} samples over ${nanos} ns`)

  const output = path.join(dir, 'custom name.pb.gz')
  const r = await convert(input, '-o', output)
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, new RegExp(`pprof of a CPU profile\\): .*totals samples/count ${profile.samples.length}, cpu/nanoseconds ${nanos}\n$`))
  assert.deepEqual(ls(dir), ['app.cpuprofile', 'custom name.pb.gz'])

  const cpu = pprofTop(output, 'cpu', 'ns')
  assert.equal(cpu.total, nanos)
  assert.equal(pprofTop(output, 'samples').total, profile.samples.length)
  const spin = profile.nodes.find((n) => n.callFrame.functionName === 'spinHard').callFrame
  const line = cpu.text.split('\n').find((l) => l.includes(' spinHard '))
  assert.ok(line && line.endsWith(`spinHard ${pprofPath(spin.url)}:${spin.lineNumber + 1}`), cpu.text)
  // spinHard ran for 400 ms of the workload: first by time of its own (-top sorts by it).
  const rows = cpu.text.split('\n').slice(cpu.text.split('\n').findIndex((l) => l.trim().startsWith('flat')) + 1)
  assert.equal(rows[0], line, cpu.text)
  assert.match(cpu.text, /^Duration: /m)
})

test('bad input: a clear error, exit 2, nothing written', async () => {
  const dir = tmpdir('pprof-bad')
  const files = {
    'truncated.heapprofile': '{"head":{"callFrame":{',
    'snapshot.heapprofile': '{"snapshot":{"meta":{}},"nodes":[1,2],"edges":[]}',
    'other.cpuprofile': '{"traceEvents":[]}',
    'wrong.cpuprofile': '{"nodes":[{"id":1,"callFrame":{}}],"startTime":0,"endTime":1,"samples":[7],"timeDeltas":[1]}',
  }
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text)
  const expected = {
    'truncated.heapprofile': /is not JSON: EOF while parsing/,
    'snapshot.heapprofile': /is a heap snapshot, not a profile \(`node-oom-heapdump analyze` reads it\)/,
    'other.cpuprofile': /is neither a V8 heap profile \(\.heapprofile, with "head"\) nor a V8 CPU profile/,
    'wrong.cpuprofile': /is not a valid CPU profile: a sample names node 7, which is not in its nodes/,
  }
  for (const [name, message] of Object.entries(expected)) {
    const r = await convert(path.join(dir, name))
    assert.equal(r.code, 2, `${name}: ${r.stderr}`)
    assert.match(r.stderr, new RegExp(`^node-oom-heapdump: "${path.join(dir, name)}" ${message.source}`))
    assert.equal(r.stdout, '')
  }
  const missing = await convert(path.join(dir, 'missing.cpuprofile'))
  assert.equal(missing.code, 2)
  assert.match(missing.stderr, /cannot read ".*missing\.cpuprofile": No such file or directory/)
  const usage = await convert()
  assert.equal(usage.code, 2)
  assert.match(usage.stderr, /^error: the following required arguments were not provided:\n +<FILE\.heapprofile\|FILE\.cpuprofile>\n/)
  assert.deepEqual(ls(dir), Object.keys(files).sort())
})

const exportCommand = (outDir) => [process.execPath, fixture('export-command.js'), outDir]

/** `go tool pprof -raw` of `file`: the period and its type, as pprof read them. */
function pprofPeriod(file) {
  const r = spawnSync('go', ['tool', 'pprof', '-raw', file], { encoding: 'utf8', timeout: 120000 })
  assert.equal(r.status, 0, r.stderr)
  return { type: r.stdout.match(/^PeriodType: (.*)$/m)[1], period: Number(r.stdout.match(/^Period: (\d+)$/m)[1]) }
}

test('with pprof: true, the helper converts the OOM heap profile once the app has exited; the export command gets it', async (t) => {
  if (!haveGo) return skipOrFail(t, 'no go (apt-get install golang-go)')
  const dir = tmpdir('pprof-oom')
  const outDir = tmpdir('pprof-oom-out')
  const options = { path: path.join(dir, 'crash'), pprof: true, heapProfileInterval: 32768, analyzeOnOOM: false, exportCommand: exportCommand(outDir) }
  const r = await runLeak({ options })
  assert.equal(r.code, 1, r.stderr)
  assert.deepEqual(ls(dir), ['crash.heap.pb.gz', 'crash.heapprofile', 'crash.heapsnapshot', 'crash.oom.json'])
  const output = path.join(dir, 'crash.heap.pb.gz')
  assert.equal(mode(output), 0o600)
  assert.match(r.stderr, new RegExp(`node-oom-heapdump: pprof: wrote ${output} \\(${fs.statSync(output).size} bytes, pprof of a heap profile\\)`))
  // By the helper, once the app's pipe closed: after the app's last word (a check on the time of the
  // app's exit event would race with the helper, which starts as the app's file descriptors close).
  const last = r.stderr.indexOf('export: 3 file(s) to export once this process has exited')
  assert.ok(last >= 0 && r.stderr.indexOf('node-oom-heapdump: pprof: wrote') > last, r.stderr)

  const profile = JSON.parse(fs.readFileSync(path.join(dir, 'crash.heapprofile'), 'utf8'))
  assert.equal(profile.samplingInterval, 32768)
  assert.ok(profile.samples.length > 100, `${profile.samples.length} samples`)
  const space = pprofTop(output, 'space', 'B')
  assert.equal(space.total, selfSizes(profile.head))
  assert.equal(pprofTop(output, 'objects').total, profile.samples.length)
  assert.deepEqual(pprofPeriod(output), { type: 'space bytes', period: 32768 })
  // The leaking function of support/fixtures/leak.js, with its file.
  const leak = findFrame(profile.head, 'leak')
  const line = space.text.split('\n').find((l) => l.includes(' leak '))
  assert.ok(line && line.endsWith(`leak ${pprofPath(leak.url)}:${leak.lineNumber + 1}`), space.text)

  // The export command ran after the conversion, on the pprof too.
  const env = JSON.parse(fs.readFileSync(path.join(outDir, 'env.json'), 'utf8'))
  assert.deepEqual(env.files.map((f) => path.basename(f)).sort(), ['crash.heap.pb.gz', 'crash.heapprofile', 'crash.heapsnapshot', 'crash.oom.json'])
  assert.deepEqual(fs.readFileSync(path.join(outDir, 'crash.heap.pb.gz')), fs.readFileSync(output))
})

test('NODE_OOM_HEAPDUMP_PPROF=1 under the register path, no export command: the pprof alone', async (t) => {
  if (!haveGo) return skipOrFail(t, 'no go (apt-get install golang-go)')
  const dir = tmpdir('pprof-oom-env')
  const r = await runLeak({
    nodeArgs: ['-r', path.join(root, 'register.js')],
    env: { NODE_OOM_HEAPDUMP_PATH: path.join(dir, 'env'), NODE_OOM_HEAPDUMP_PPROF: '1', NODE_OOM_HEAPDUMP_ANALYZE_ON_OOM: '0' },
  })
  assert.equal(r.code, 1, r.stderr)
  assert.equal(JSON.parse(r.stdout.split('\n')[0]).pprof, true)
  assert.deepEqual(ls(dir), ['env.heap.pb.gz', 'env.heapprofile', 'env.heapsnapshot', 'env.oom.json'])
  assert.doesNotMatch(r.stderr, /export:/)
  const profile = JSON.parse(fs.readFileSync(path.join(dir, 'env.heapprofile'), 'utf8'))
  assert.equal(pprofTop(path.join(dir, 'env.heap.pb.gz'), 'space', 'B').total, selfSizes(profile.head))
})

test('pprof with heapProfile: false says there is nothing to convert, and writes nothing more', async () => {
  const dir = tmpdir('pprof-oom-off')
  const r = await runLeak({ options: { path: path.join(dir, 'off'), pprof: true, heapProfile: false, analyzeOnOOM: false } })
  assert.equal(r.code, 1, r.stderr)
  assert.match(r.stderr, /node-oom-heapdump: pprof: the OOM wrote no heap profile to convert\n/)
  assert.deepEqual(ls(dir), ['off.heapsnapshot', 'off.oom.json'])
})
