#!/usr/bin/env node
// Overhead of the sampling heap profiler (on by default, one sample per 512 KiB) on an
// allocation-heavy loop: the same loop in fresh processes with heapProfile on and off, alternating,
// medians of --runs, and their ratio.
//
//   node bench/sampling-overhead.js [--runs 7]
'use strict'
const { spawnSync } = require('node:child_process')
const { root } = require('../support/paths.js')
const { median } = require('../support/stats.js')

const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 7

const loop = `
  const api = require(${JSON.stringify(root)})({ heapProfile: process.env.PROFILE === '1', path: require('os').tmpdir() + '/ohd-overhead' })
  let keep = []
  const t0 = process.hrtime.bigint()
  for (let round = 0; round < 40; round++) {
    keep = []
    for (let i = 0; i < 100000; i++) keep.push({ id: i, name: 'item-' + i, tags: [i, round] })
  }
  console.log(Number(process.hrtime.bigint() - t0) / 1e6)
`

function once(profile) {
  const r = spawnSync(process.execPath, ['-e', loop], { env: { ...process.env, PROFILE: profile ? '1' : '0' }, encoding: 'utf8' })
  if (r.status !== 0) throw new Error(r.stderr)
  return Number(r.stdout.trim())
}

const on = []
const off = []
for (let i = 0; i < runs; i++) {
  off.push(once(false))
  on.push(once(true))
}
console.log(`Node ${process.version}, 4M allocations of small objects and strings, ${runs} runs each`)
console.log(`heapProfile off: median ${median(off).toFixed(0)} ms (${off.map((x) => x.toFixed(0)).join(', ')})`)
console.log(`heapProfile on:  median ${median(on).toFixed(0)} ms (${on.map((x) => x.toFixed(0)).join(', ')})`)
console.log(`ratio on / off: ${(median(on) / median(off)).toFixed(3)}`)
