#!/usr/bin/env node
// The command line's captures by pid (issue 12), measured on a real app:
//
// 1. `node-oom-heapdump snapshot <pid>` against Node's own `--heapsnapshot-signal`, on the same app
//    with the same heap, --runs of each alternating, medians: time to a complete file, the CPU time of
//    the target's JS thread (where V8 builds and serializes the snapshot either way), and the target's
//    peak resident memory during the capture (VmHWM, reset through /proc/<pid>/clear_refs before it).
//    Ours starts with the target's inspector closed (SIGUSR1 opens it, we close it again after).
// 2. `heapprofile <pid>` overhead on the target's throughput: the app counts work done per second;
//    the rate while the sampling heap profiler runs against the rate before and after it.
//
// Usage: node bench/attach.js [--heap-mb 200] [--runs 3] [--window-s 10] [--rounds 3] [--only snapshot|heapprofile] [--node PATH]   (after `node scripts/build.js`)
'use strict'

const { spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { root, tmpdir } = require('../support/paths.js')
const { median } = require('../support/stats.js')

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
}
const HEAP_MB = arg('--heap-mb', 200)
const WINDOW_S = arg('--window-s', 10)
const ROUNDS = arg('--rounds', 3)
const RUNS = arg('--runs', 3)
const CLI = path.join(root, 'native', 'node-oom-heapdump')
// --node PATH: the targets run on another Node (e.g. .cache/node/24/package/bin/node, from
// `node scripts/other-nodes.js`).
const NODE = process.argv.includes('--node') ? path.resolve(process.argv[process.argv.indexOf('--node') + 1]) : process.execPath

// Holds about HEAP_MB of small objects and strings, then idles (a timer keeps it alive).
const HEAP_APP = `
const held = []
let bytes = 0
while (bytes < ${HEAP_MB} * 1024 * 1024) {
  held.push({ id: held.length, name: 'item-' + held.length, tags: ['a', 'b'], when: new Date() })
  bytes += 160
}
globalThis.held = held
setInterval(() => {}, 1000)
console.log('ready')
`

// Work of a server: parse and build JSON and small objects; prints, each second, the operations done
// and the CPU time the whole process used for them (microseconds, every thread: the inspector's too).
const WORK_APP = `
let ops = 0
const keep = []
function work() {
  const o = JSON.parse(JSON.stringify({ a: Math.random(), b: [1, 2, 3], c: 'x'.repeat(32) }))
  keep.push(o)
  if (keep.length > 10000) keep.length = 0
  ops++
}
let cpu = process.cpuUsage()
setInterval(() => { const used = process.cpuUsage(cpu); cpu = process.cpuUsage(); console.log(ops + ' ' + (used.user + used.system)); ops = 0 }, 1000)
function loop() { const end = Date.now() + 20; while (Date.now() < end) work(); setImmediate(loop) }
console.log('ready')
loop()
`

