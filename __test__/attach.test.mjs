// The command line's captures of running processes (issue 12): `snapshot`, `cpuprofile` and
// `heapprofile <pid>` of a plain app that never required the package, with its inspector closed
// (opened with SIGUSR1, closed again after: its listeners are read from /proc here) or already open,
// on every Node major, to stdout, with --analyze, in another network namespace; and every error:
// exit status 2, one clear line, nothing written, the target still running.
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { test } from 'node:test'
import { root, tmpdir } from '../support/paths.js'
import { start } from '../support/child.js'
import { MAJORS, countObjectsOfClass, ls, mode, nodeBinary, readSnapshot, rootForNobody, skipOrFail, waitFor } from './helpers.mjs'

const CLI = path.join(root, 'bin', 'node-oom-heapdump.js')
const KINDS = ['heapsnapshot', 'cpuprofile', 'heapprofile']
const SUBCOMMAND = { heapsnapshot: 'snapshot', cpuprofile: 'cpuprofile', heapprofile: 'heapprofile' }
const WINDOW = { heapsnapshot: [], cpuprofile: ['--duration', '1s', '--interval', '500us'], heapprofile: ['--duration', '1s', '--interval', '16KiB'] }

// A plain app: it never requires the package. It keeps 1000 AttachMarker objects and allocates all
// the time in churnLoop, 2 ms of every 5 (so that profiles have samples; the last 2000 arrays, about
// 1 MB, stay alive).
const APP = `
class AttachMarker { constructor(i) { this.i = i } }
globalThis.kept = Array.from({ length: 1000 }, (_, i) => new AttachMarker(i))
const churn = []
let next = 0
function allocate() { churn[next++ % 2000] = new Array(64).fill(Math.random()) }
setInterval(function churnLoop() { const end = Date.now() + 2; while (Date.now() < end) allocate() }, 5)
console.log('ready')
`
// V8 may inline allocate into churnLoop: either names the app's code in a profile.
const APP_FUNCTIONS = ['churnLoop', 'allocate']

/** Writes the app into `dir` and starts it; resolves once it runs. Killed after the test. */
async function startApp(t, dir, { node = process.execPath, nodeArgs = [], command, source = APP } = {}) {
  const file = path.join(dir, 'app.js')
  fs.writeFileSync(file, source)
  const child = start([...nodeArgs, file], { node, command, cwd: dir })
  t.after(() => child.kill('SIGKILL'))
  const first = await Promise.race([child.firstLine, child.done.then((r) => assert.fail(`the app exited: ${r.stderr}`))])
  assert.equal(first, 'ready')
  return child
}

/** Runs the CLI; stdout as a Buffer (it may be a capture). The process is the promise's `child`. */
function cli(args, { cwd, uid, gid, cli = CLI } = {}) {
  let child
  const done = new Promise((resolve) => {
    child = spawn(process.execPath, [cli, ...args], { cwd, uid, gid, stdio: ['ignore', 'pipe', 'pipe'] })
    const out = []
    let stderr = ''
    child.stdout.on('data', (d) => out.push(d))
    child.stderr.on('data', (d) => (stderr += d))
    const killer = setTimeout(() => child.kill('SIGKILL'), 90_000)
    child.on('close', (status, signal) => {
      clearTimeout(killer)
      resolve({ status, signal, stdout: Buffer.concat(out), stderr })
    })
  })
  done.child = child
  return done
}

/** Resolves once `child` prints a line matching `re` (from now on), or fails after `ms`. */
function untilLine(child, re, ms = 30_000) {
  return new Promise((resolve, reject) => {
    let text = ''
    const timer = setTimeout(() => {
      child.stdout.off('data', onData)
      reject(new Error(`no line matching ${re} within ${ms} ms; it printed: ${text.slice(-500)}`))
    }, ms)
    const onData = (d) => {
      text += d
      const line = text.split('\n').find((l) => re.test(l))
      if (line !== undefined) {
        clearTimeout(timer)
        child.stdout.off('data', onData)
        resolve(line)
      }
    }
    child.stdout.on('data', onData)
  })
}

