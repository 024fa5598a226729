#!/usr/bin/env node
// Calibrates SNAPSHOT_COST_RATIO (src/diagnosis.rs): the peak extra RSS while a heap snapshot is
// built and written, per byte of used heap, for a few heap shapes and sizes. Each measurement runs
// in a fresh process: build the heap, GC, reset the RSS high-water mark, snapshot (in-process through
// node-oom-heapdump, as GC_MONITORING does, and with v8.writeHeapSnapshot), read the peak.
//
//   node bench/snapshot-cost.js
'use strict'
const { spawnSync } = require('node:child_process')
const { root } = require('../support/paths.js')
const { mb } = require('../support/stats.js')

const shapes = {
  'array of small objects': (n) => `globalThis.h = []; for (let i = 0; i < ${n}; i++) h.push({ id: i, path: '/r/' + (i % 1000), status: 200 })`,
  'map of strings': (n) => `globalThis.h = new Map(); for (let i = 0; i < ${n}; i++) h.set('k' + i, { s: 'value-' + i + '-'.repeat(i % 50), a: [i, i + 1] })`,
  'large strings': (n) => `globalThis.h = []; for (let i = 0; i < ${n / 1000}; i++) h.push('x'.repeat(100000) + i)`,
}

function measure(build, how) {
  const script = `
    ${build}
    const fs = require('fs'), v8 = require('v8'), os = require('os')
    const rss = (k) => Number(new RegExp(k + ':\\\\s+(\\\\d+)').exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]) * 1024
    const api = ${how === 'ours' ? `require(${JSON.stringify(root)})({ heapdumpOnOOM: false })` : 'null'}
    gc()
    const used = v8.getHeapStatistics().used_heap_size
    const before = rss('VmRSS')
    fs.writeFileSync('/proc/self/clear_refs', '5')
    const file = os.tmpdir() + '/ohd-cost-' + process.pid + '.heapsnapshot'
    const done = () => { const peak = rss('VmHWM'); fs.rmSync(file); console.log(JSON.stringify({ used, extra: peak - before })) }
    if (api) api.createHeapSnapshot(file, { transport: 'in-process' }).then(done)
    else { v8.writeHeapSnapshot(file); done() }
  `
  const r = spawnSync(process.execPath, ['--expose-gc', '-e', script], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(r.stderr)
  return JSON.parse(r.stdout.trim().split('\n').pop())
}

console.log(`Node ${process.version}\n`)
console.log('| heap | used heap | extra RSS, ours in-process | ratio | extra RSS, writeHeapSnapshot | ratio |')
console.log('|---|---|---|---|---|---|')
for (const [shape, build] of Object.entries(shapes)) {
  for (const n of [200_000, 800_000]) {
    const ours = measure(build(n), 'ours')
    const node = measure(build(n), 'node')
    console.log(`| ${shape} (${n}) | ${mb(ours.used)} | ${mb(ours.extra)} | ${(ours.extra / ours.used).toFixed(1)}x | ${mb(node.extra)} | ${(node.extra / node.used).toFixed(1)}x |`)
  }
}
