#!/usr/bin/env node
// Benchmark of the OOM capture: ours against Node's own --heapsnapshot-near-heap-limit=1, on the
// same leaking app (support/fixtures/leak.js) with the same heap limit, alternating in one run.
// Measures wall time from start to exit and peak RSS (VmHWM, polled from /proc every 5 ms; for ours
// the helper's peak is added to the app's). Also reports the idle helper's RSS.
//
//   node bench/oom.js [--heap-mb 100] [--runs 3]
'use strict'
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { leakApp: leak, tmpdir } = require('../support/paths.js')
const { median, mb, watchPeakRss } = require('../support/stats.js')

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name)
  return i > 0 ? Number(process.argv[i + 1]) : dflt
}
const heapMb = arg('--heap-mb', 100)
const runs = arg('--runs', 3)

function runOnce(kind) {
  const dir = tmpdir(`bench-${kind}`)
  const args = [`--max-old-space-size=${heapMb}`]
  const env = { ...process.env }
  if (kind === 'ours') env.OHD_OPTIONS = JSON.stringify({ path: path.join(dir, 'ours') })
  else {
    args.push('--heapsnapshot-near-heap-limit=1')
    env.OHD_OPTIONS = JSON.stringify({ heapdumpOnOOM: false })
  }
  const started = process.hrtime.bigint()
  const child = spawn(process.execPath, [...args, leak], { cwd: dir, env, stdio: ['ignore', 'ignore', 'ignore'] })
  const peaks = watchPeakRss(child.pid, 5)
  return new Promise((resolve) => {
    child.on('exit', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9
      const { own: appPeak, total: totalPeak } = peaks.stop()
      const files = fs.readdirSync(dir).filter((f) => f.endsWith('.heapsnapshot'))
      const bytes = files.reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0)
      fs.rmSync(dir, { recursive: true, force: true })
      resolve({ seconds, appPeak, totalPeak, files: files.length, bytes })
    })
  })
}

async function helperIdleRss() {
  const child = spawn(process.execPath, [leak], {
    env: { ...process.env, OHD_OPTIONS: JSON.stringify({ path: path.join(os.tmpdir(), 'ohd-idle') }), OHD_WAIT: '1' },
    stdio: ['pipe', 'pipe', 'ignore'],
  })
  const line = await new Promise((resolve) => child.stdout.once('data', (d) => resolve(String(d))))
  const { helperPid } = JSON.parse(line)
  await new Promise((r) => setTimeout(r, 200))
  const rss = Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${helperPid}/status`, 'utf8'))[1]) * 1024
  child.kill()
  return rss
}

async function main() {
  console.log(`Node ${process.version}, heap limit ${heapMb} MB, ${runs} runs each, alternating`)
  const results = { ours: [], node: [] }
  for (let i = 0; i < runs; i++) {
    for (const kind of ['ours', 'node']) {
      const r = await runOnce(kind)
      if (r.files !== 1) throw new Error(`${kind}: ${r.files} snapshot files`)
      results[kind].push(r)
      console.log(`  ${kind.padEnd(4)} run ${i + 1}: ${r.seconds.toFixed(2)} s, peak RSS ${mb(r.totalPeak)} (app ${mb(r.appPeak)}), snapshot ${mb(r.bytes)}`)
    }
  }
  const sum = (kind) => ({
    seconds: median(results[kind].map((r) => r.seconds)),
    peak: median(results[kind].map((r) => r.totalPeak)),
  })
  const ours = sum('ours')
  const node = sum('node')
  console.log('\n| capture | wall time (median) | peak RSS (median) |')
  console.log('|---|---|---|')
  console.log(`| node-oom-heapdump (app + helper) | ${ours.seconds.toFixed(1)} s | ${mb(ours.peak)} |`)
  console.log(`| node --heapsnapshot-near-heap-limit=1 | ${node.seconds.toFixed(1)} s | ${mb(node.peak)} |`)
  console.log(`| ratio ours / Node's | ${(ours.seconds / node.seconds).toFixed(2)}x | ${(ours.peak / node.peak).toFixed(2)}x |`)
  console.log(`\nidle helper RSS: ${((await helperIdleRss()) / 1024).toFixed(0)} KiB`)
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