/** The TCP ports `pid` listens on, from its /proc (sockets of its network namespace it holds open). */
function listeners(pid) {
  const inodes = new Set()
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`))
      if (m) inodes.add(m[1])
    } catch {}
  }
  const ports = []
  for (const table of ['tcp', 'tcp6']) {
    for (const line of fs.readFileSync(`/proc/${pid}/net/${table}`, 'utf8').split('\n').slice(1)) {
      const c = line.trim().split(/\s+/)
      if (c[3] === '0A' && inodes.has(c[9])) ports.push(parseInt(c[1].split(':')[1], 16))
    }
  }
  return ports.sort()
}

const alive = (pid) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Parses a capture and checks that it is complete; `what` names it in failures. */
function checkCapture(kind, file, what) {
  if (kind === 'heapsnapshot') {
    const snap = readSnapshot(file)
    assert.equal(countObjectsOfClass(snap, 'AttachMarker'), 1000, `${what}: the app's objects`)
    return
  }
  const profile = JSON.parse(fs.readFileSync(file, 'utf8'))
  if (kind === 'cpuprofile') {
    const ids = new Set(profile.nodes.map((n) => n.id))
    assert.ok(profile.nodes.length > 1, `${what}: nodes`)
    assert.ok(profile.samples.length > 0, `${what}: samples`)
    assert.equal(profile.samples.length, profile.timeDeltas.length, `${what}: a time delta per sample`)
    assert.ok(profile.startTime < profile.endTime, `${what}: start before end`)
    for (const s of profile.samples) assert.ok(ids.has(s), `${what}: sample of node ${s}`)
    assert.ok(
      profile.nodes.some((n) => APP_FUNCTIONS.includes(n.callFrame.functionName)),
      `${what}: the app's function`,
    )
  } else {
    const ids = new Set()
    const names = new Set()
    const stack = [profile.head]
    while (stack.length) {
      const n = stack.pop()
      assert.ok(!ids.has(n.id), `${what}: node ${n.id} once`)
      ids.add(n.id)
      names.add(n.callFrame.functionName)
      stack.push(...n.children)
    }
    assert.ok(profile.samples.length > 0, `${what}: samples`)
    // A sample V8 took while serializing the profile may point at a site newer than the tree.
    const newest = Math.max(...ids)
    for (const s of profile.samples) assert.ok((ids.has(s.nodeId) || s.nodeId > newest) && s.size > 0, `${what}: sample ${JSON.stringify(s)}`)
    assert.ok(
      APP_FUNCTIONS.some((f) => names.has(f)),
      `${what}: the app's function`,
    )
  }
}

/** Captures `kind` of `pid` into `dir` under the default name; returns the file. */
async function captureInto(kind, pid, dir, extra = []) {
  const r = await cli([SUBCOMMAND[kind], String(pid), ...WINDOW[kind], ...extra], { cwd: dir })
  assert.equal(r.status, 0, `${kind}: ${r.stderr}`)
  const files = ls(dir).filter((f) => f !== 'app.js')
  assert.equal(files.length, 1, `${kind}: one file (${files})`)
  assert.match(files[0], new RegExp(`^${kind}-${pid}-\\d{8}T\\d{6}Z\\.${kind}$`), 'the default name carries the pid and the time')
  const file = path.join(dir, files[0])
  assert.equal(r.stdout.toString(), `${file}\n`, 'stdout names the file')
  assert.equal(mode(file), 0o600)
  return { file, r }
}

for (const kind of KINDS) {
  test(`${SUBCOMMAND[kind]} <pid> of a plain app with its inspector closed: SIGUSR1, a complete file, the inspector closed again`, { timeout: 120_000 }, async (t) => {
    const dir = tmpdir(`attach-${kind}`)
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
    // --inspect-port=0: SIGUSR1 opens it on a free port (never 9229, which another run may hold).
    const app = await startApp(t, dir, { nodeArgs: ['--inspect-port=0'] })
    assert.deepEqual(listeners(app.pid), [], 'no listener before')
    const { file, r } = await captureInto(kind, app.pid, dir)
    checkCapture(kind, file, kind)
    assert.deepEqual(listeners(app.pid), [], 'the inspector we opened is closed again')
    assert.ok(alive(app.pid), 'the app runs on')
    assert.doesNotMatch(r.stderr, /still open|stays open/)
    // Twice: the second capture opens it again.
    fs.rmSync(file)
    const again = await captureInto(kind, app.pid, dir)
    checkCapture(kind, again.file, `${kind}, again`)
    assert.deepEqual(listeners(app.pid), [])
  })

  test(`${SUBCOMMAND[kind]} <pid> of an app whose inspector is open: used as it is, and left open`, { timeout: 120_000 }, async (t) => {
    const dir = tmpdir(`attach-open-${kind}`)
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
    const app = await startApp(t, dir, { nodeArgs: ['--inspect=127.0.0.1:0'] })
    const before = listeners(app.pid)
    assert.equal(before.length, 1, 'the inspector listens')
    const { file } = await captureInto(kind, app.pid, dir)
    checkCapture(kind, file, kind)
    assert.deepEqual(listeners(app.pid), before, 'the inspector is still open, on the same port')
  })
}

