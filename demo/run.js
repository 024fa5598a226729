#!/usr/bin/env node
// `npm run demo`: runs demo/leaky-app.js with a 64 MB heap until it runs out of memory, shows what
// node-oom-heapdump prints as it writes the snapshot and what filled the heap (the analyzer's summary,
// printed by the helper after the app has exited), then opens the snapshot and checks it.
'use strict'
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const outDir = path.resolve(__dirname, '..', 'demo-output')
fs.mkdirSync(outDir, { recursive: true })
const snapshot = path.join(outDir, 'leaky-app.heapsnapshot')
fs.rmSync(snapshot, { force: true })

console.log('$ node --max-old-space-size=64 demo/leaky-app.js   (leaks RequestLogEntry objects)\n')
const started = Date.now()
const app = spawn(process.execPath, ['--max-old-space-size=64', path.join(__dirname, 'leaky-app.js')], {
  env: { ...process.env, DEMO_SNAPSHOT: snapshot },
  stdio: ['ignore', 'inherit', 'pipe'],
})
let pending = ''
app.stderr.on('data', (d) => {
  // V8's own GC trace and native stack are long; show the rest, line by line.
  const lines = (pending + d).split('\n')
  pending = lines.pop()
  for (const line of lines) {
    if (line.trim() && !/^\[\d+:|^<---|^\s*\d+: 0x|inspector/.test(line)) console.log(`  ${line}`)
  }
})
app.on('close', (code, signal) => {
  console.log(`\nthe app exited with ${signal ?? `code ${code}`} after ${((Date.now() - started) / 1000).toFixed(1)} s`)
  if (!fs.existsSync(snapshot)) {
    console.error(`no snapshot at ${snapshot}`)
    process.exit(1)
  }
  const st = fs.statSync(snapshot)
  const snap = JSON.parse(fs.readFileSync(snapshot, 'utf8'))
  const { meta, node_count: nodeCount, edge_count: edgeCount } = snap.snapshot
  const nodeFields = meta.node_fields.length
  const complete = snap.nodes.length === nodeCount * nodeFields && snap.edges.length === edgeCount * meta.edge_fields.length
  console.log(`snapshot: ${snapshot}`)
  console.log(`  ${(st.size / 1e6).toFixed(1)} MB, mode ${(st.mode & 0o777).toString(8)}, ${nodeCount} nodes, ${edgeCount} edges, counts match header: ${complete}`)

  const report = JSON.parse(fs.readFileSync(snapshot.replace(/\.heapsnapshot$/, '.oom.json'), 'utf8'))
  console.log(
    `report: ${report.kind}, ${report.trigger.location}; used heap ${(report.heapStatistics.usedHeapSize / 1e6).toFixed(1)} MB of ${(report.heapStatistics.heapSizeLimit / 1e6).toFixed(1)} MB; memory limit from ${report.container.source}`,
  )
  console.log(
    `  top allocation site: ${report.topAllocationSites[0].functionName} (${report.topAllocationSites[0].url}:${report.topAllocationSites[0].lineNumber}), ${(report.topAllocationSites[0].bytes / 1e6).toFixed(1)} MB sampled`,
  )
  console.log(`\nWhat filled the heap, again: npx node-oom-heapdump analyze ${path.relative(process.cwd(), snapshot)}`)
  console.log('Open the .heapsnapshot and the .heapprofile in Chrome DevTools: Memory tab > Load profile.')
  process.exit(complete ? 0 : 1)
})
