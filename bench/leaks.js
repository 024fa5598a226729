#!/usr/bin/env node
// The three-snapshot technique, ours against memlab's, on one app: __test__/fixtures/leaks/
// three-snapshots.js writes s1 (after start-up), s2 (after 1000 requests) and s3 (after 1000
// more); between s1 and s2 it leaks 1000 LeakedRequest into global.history.entries and 500 Session
// into a module-scope Map. Runs
//   ours:   node-oom-heapdump leaks s1 s2 s3 --json
//   memlab: memlab find-leaks --baseline s1 --target s2 --final s3 --trace-all-objects
// (memlab@2.0.5, npm, installed on demand into bench/.memlab as bench/analyzer.js does; without
// --trace-all-objects memlab reports leaks of detached DOM and React Fiber nodes only, none in
// Node), each bounded by --timeout seconds, and prints side by side: the time, the per-class
// counts of what each found (memlab's "Alive objects allocated in target page" table), and the
// groups (ours) or clusters of leak traces (memlab).
//
//   node bench/leaks.js [--timeout 300]
'use strict'
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { root } = require('../support/paths.js')

const argv = process.argv.slice(2)
const timeout = Number(argv.includes('--timeout') ? argv[argv.indexOf('--timeout') + 1] : 300) * 1000
const MEMLAB_VERSION = '2.0.5'
const memlabDir = path.join(__dirname, '.memlab')
const memlab = path.join(memlabDir, 'node_modules', '.bin', 'memlab')
const stripAnsi = (s) => s.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '')

function installMemlab() {
  const pkg = path.join(memlabDir, 'node_modules', 'memlab', 'package.json')
  if (fs.existsSync(pkg) && JSON.parse(fs.readFileSync(pkg, 'utf8')).version === MEMLAB_VERSION && fs.existsSync(memlab)) return
  fs.mkdirSync(memlabDir, { recursive: true })
  fs.writeFileSync(path.join(memlabDir, 'package.json'), '{"private":true}\n')
  const env = { ...process.env, PUPPETEER_SKIP_DOWNLOAD: '1', PUPPETEER_SKIP_CHROMIUM_DOWNLOAD: '1' }
  const r = spawnSync('npm', ['install', '--prefix', memlabDir, '--no-save', '--no-audit', '--no-fund', `memlab@${MEMLAB_VERSION}`], { env, stdio: 'inherit' })
  if (r.status !== 0) throw new Error(`cannot install memlab@${MEMLAB_VERSION}`)
}

function timed(cmd, args, env) {
  const started = process.hrtime.bigint()
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout, maxBuffer: 256 << 20, env })
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`)
  if (r.status !== 0) throw new Error(`${cmd} exited ${r.status}: ${r.stderr}`)
  return { seconds, out: r.stdout, err: r.stderr }
}

installMemlab()
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ohd-bench-leaks-'))
try {
  const files = [1, 2, 3].map((i) => path.join(dir, `s${i}.heapsnapshot`))
  const app = path.join(root, '__test__', 'fixtures', 'leaks', 'three-snapshots.js')
  timed(process.execPath, [app, ...files])
  const ours = timed(path.join(root, 'native', 'node-oom-heapdump'), ['leaks', ...files, '--json'])
  const l = JSON.parse(ours.out)
  const work = path.join(dir, 'memlab-work')
  fs.mkdirSync(work)
  // memlab creates its default work dir, os.tmpdir()/memlab, at start-up whatever --work-dir says.
  const theirs = timed(memlab, ['find-leaks', '--baseline', files[0], '--target', files[1], '--final', files[2], '--trace-all-objects', '--work-dir', work], { ...process.env, TMPDIR: work })
  // memlab prints its class table on stdout and the clusters of leak traces on stderr.
  const text = stripAnsi(`${theirs.out}\n${theirs.err}`)

  console.log(`node ${process.version}; s1..s3: ${files.map((f) => `${(fs.statSync(f).size / 1e6).toFixed(1)} MB`).join(', ')}`)
  console.log(`\nours: node-oom-heapdump leaks (${ours.seconds.toFixed(2)} s): ${l.objects} new objects, ${l.groups.length} groups; the first five:`)
  for (const g of l.groups.slice(0, 5)) console.log(`  ${String(g.count).padStart(6)} x ${g.name.padEnd(16)} ${String(g.retainedSize).padStart(8)} B  ${g.retainerPath}`)
  console.log(`\nmemlab ${MEMLAB_VERSION} find-leaks --trace-all-objects (${theirs.seconds.toFixed(2)} s): alive objects allocated in the target, by class:`)
  for (const line of text
    .split('\n')
    .filter((x) => /^│ \d+ /.test(x))
    .slice(0, 5))
    console.log(`  ${line}`)
  const clusters = [...text.matchAll(/--Similar leaks in this run: (\d+)--\n--Retained size of leaked objects: ([^-]+)--\n((?:.+\n)+)/g)]
  console.log(`  ${clusters.length} clusters of leak traces; the first three (count, retained size, trace):`)
  for (const [, count, size, trace] of clusters.slice(0, 3)) console.log(`  ${count} leaks, ${size}:\n${trace.replace(/^/gm, '      ').trimEnd()}`)
} finally {
  fs.rmSync(dir, { recursive: true, force: true })
}