// An inspector bound to another loopback address is reached there, not on 127.0.0.1 (where another
// process may listen on the same port).
test('snapshot <pid> of an app whose inspector listens on 127.0.0.2: reached on that address', { timeout: 120_000 }, async (t) => {
  const dir = tmpdir('attach-127-0-0-2')
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const app = await startApp(t, dir, { nodeArgs: ['--inspect=127.0.0.2:0'] })
  const { file } = await captureInto('heapsnapshot', app.pid, dir)
  checkCapture('heapsnapshot', file, 'heapsnapshot')
})

test('snapshot <pid> on every Node major: the inspector opened by SIGUSR1 is closed again', { timeout: 300_000 }, async (t) => {
  for (const major of MAJORS) {
    const node = nodeBinary(major)
    if (!node) return skipOrFail(t, `Node ${major} is not fetched (node scripts/other-nodes.js)`)
    const dir = tmpdir(`attach-major-${major}`)
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
    const app = await startApp(t, dir, { node, nodeArgs: ['--inspect-port=0'] })
    const { file } = await captureInto('heapsnapshot', app.pid, dir)
    checkCapture('heapsnapshot', file, `Node ${major}`)
    assert.deepEqual(listeners(app.pid), [], `Node ${major}: closed again`)
    assert.ok(alive(app.pid))
  }
})

test('snapshot <pid> -o - streams a checked snapshot to stdout, and writes no file', { timeout: 120_000 }, async (t) => {
  const dir = tmpdir('attach-stdout')
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const app = await startApp(t, dir, { nodeArgs: ['--inspect-port=0'] })
  const r = await cli(['snapshot', String(app.pid), '-o', '-'], { cwd: dir })
  assert.equal(r.status, 0, r.stderr)
  assert.deepEqual(ls(dir), ['app.js'])
  const copy = path.join(dir, 'copy.heapsnapshot')
  fs.writeFileSync(copy, r.stdout)
  checkCapture('heapsnapshot', copy, 'stdout')
  assert.match(r.stderr, /heap snapshot of pid \d+: stdout \(\d+ bytes, \d+ nodes, \d+ edges\)/)
})

// The app of the tests, saying each time its own v8.writeHeapSnapshot is called, and with what.
const WATCHED_APP = `
const v8 = require('node:v8')
const write = v8.writeHeapSnapshot
v8.writeHeapSnapshot = (file, ...rest) => {
  const fs = require('node:fs')
  const st = fs.statSync(file)
  const folder = require('node:path').dirname(file)
  const dir = fs.statSync(folder)
  const written = write(file, ...rest)
  // The FIFO's name is gone by the time the write ends (once it had begun).
  const goneAfter = !fs.existsSync(folder)
  console.log('writeHeapSnapshot ' + JSON.stringify({ file, fifo: st.isFIFO(), mode: (st.mode & 0o777).toString(8), dirMode: (dir.mode & 0o777).toString(8), goneAfter }))
  return written
}
${APP}`

