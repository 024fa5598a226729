#!/usr/bin/env node
// Which artifacts each tool leaves when a leaking app (heap limit 64 MB) runs out of memory in a
// memory cgroup of 2x, 4x and 8x its heap limit: ours (NATIVE_HOOK and GC_MONITORING), Node's own
// --heapsnapshot-near-heap-limit=1, and the original node-oom-heapdump 3.8 (installed by
// bench/on-request.js into bench/.original). Reports, per run: how the process ended, the files
// left (complete snapshot, empty or broken snapshot, heap profile, report), and the time from start
// to the first usable artifact. Needs root (cgroups).
//
//   node bench/containers.mjs [--heap-mb 64]
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { createCgroup } from '../support/cgroup.js'
import { leakApp as leak, tmpdir } from '../support/paths.js'

const here = path.dirname(fileURLToPath(import.meta.url))
const heapMb = Number(process.argv[process.argv.indexOf('--heap-mb') + 1]) || 64
const original = path.join(here, '.original', 'node_modules', 'node-oom-heapdump')
const MB = 1024 * 1024

const tools = {
  'ours NATIVE_HOOK': (dir) => ({ args: [leak], env: { OHD_OPTIONS: JSON.stringify({ path: path.join(dir, 'ours') }) } }),
  'ours GC_MONITORING': (dir) => ({ args: [leak], env: { OHD_OPTIONS: JSON.stringify({ path: path.join(dir, 'ours'), OOMImplementation: 'GC_MONITORING' }) } }),
  'node --heapsnapshot-near-heap-limit=1': () => ({ args: ['--heapsnapshot-near-heap-limit=1', leak], env: { OHD_OPTIONS: '{"heapdumpOnOOM":false}' } }),
  'original 3.8': (dir) => ({ args: [leak], env: { OHD_PACKAGE: original, OHD_OPTIONS: JSON.stringify({ path: path.join(dir, 'original') }) } }),
}

function classify(dir, started) {
  const found = []
  let first = Infinity
  for (const f of fs.readdirSync(dir)) {
    const file = path.join(dir, f)
    const st = fs.statSync(file)
    let kind
    if (f.endsWith('.partial')) kind = 'temporary'
    else if (st.size === 0) kind = `empty ${path.extname(f)}`
    else {
      let ok = false
      try {
        const j = JSON.parse(fs.readFileSync(file, 'utf8'))
        ok = f.endsWith('.heapsnapshot') ? j.nodes.length === j.snapshot.node_count * j.snapshot.meta.node_fields.length : true
      } catch {}
      kind = ok ? { '.heapsnapshot': 'complete snapshot', '.heapprofile': 'heap profile', '.json': 'report' }[path.extname(f)] : `broken ${path.extname(f)}`
      if (ok) first = Math.min(first, st.mtimeMs - started)
    }
    found.push(kind)
  }
  return { found: found.sort(), first }
}

async function run(tool, limitMb) {
  const dir = tmpdir('bench-cg')
  const cg = createCgroup(limitMb * MB)
  const { args, env } = tools[tool](dir)
  const started = Date.now()
  const child = spawn(cg.command[0], [...cg.command.slice(1), process.execPath, `--max-old-space-size=${heapMb}`, ...args], {
    cwd: dir,
    env: { ...process.env, OHD_LEAK_ASYNC: '1', ...env },
    stdio: 'ignore',
  })
  const end = await new Promise((resolve) => child.on('close', (code, signal) => resolve(signal ?? `exit ${code}`)))
  const seconds = (Date.now() - started) / 1000
  const { found, first } = classify(dir, started)
  fs.rmSync(dir, { recursive: true, force: true })
  await cg.remove()
  return { end, seconds, found, first }
}

if (!fs.existsSync(path.join(original, 'package.json'))) {
  console.error('the original package is missing: run `node bench/on-request.js` once to install it into bench/.original')
  process.exit(1)
}
console.log(`Node ${process.version}, heap limit ${heapMb} MB, leak in batches between event loop turns\n`)
console.log('| cgroup limit | tool | ended by | artifacts left | first usable artifact |')
console.log('|---|---|---|---|---|')
for (const factor of [2, 4, 8]) {
  for (const tool of Object.keys(tools)) {
    const r = await run(tool, heapMb * factor)
    const first = Number.isFinite(r.first) ? `${(r.first / 1000).toFixed(1)} s` : 'none'
    console.log(`| ${factor}x (${heapMb * factor} MB) | ${tool} | ${r.end} after ${r.seconds.toFixed(1)} s | ${r.found.join(', ') || 'nothing'} | ${first} |`)
  }
}