function startApp(dir, source, nodeArgs = []) {
  const file = path.join(dir, `app-${Math.random().toString(16).slice(2)}.js`)
  fs.writeFileSync(file, source)
  const child = spawn(NODE, [...nodeArgs, file], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
  child.lines = []
  let buf = ''
  child.stdout.on('data', (d) => {
    buf += d
    let nl
    while ((nl = buf.indexOf('\n')) >= 0) {
      child.lines.push(buf.slice(0, nl))
      buf = buf.slice(nl + 1)
    }
  })
  child.ready = new Promise((resolve, reject) => {
    const t = setInterval(() => child.lines.includes('ready') && (clearInterval(t), resolve()), 10)
    child.on('exit', (code) => reject(new Error(`app exited ${code}`)))
  })
  return child
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const statusField = (pid, field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024
const resetPeak = (pid) => fs.writeFileSync(`/proc/${pid}/clear_refs`, '5')
const mb = (b) => `${(b / 1e6).toFixed(0)} MB`

/** Checks a snapshot with our analyzer (counts match the header); its size. */
function checked(file) {
  const r = spawnSync(CLI, ['analyze', file, '--json'], { encoding: 'utf8', maxBuffer: 1 << 30 })
  if (r.status !== 0) throw new Error(`${file} is not a complete snapshot: ${r.stderr}`)
  return fs.statSync(file).size
}

/** CPU time (ms, utime+stime) the target's JS thread (its main thread) has used so far. */
function jsThreadMs(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(f[11]) + Number(f[12])) * 10 // USER_HZ = 100 on Linux
}

/**
 * Starts the heap app with `nodeArgs`, runs `capture(app)` (which resolves with the file once it is
 * complete) and measures it from outside: time, the target's JS-thread CPU and peak RSS.
 */
async function measured(dir, method, nodeArgs, capture) {
  const app = startApp(dir, HEAP_APP, nodeArgs)
  await app.ready
  const rss = statusField(app.pid, 'VmRSS')
  resetPeak(app.pid)
  const cpu = jsThreadMs(app.pid)
  const started = process.hrtime.bigint()
  const file = await capture(app)
  const ms = Number(process.hrtime.bigint() - started) / 1e6
  const peak = statusField(app.pid, 'VmHWM')
  const jsMs = jsThreadMs(app.pid) - cpu
  const size = checked(file)
  app.kill('SIGKILL')
  fs.rmSync(file)
  return { method, ms, rss, peak, jsMs, size }
}

// Node's own: --heapsnapshot-signal writes Heap.*.heapsnapshot into the cwd, on the JS thread.
const nodeSignal = (dir) =>
  measured(dir, 'node --heapsnapshot-signal', ['--heapsnapshot-signal=SIGUSR2'], async (app) => {
    process.kill(app.pid, 'SIGUSR2')
    for (;;) {
      await sleep(5)
      const file = fs.readdirSync(dir).find((f) => /^Heap\..*\.heapsnapshot$/.test(f))
      if (!file) continue
      // Complete when it ends the strings array and object.
      const full = path.join(dir, file)
      const size = fs.statSync(full).size
      if (size < 2) continue
      const fd = fs.openSync(full, 'r')
      const tail = Buffer.alloc(2)
      fs.readSync(fd, tail, 0, 2, size - 2)
      fs.closeSync(fd)
      if (tail.toString() === ']}') return full
    }
  })

// Ours, with the target's inspector closed: SIGUSR1, the attach and closing it again are in the time.
const oursByPid = (dir) =>
  measured(dir, 'node-oom-heapdump snapshot <pid>', ['--inspect-port=0'], async (app) => {
    const out = path.join(dir, 'ours.heapsnapshot')
    const r = spawnSync(CLI, ['snapshot', String(app.pid), '-o', out], { encoding: 'utf8' })
    if (r.status !== 0) throw new Error(r.stderr)
    return out
  })

async function snapshotSideBySide(dir) {
  const runs = { node: [], ours: [] }
  console.log(`snapshot of a ${HEAP_MB} MB-object heap, ${RUNS} runs each, alternating (targets on ${NODE === process.execPath ? `node ${process.version}` : NODE})`)
  for (let i = 0; i < RUNS; i++) {
    for (const [key, run] of [
      ['node', nodeSignal],
      ['ours', oursByPid],
    ]) {
      const r = await run(dir)
      runs[key].push(r)
      console.log(`  ${r.method.padEnd(34)} ${(r.ms / 1000).toFixed(2)} s, target JS thread ${(r.jsMs / 1000).toFixed(2)} s CPU, peak RSS ${mb(r.peak)}, file ${mb(r.size)}`)
    }
  }
  const med = (rows, k) => median(rows.map((r) => r[k]))
  console.log('\n| method | time to a complete file | target JS thread CPU | target RSS before | target peak RSS during | file |')
  console.log('| --- | --- | --- | --- | --- | --- |')
  for (const rows of [runs.node, runs.ours]) {
    console.log(
      `| ${rows[0].method} | ${(med(rows, 'ms') / 1000).toFixed(2)} s | ${(med(rows, 'jsMs') / 1000).toFixed(2)} s | ${mb(med(rows, 'rss'))} | ${mb(med(rows, 'peak'))} | ${mb(med(rows, 'size'))} |`,
    )
  }
  const ratio = (k) => (med(runs.ours, k) / med(runs.node, k)).toFixed(2)
  console.log(`ours / node (medians): time ${ratio('ms')}x, JS thread CPU ${ratio('jsMs')}x, peak RSS ${ratio('peak')}x (goal: at most 1.1x on time and peak RSS)`)
}

async function heapprofileOverhead(dir) {
  const app = startApp(dir, WORK_APP, ['--inspect-port=0'])
  await app.ready
  // Operations per second of CPU time: other processes on the machine then change little. The
  // whole seconds of a window: the first (the attach) and the last (partial) left out.
  const window = async (run) => {
    const from = app.lines.length
    await run()
    const inner = app.lines
      .slice(from)
      .filter((l) => / /.test(l))
      .map((l) => l.split(' ').map(Number))
      .slice(1, -1)
    const sum = (i) => inner.reduce((a, r) => a + r[i], 0)
    return (sum(0) / sum(1)) * 1e6
  }
  const out = path.join(dir, 'ours.heapprofile')
  const profile = () =>
    new Promise((resolve, reject) => {
      const cli = spawn(CLI, ['heapprofile', String(app.pid), '--duration', `${WINDOW_S}s`, '-o', out], { stdio: 'ignore' })
      cli.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`heapprofile exited ${code}`))))
    })
  await sleep(2000) // warm-up
  const rows = []
  for (let round = 0; round < ROUNDS; round++) {
    const off = await window(() => sleep(WINDOW_S * 1000 + 1000))
    const on = await window(profile)
    rows.push({ off, on })
  }
  app.kill('SIGKILL')
  fs.rmSync(out, { force: true })
  console.log(`\nheapprofile overhead (default interval 512KiB; ${ROUNDS} rounds of ${WINDOW_S} s without, then ${WINDOW_S} s with; work app, operations per CPU second of the whole process)`)
  console.log('| round | without | with heapprofile | overhead |')
  console.log('| --- | --- | --- | --- |')
  rows.forEach((r, i) => console.log(`| ${i + 1} | ${r.off.toFixed(0)} | ${r.on.toFixed(0)} | ${((1 - r.on / r.off) * 100).toFixed(2)}% |`))
  const off = median(rows.map((r) => r.off))
  const on = median(rows.map((r) => r.on))
  console.log(`| median | ${off.toFixed(0)} | ${on.toFixed(0)} | ${((1 - on / off) * 100).toFixed(2)}% (goal: under 2%) |`)
}

async function main() {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is not built: node scripts/build.js`)
  const dir = tmpdir('bench-attach')
  try {
    const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : null
    if (only !== 'heapprofile') await snapshotSideBySide(dir)
    if (only !== 'snapshot') await heapprofileOverhead(dir)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