test('snapshot <pid> --stream pipe (the default): the target writes into a FIFO of ours in its /tmp, removed after; --stream inspector: chunks over the protocol', { timeout: 120_000 }, async (t) => {
  const dir = tmpdir('attach-pipe')
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const ours = () => fs.readdirSync('/tmp').filter((f) => f.startsWith('.node-oom-heapdump-'))
  const before = ours()
  const app = await startApp(t, dir, { nodeArgs: ['--inspect-port=0'], source: WATCHED_APP })
  const piped = path.join(dir, 'piped.heapsnapshot')
  const r = await cli(['snapshot', String(app.pid), '-o', piped], { cwd: dir })
  assert.equal(r.status, 0, r.stderr)
  checkCapture('heapsnapshot', piped, 'through the pipe')
  assert.doesNotMatch(r.stderr, /comes over its inspector/)
  const viaInspector = path.join(dir, 'inspector.heapsnapshot')
  const again = await cli(['snapshot', String(app.pid), '-o', viaInspector, '--stream', 'inspector'], { cwd: dir })
  assert.equal(again.status, 0, again.stderr)
  checkCapture('heapsnapshot', viaInspector, 'over the inspector')
  app.kill('SIGTERM')
  const { stdout } = await app.done
  const calls = stdout
    .split('\n')
    .filter((l) => l.startsWith('writeHeapSnapshot '))
    .map((l) => JSON.parse(l.slice(18)))
  assert.equal(calls.length, 1, 'one call, for the pipe: ' + stdout)
  assert.match(calls[0].file, /^\/tmp\/\.node-oom-heapdump-[0-9a-f]{16}\/snapshot$/)
  assert.deepEqual([calls[0].fifo, calls[0].mode, calls[0].dirMode, calls[0].goneAfter], [true, '600', '700', true])
  assert.deepEqual(ours(), before, 'the FIFO and its folder are removed')
})

test('snapshot <pid> of a target that cannot write into the pipe: taken over the inspector instead', { timeout: 120_000 }, async (t) => {
  const dir = tmpdir('attach-nopipe')
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  // Its v8.writeHeapSnapshot throws, as when the FIFO cannot be opened.
  const source = `require('node:v8').writeHeapSnapshot = () => { throw new Error('refused by the test') }\n${APP}`
  const app = await startApp(t, dir, { nodeArgs: ['--inspect-port=0'], source })
  const file = path.join(dir, 'fallback.heapsnapshot')
  const r = await cli(['snapshot', String(app.pid), '-o', file], { cwd: dir })
  assert.equal(r.status, 0, r.stderr)
  assert.match(r.stderr, /did not write its snapshot into the pipe \(Error: refused by the test[^)]*\); it comes over its inspector/)
  checkCapture('heapsnapshot', file, 'after the fallback')
  assert.deepEqual(
    fs.readdirSync('/tmp').filter((f) => f.startsWith('.node-oom-heapdump-')),
    [],
  )
})

test(
  "snapshot <pid> interrupted (SIGTERM to npx's process) before the target opens the pipe: exit 2, nothing left here or in its /tmp, its inspector closed again, and the target not stuck",
  { timeout: 120_000 },
  async (t) => {
    const dir = tmpdir('attach-interrupted')
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
    const ours = () => fs.readdirSync('/tmp').filter((f) => f.startsWith('.node-oom-heapdump-'))
    const before = ours()
    // Its v8.writeHeapSnapshot says when it starts, then keeps its JS thread busy (as a target in a
    // long GC would) until the test creates \`go\`, once the CLI has removed the FIFO, before it
    // opens the file; then says how the write went.
    const go = path.join(tmpdir('attach-interrupted-go'), 'go')
    const source = `const fs = require('node:fs')
const v8 = require('node:v8')
const write = v8.writeHeapSnapshot
v8.writeHeapSnapshot = (file) => {
  console.log('writing')
  while (!fs.existsSync(${JSON.stringify(go)}));
  try { write(file); console.log('wrote') } catch (e) { console.log('after: ' + e.code); throw e }
}
setInterval(() => console.log('tick'), 100)
${APP}`
    const app = await startApp(t, dir, { source })
    assert.deepEqual(listeners(app.pid), [], 'no inspector before')
    const out = path.join(dir, 'cut.heapsnapshot')
    const running = cli(['snapshot', String(app.pid), '-o', out], { cwd: dir })
    await untilLine(app, /^writing$/)
    const after = untilLine(app, /^(after: |wrote)/)
    after.catch(() => {}) // (awaited below, once the CLI is done)
    running.child.kill('SIGTERM')
    // The FIFO and its folder are removed; then the target goes on (the CLI waits for it to close
    // the inspector).
    const same = (a, b) => JSON.stringify(a) === JSON.stringify(b)
    await waitFor(() => same(ours(), before), 30_000, 'the FIFO and its folder to be removed')
    fs.writeFileSync(go, '')
    const r = await running
    assert.equal(r.status, 2, r.stderr)
    assert.match(r.stderr, /^node-oom-heapdump: interrupted by SIGTERM: nothing was written$/m)
    assert.deepEqual(fs.readdirSync(dir), ['app.js'], 'no file, partial or final')
    assert.deepEqual(ours(), before, 'the FIFO and its folder are removed')
    // Its write finds no FIFO (not one without a reader, where it would wait for ever), and its
    // event loop goes on.
    await untilLine(app, /^tick$/)
    assert.deepEqual(listeners(app.pid), [], 'the inspector we opened is closed again')
  },
)

