#!/usr/bin/env node
// Benchmark of `node-oom-heapdump convert`: a large CPU profile (node --cpu-prof at a fine interval,
// over many functions and stacks) and a large sampling heap profile (through the inspector, at a
// small sampling interval), each converted to pprof by the built CLI. Measures wall time and peak
// RSS of the conversion (VmHWM polled from /proc every 2 ms), with the sizes in and out.
//
//   node bench/pprof.js [--seconds 20] [--interval-us 50]
'use strict'
const { spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { root, tmpdir } = require('../support/paths.js')
const { mb, watchPeakRss } = require('../support/stats.js')

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name)
  return i > 0 ? Number(process.argv[i + 1]) : dflt
}
const seconds = arg('--seconds', 20)
const intervalUs = arg('--interval-us', 50)

// 500 functions calling each other at random, 1 to 12 deep: many distinct stacks.
const workload = (ms) => `
  const fns = []
  for (let i = 0; i < 500; i++) fns.push(new Function('fns', 'depth', 'keep', \`
    const o = { i: ${'${i}'}, s: 'x'.repeat(depth * 8) }
    if (keep.length < 200000) keep.push(o)
    if (depth > 0) return fns[(depth * 7919 + ${'${i}'} + (Math.random() * 500 | 0)) % 500](fns, depth - 1, keep)
    let x = 0; for (let k = 0; k < 200; k++) x += Math.sqrt(k)
    return x\`))
  const keep = []
  const end = Date.now() + ${ms}
  while (Date.now() < end) fns[Math.random() * 500 | 0](fns, 1 + (Math.random() * 12 | 0), keep)
  globalThis.keep = keep`

function convert(file) {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint()
    const child = spawn(path.join(root, 'native', 'node-oom-heapdump'), ['convert', file], { stdio: ['ignore', 'pipe', 'inherit'] })
    const peak = watchPeakRss(child.pid, 2)
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6
      resolve({ code, ms, peakRss: peak.stop().own, out: out.trim() })
    })
  })
}

async function main() {
  const dir = tmpdir('bench-pprof')
  const cpuRun = spawnSync(process.execPath, ['--cpu-prof', `--cpu-prof-interval=${intervalUs}`, `--cpu-prof-dir=${dir}`, '--cpu-prof-name=big.cpuprofile', '-e', workload(seconds * 1000)])
  if (cpuRun.status !== 0) throw new Error(`the CPU workload failed: ${cpuRun.stderr}`)
  const heapFile = path.join(dir, 'big.heapprofile')
  const heapScript = `
    const inspector = require('node:inspector'); const fs = require('node:fs')
    const s = new inspector.Session(); s.connect()
    s.post('HeapProfiler.startSampling', { samplingInterval: 256 }, () => {
      ${workload(Math.max(1000, (seconds * 1000) / 4))}
      s.post('HeapProfiler.stopSampling', (err, { profile }) => fs.writeFileSync(${JSON.stringify(heapFile)}, JSON.stringify(profile)))
    })`
  const heapRun = spawnSync(process.execPath, ['-e', heapScript])
  if (heapRun.status !== 0) throw new Error(`the heap workload failed: ${heapRun.stderr}`)

  console.log(`node ${process.version}; CPU profile of ${seconds} s at ${intervalUs} us; heap profile at 256 bytes`)
  for (const file of [path.join(dir, 'big.cpuprofile'), heapFile]) {
    const r = await convert(file)
    if (r.code !== 0) throw new Error(`convert failed for ${file}`)
    const output = r.out.match(/^wrote (.*) \(/)[1]
    console.log(`${path.basename(file)}: ${mb(fs.statSync(file).size)} in, ${mb(fs.statSync(output).size)} out, ${r.ms.toFixed(0)} ms, peak RSS ${mb(r.peakRss)}`)
    console.log(`  ${r.out}`)
  }
  fs.rmSync(dir, { recursive: true, force: true })
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
