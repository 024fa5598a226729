#!/usr/bin/env node
// Benchmark of on-request heap snapshots on a heap of about 85 MB of small objects, in one run:
// in-process v8.writeHeapSnapshot() (the floor), ours over DevTools (without and with an onProgress
// callback: V8 then counts the heap's objects first, and reports progress) and in-process, and the original
// package node-oom-heapdump 3.8 (installed from npm into bench/.original, built by its own install
// script), and the cheapest DevTools client there can be (fixtures/devtools-null-client.js: it drops
// what it receives), which shows what the protocol itself costs the target. Each capture runs in a fresh process; we report the capture's wall time and the target
// process's peak RSS (VmHWM). Methods alternate, medians of --runs.
//
// --threads: also the CPU time each thread of the target spent during the capture (utime+stime from
// /proc/<pid>/task/<tid>/stat, by thread name; medians).
//
//   node bench/on-request.js [--runs 3] [--threads] [--node PATH]   (--node: the targets run on another
//   Node, e.g. .cache/node/24/package/bin/node from `node scripts/other-nodes.js`)
'use strict'
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { tmpdir } = require('../support/paths.js')
const { start } = require('../support/child.js')
const { median } = require('../support/stats.js')

const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 3
const threads = process.argv.includes('--threads')
const node = process.argv.includes('--node') ? path.resolve(process.argv[process.argv.indexOf('--node') + 1]) : process.execPath
const app = path.join(__dirname, 'fixtures', 'heap-app.js')
const originalDir = path.join(__dirname, '.original')
const original = path.join(originalDir, 'node_modules', 'node-oom-heapdump')

function installOriginal() {
  if (fs.existsSync(path.join(original, 'package.json'))) return
  console.log('installing node-oom-heapdump@3.8 into bench/.original ...')
  fs.mkdirSync(originalDir, { recursive: true })
  fs.writeFileSync(path.join(originalDir, 'package.json'), '{"private":true}')
  const r = spawnSync('npm', ['install', '--no-save', '--foreground-scripts', 'node-oom-heapdump@3.8'], { cwd: originalDir, stdio: 'inherit' })
  if (r.status !== 0) throw new Error('cannot install node-oom-heapdump@3.8')
}

async function once(method, port) {
  const dir = tmpdir('bench')
  const file = path.join(dir, `${method}.heapsnapshot`)
  const inspect = method === 'original' || method.includes('devtools') ? [`--inspect=127.0.0.1:${port}`] : []
  const env = { BENCH_METHOD: method, BENCH_FILE: file, BENCH_PORT: String(port), BENCH_ORIGINAL: original, ...(threads ? { BENCH_THREADS: '1' } : {}) }
  const { code, stdout, stderr } = await start([...inspect, app], { node, env, cwd: process.cwd() }).done
  fs.rmSync(dir, { recursive: true, force: true })
  if (code !== 0) throw new Error(`${method} exited ${code}: ${stderr}`)
  return JSON.parse(stdout.trim().split('\n').pop())
}

async function main() {
  installOriginal()
  // The original's addon is built by its install script for the Node that runs this bench only.
  const methods = ['writeHeapSnapshot', 'devtools-null-client', 'ours-devtools', 'ours-devtools-progress', 'ours-in-process', ...(node === process.execPath ? ['original'] : [])]
  const results = Object.fromEntries(methods.map((m) => [m, []]))
  let port = 9400
  console.log(`Node ${spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim()}, ${runs} runs each, alternating`)
  for (let i = 0; i < runs; i++) {
    for (const m of methods) {
      const r = await once(m, port++)
      results[m].push(r)
      console.log(`  ${m.padEnd(22)} ${r.seconds.toFixed(2)} s, peak RSS ${(r.peakRss / 1e6).toFixed(0)} MB, heap ${(r.heapUsed / 1e6).toFixed(0)} MB, file ${(r.bytes / 1e6).toFixed(0)} MB`)
    }
  }
  const floor = { s: median(results.writeHeapSnapshot.map((r) => r.seconds)), rss: median(results.writeHeapSnapshot.map((r) => r.peakRss)) }
  console.log('\n| method | wall time | peak RSS | time / floor | RSS / floor |')
  console.log('|---|---|---|---|---|')
  for (const m of methods) {
    const s = median(results[m].map((r) => r.seconds))
    const rss = median(results[m].map((r) => r.peakRss))
    console.log(`| ${m} | ${s.toFixed(2)} s | ${(rss / 1e6).toFixed(0)} MB | ${(s / floor.s).toFixed(2)}x | ${(rss / floor.rss).toFixed(2)}x |`)
  }
  if (!threads) return
  console.log('\nCPU time per thread during the capture (ms, medians):\n')
  console.log('| method | thread | CPU ms |')
  console.log('|---|---|---|')
  for (const m of methods) {
    const names = [...new Set(results[m].flatMap((r) => Object.keys(r.threads ?? {})))]
    const rows = names.map((n) => [n, median(results[m].map((r) => r.threads?.[n] ?? 0))]).filter(([, ms]) => ms >= 20)
    rows.sort((a, b) => b[1] - a[1])
    for (const [n, ms] of rows) console.log(`| ${m} | ${n} | ${ms.toFixed(0)} |`)
  }
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