test(
  'snapshot <pid> interrupted (SIGINT) while the target, its event loop blocked, has yet to open the inspector SIGUSR1 asked for: the CLI waits for it and closes it again before it exits',
  { timeout: 120_000 },
  async (t) => {
    const dir = tmpdir('attach-interrupted-sigusr1')
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
    // Blocked in a child process for 4 s, no JavaScript running: Node opens the inspector that
    // SIGUSR1 asks for only once its event loop runs again.
    // It blocks when told (a line on its stdin).
    const source = `const { spawnSync } = require('node:child_process')
setInterval(() => console.log('tick'), 100)
process.stdin.once('data', () => { console.log('blocking'); spawnSync('sleep', ['4']); console.log('unblocked') })
console.log('ready')
`
    const app = await startApp(t, dir, { source })
    let appStderr = ''
    app.stderr.on('data', (d) => (appStderr += d))
    const blocking = untilLine(app, /^blocking$/)
    app.stdin.write('go\n')
    await blocking
    assert.deepEqual(listeners(app.pid), [], 'no inspector before')
    const running = cli(['snapshot', String(app.pid), '-o', path.join(dir, 'never.heapsnapshot')], { cwd: dir })
    // Long enough for the CLI to have sent SIGUSR1 (it reads a few /proc files first), well before
    // the target can answer it.
    await new Promise((resolve) => setTimeout(resolve, 1500))
    running.child.kill('SIGINT')
    const r = await running
    assert.equal(r.status, 2, r.stderr)
    assert.match(r.stderr, /^node-oom-heapdump: interrupted by SIGINT: nothing was written$/m)
    assert.doesNotMatch(r.stderr, /stays open/)
    // The target did open its inspector on our SIGUSR1 (Node says so on its stderr), and it is
    // closed again by the time the CLI has exited.
    assert.match(appStderr, /Debugger listening on ws:\/\//, 'the inspector SIGUSR1 asked for opened before the CLI exited')
    assert.deepEqual(listeners(app.pid), [], 'the inspector SIGUSR1 opened is closed again')
    await untilLine(app, /^tick$/)
    assert.deepEqual(listeners(app.pid), [], 'and stays closed')
    assert.deepEqual(fs.readdirSync(dir), ['app.js'], 'no file, partial or final')
  },
)

test('snapshot <pid> past --max-size (through the pipe and over the inspector): exit 2, nothing written or left, and the target goes on', { timeout: 120_000 }, async (t) => {
  const dir = tmpdir('attach-max-size')
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const ours = () => fs.readdirSync('/tmp').filter((f) => f.startsWith('.node-oom-heapdump-'))
  const before = ours()
  const app = await startApp(t, dir)
  for (const stream of ['pipe', 'inspector']) {
    const file = path.join(dir, `${stream}.heapsnapshot`)
    const r = await cli(['snapshot', String(app.pid), '-o', file, '--stream', stream, '--max-size', '1MiB'], { cwd: dir })
    assert.equal(r.status, 2, r.stderr)
    assert.match(r.stderr, /snapshot goes past 1048576 bytes, more than a heap snapshot of that process can be \(--max-size\)/)
    assert.deepEqual(fs.readdirSync(dir), ['app.js'], `${stream}: no file, partial or final`)
    assert.deepEqual(ours(), before, `${stream}: the FIFO and its folder are removed`)
    assert.deepEqual(listeners(app.pid), [], `${stream}: the inspector we opened is closed again`)
  }
  // It still answers: a capture within bounds lands.
  const file = path.join(dir, 'whole.heapsnapshot')
  const r = await cli(['snapshot', String(app.pid), '-o', file], { cwd: dir })
  assert.equal(r.status, 0, r.stderr)
  checkCapture('heapsnapshot', file, 'after the refused ones')
})

test('snapshot <pid> -o FILE --analyze: the file, then the analyzer report', { timeout: 120_000 }, async (t) => {
  const dir = tmpdir('attach-analyze')
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const app = await startApp(t, dir, { nodeArgs: ['--inspect-port=0'] })
  const file = path.join(dir, 'named.heapsnapshot')
  const r = await cli(['snapshot', String(app.pid), '-o', file, '--analyze'], { cwd: dir })
  assert.equal(r.status, 0, r.stderr)
  checkCapture('heapsnapshot', file, '-o FILE')
  const [first, ...report] = r.stdout.toString().split('\n')
  assert.equal(first, file)
  const alone = spawnSync(process.execPath, [CLI, 'analyze', file], { encoding: 'utf8' })
  assert.equal(alone.status, 0, alone.stderr)
  assert.equal(report.join('\n'), alone.stdout, 'the same report as `analyze FILE`')
  const bad = await cli(['snapshot', String(app.pid), '-o', '-', '--analyze'], { cwd: dir })
  assert.equal(bad.status, 2)
  assert.match(bad.stderr, /--analyze needs a file, not -o -/)
})

test('a target in another network namespace (unshare --net): captured from outside, inspector closed again', { timeout: 120_000 }, async (t) => {
  if (process.getuid() !== 0) return skipOrFail(t, 'needs root (setns into the target network namespace)')
  for (const tool of ['unshare', 'ip']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return skipOrFail(t, `${tool} is not installed (util-linux, iproute2)`)
  }
  const dir = tmpdir('attach-netns')
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  // A new namespace's loopback is down: bring it up, then exec node (same pid throughout).
  const command = ['unshare', '--net', 'sh', '-c', 'ip link set lo up && exec "$0" "$@"']
  const app = await startApp(t, dir, { command, nodeArgs: ['--inspect-port=0'] })
  assert.notEqual(fs.readlinkSync(`/proc/${app.pid}/ns/net`), fs.readlinkSync('/proc/self/ns/net'), 'the app is in another network namespace')
  for (const kind of ['heapsnapshot', 'heapprofile']) {
    const { file } = await captureInto(kind, app.pid, dir)
    checkCapture(kind, file, `${kind} across namespaces`)
    fs.rmSync(file)
    assert.ok(alive(app.pid), 'the app runs on')
    assert.deepEqual(listeners(app.pid), [], 'closed again')
  }
})

/**
 * Runs a failing capture: status 2, `message` on stderr, nothing written in `dir`, nothing on
 * stdout (but with `-o -`, where what arrived was already streamed: the status says it is incomplete).
 */
async function fails(args, dir, message, opts = {}) {
  const before = ls(dir)
  const r = await cli(args, { cwd: dir, ...opts })
  assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`)
  assert.match(r.stderr, message)
  if (!args.includes('-')) assert.equal(r.stdout.length, 0, 'nothing on stdout')
  assert.deepEqual(ls(dir), before, 'nothing written (no file, no temporary file)')
  return r
}

test('errors: no such pid, not permitted, not a Node process', { timeout: 120_000 }, async (t) => {
  const dir = tmpdir('attach-errors')
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const gone = spawnSync(process.execPath, ['-p', 'process.pid'], { encoding: 'utf8' })
  const pid = Number(gone.stdout.trim())
  assert.ok(!alive(pid))
  for (const sub of Object.values(SUBCOMMAND)) await fails([sub, String(pid)], dir, new RegExp(`^node-oom-heapdump: no process with pid ${pid}$`, 'm'))

  const sleeper = spawn('sleep', ['60'])
  t.after(() => sleeper.kill('SIGKILL'))
  await fails(['snapshot', String(sleeper.pid)], dir, new RegExp(`pid ${sleeper.pid} \\(.*sleep\\) is not a Node\\.js process`))
  assert.ok(alive(sleeper.pid), 'sleep was not signalled')

  if (process.getuid() !== 0) return skipOrFail(t, 'needs root (a CLI run as nobody against a root-owned app)')
  const reachable = rootForNobody(t)
  if (!reachable) return
  const app = await startApp(t, dir, { nodeArgs: ['--inspect-port=0'] })
  fs.chownSync(dir, 65534, 65534)
  await fails(['snapshot', String(app.pid)], dir, new RegExp(`not permitted to attach to pid ${app.pid} .*; run as its user or as root`), {
    uid: 65534,
    gid: 65534,
    cli: path.join(reachable, 'bin', 'node-oom-heapdump.js'),
  })
  assert.deepEqual(listeners(app.pid), [], 'no inspector was opened')
})

test('errors: SIGUSR1 disabled (--disable-sigusr1) or ignored (a JS handler replaced Node’s)', { timeout: 120_000 }, async (t) => {
  const dir = tmpdir('attach-sigusr1')
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  // --disable-sigusr1 is in Node 22.14 and later.
  const node = [...MAJORS]
    .reverse()
    .map(nodeBinary)
    .find((n) => n && spawnSync(n, ['--disable-sigusr1', '-e', '0']).status === 0)
  if (!node) return skipOrFail(t, 'no Node with --disable-sigusr1 (22.14 or later) is fetched')
  const disabled = await startApp(t, dir, { node, nodeArgs: ['--disable-sigusr1', '--inspect-port=0'] })
  await fails(['snapshot', String(disabled.pid)], dir, new RegExp(`pid ${disabled.pid} does not open its inspector on SIGUSR1 \\(started with --disable-sigusr1`))
  assert.ok(alive(disabled.pid), 'not killed by a SIGUSR1')

  const ignoring = await startApp(t, dir, { nodeArgs: ['--inspect-port=0'], source: `process.on('SIGUSR1', () => {})\n${APP}` })
  await fails(['heapprofile', String(ignoring.pid), '--attach-timeout', '1s'], dir, new RegExp(`pid ${ignoring.pid} did not open an inspector within 1 s after SIGUSR1`))
  assert.ok(alive(ignoring.pid))
})

test('errors: the inspector port is taken by another process', { timeout: 120_000 }, async (t) => {
  const dir = tmpdir('attach-taken')
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const squatter = net.createServer().listen(0, '127.0.0.1')
  await new Promise((r) => squatter.once('listening', r))
  t.after(() => squatter.close())
  const port = squatter.address().port
  const app = await startApp(t, dir, { nodeArgs: [`--inspect-port=${port}`] })
  await fails(
    ['cpuprofile', String(app.pid), '--attach-timeout', '2s'],
    dir,
    new RegExp(`pid ${app.pid} could not open its inspector: port ${port} \\(its --inspect-port\\) is taken by pid ${process.pid} \\(node\\)`),
  )
  assert.ok(alive(app.pid))
})

// A Node process whose listening socket answers as an inspector (its own pid on Runtime.evaluate),
// then drops the connection in the middle of the snapshot: a hostile peer, as in
// reliability-devtools.test.mjs, but one the CLI finds as the target's own inspector.
const FAKE_INSPECTOR = `
const crypto = require('node:crypto')
const http = require('node:http')
const server = http.createServer((req, res) => res.end(JSON.stringify([{ id: 'fake', type: 'node', title: 'fake' }])))
server.on('upgrade', (req, socket) => {
  const accept = crypto.createHash('sha1').update(req.headers['sec-websocket-key'] + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64')
  socket.write('HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\nSec-WebSocket-Accept: ' + accept + '\\r\\n\\r\\n')
  const send = (o) => {
    const body = Buffer.from(JSON.stringify(o))
    const head = body.length < 126 ? Buffer.from([0x81, body.length]) : Buffer.from([0x81, 126, body.length >> 8, body.length & 255])
    socket.write(Buffer.concat([head, body]))
  }
  let buf = Buffer.alloc(0)
  socket.on('data', (d) => {
    buf = Buffer.concat([buf, d])
    while (buf.length >= 6) {
      let len = buf[1] & 127
      let at = 2
      if (len === 126) { len = buf.readUInt16BE(2); at = 4 }
      if (buf.length < at + 4 + len) return
      const mask = buf.subarray(at, at + 4)
      const body = Buffer.from(buf.subarray(at + 4, at + 4 + len)).map((b, i) => b ^ mask[i % 4])
      buf = buf.subarray(at + 4 + len)
      if ((buf[0] & 15) === 8) return socket.destroy()
      const msg = JSON.parse(body.toString())
      if (msg.method === 'Runtime.evaluate') send({ id: msg.id, result: { result: { type: 'number', value: process.pid } } })
      else if (msg.method === 'HeapProfiler.takeHeapSnapshot') {
        send({ method: 'HeapProfiler.addHeapSnapshotChunk', params: { chunk: '{"snapshot":{"meta":{"node_fields":["type"],"node_types":[["hidden"]],"edge_fields":["type"],"edge_types":[["element"]]},"node_count":5000,"edge_count":0},"nodes":[0,0,0' } })
        setTimeout(() => socket.destroy(), 100)
      } else send({ id: msg.id, result: {} })
    }
  })
})
server.listen(0, '127.0.0.1', () => console.log('ready'))
`

test('errors: the inspector connection is lost in the middle of the capture', { timeout: 120_000 }, async (t) => {
  const dir = tmpdir('attach-lost')
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const peer = await startApp(t, dir, { source: FAKE_INSPECTOR })
  for (const output of [[], ['-o', '-']]) {
    const r = await fails(['snapshot', String(peer.pid), ...output], dir, /inspector connection ws:\/\/127\.0\.0\.1:\d+\/fake closed in the middle of the capture \(\d+ bytes received\)/)
    assert.doesNotMatch(r.stderr, /stays open|still open/, 'the inspector was open before: left as found')
  }
  assert.ok(alive(peer.pid))
})

// The same peer answering the pid check with a 60 MB value (below a snapshot session's 64 MiB message
// limit): read as a tree of JSON values it took about 1 GB and more, and the CLI is held to 1 GiB of
// address space here; the value is read as text, and shown cut short, control characters escaped.
const HUGE_ANSWER = FAKE_INSPECTOR.replace(
  "send({ id: msg.id, result: { result: { type: 'number', value: process.pid } } })",
  "send({ id: msg.id, result: { result: { type: 'object', value: new Array(30e6).fill(0) } } })",
).replace(
  'const head = body.length < 126 ? Buffer.from([0x81, body.length]) : Buffer.from([0x81, 126, body.length >> 8, body.length & 255])',
  'const head = body.length < 126 ? Buffer.from([0x81, body.length]) : body.length < 65536 ? Buffer.from([0x81, 126, body.length >> 8, body.length & 255]) : Buffer.concat([Buffer.from([0x81, 127, 0, 0, 0, 0]), Buffer.from([body.length >>> 24, (body.length >> 16) & 255, (body.length >> 8) & 255, body.length & 255])])',
)

test('errors: a peer that answers the pid check with 60 MB is refused within bounded memory', { timeout: 120_000 }, async (t) => {
  assert.notEqual(HUGE_ANSWER, FAKE_INSPECTOR)
  if (spawnSync('prlimit', ['--version']).error) return skipOrFail(t, 'no prlimit (util-linux) to limit the address space')
  const dir = tmpdir('attach-huge')
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const peer = await startApp(t, dir, { source: HUGE_ANSWER })
  const r = spawnSync('prlimit', [`--as=${1 << 30}`, path.join(root, 'native', 'node-oom-heapdump'), 'snapshot', String(peer.pid)], { cwd: dir, encoding: 'utf8', timeout: 90_000 })
  assert.equal(r.status, 2, `${r.signal} ${r.stderr}`)
  assert.match(r.stderr, new RegExp(`is not pid ${peer.pid}'s: it says its pid is \\[(0,){31}0\\.\\.\\.$`, 'm'))
  assert.deepEqual(ls(dir), ['app.js'])
})

test('errors: bad flags name the value (exit 2)', async () => {
  for (const [args, problem] of [
    [['cpuprofile', '1', '--duration', '30'], /invalid value '30' for '--duration <DURATION>': "30" needs a unit/],
    [['cpuprofile', '1', '--duration', '2h'], /"2h" is longer than 1 h/],
    [['cpuprofile', '1', '--interval', '2s'], /"2s" is not between 1us and 1s/],
    [['heapprofile', '1', '--interval', '1KB'], /unknown unit "KB" in "1KB"/],
    [['snapshot', 'abc'], /invalid value 'abc' for '<PID>'/],
    [['snapshot', '1', '--max-size', '0'], /"0" must be more than zero/],
  ]) {
    const r = await cli(args)
    assert.equal(r.status, 2, args.join(' '))
    assert.match(r.stderr, problem)
  }
  for (const sub of Object.values(SUBCOMMAND)) {
    const r = await cli([sub, '--help'])
    assert.equal(r.status, 0)
    assert.match(r.stdout.toString(), new RegExp(`^Usage: node-oom-heapdump ${sub} \\[OPTIONS\\] <PID>$`, 'm'))
    assert.match(r.stdout.toString(), /-o, --output <FILE\|->/)
  }
})
