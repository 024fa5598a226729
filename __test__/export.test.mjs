// exportCommand (issue 15): after an OOM the helper runs it on the files written once the app has
// exited; after on-request captures the app runs it from a thread. Real processes throughout: the
// command is __test__/fixtures/export-command.js, which copies the files it is given and writes
// what it was told to env.json.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { root, leakApp, tmpdir } from '../support/paths.js'
import { start } from '../support/child.js'
import { cgroupOrSkip, fixture, ls, readSnapshot, rootForNobody, skipOrFail, waitFor } from './helpers.mjs'

const MB = 1024 * 1024
/** The export command: copies its files to `outDir` (`fixtures`: where __test__/fixtures is reached). */
const command = (outDir, fixtures = path.join(root, '__test__', 'fixtures')) => [process.execPath, path.join(fixtures, 'export-command.js'), outDir]
const CHEAP = ['crash.heapprofile', 'crash.oom.json']

/** Starts `args` under node and notes when the process exited (its helper may run on after). */
function startTimed(args, env) {
  const child = start(args, { env })
  const exited = new Promise((resolve) => child.on('exit', () => resolve(Date.now())))
  return { child, exited, done: child.done }
}

const readEnv = (outDir) => JSON.parse(fs.readFileSync(path.join(outDir, 'env.json'), 'utf8'))

test('after an OOM the helper runs the command once the app has exited, on every file written', async () => {
  const dir = tmpdir('export-oom')
  const outDir = tmpdir('export-oom-out')
  const { child, exited, done } = startTimed(['--max-old-space-size=32', leakApp], {
    OHD_OPTIONS: JSON.stringify({ path: path.join(dir, 'crash'), exportCommand: command(outDir) }),
    OHD_EXPORT_SLEEP_MS: '2000',
  })
  const r = await done
  const exitedAt = await exited
  assert.equal(r.code, 1, r.stderr)
  assert.match(r.stderr, /export: 3 file\(s\) to export once this process has exited, by the helper process/)
  assert.doesNotMatch(r.stderrAtExit, /export: copied/, 'the command had not printed when the app exited')
  assert.deepEqual(ls(outDir), ['crash.heapsnapshot', ...CHEAP, 'env.json'].sort())
  const snap = readSnapshot(path.join(outDir, 'crash.heapsnapshot'))
  assert.equal(fs.statSync(path.join(outDir, 'crash.heapsnapshot')).size, fs.statSync(path.join(dir, 'crash.heapsnapshot')).size)
  assert.ok(snap.snapshot.node_count > 0)
  JSON.parse(fs.readFileSync(path.join(outDir, 'crash.oom.json'), 'utf8'))
  const env = readEnv(outDir)
  assert.equal(env.kind, 'oom')
  assert.equal(env.pid, child.pid)
  assert.match(env.reason, /heap out of memory/)
  assert.deepEqual(env.files.map((f) => path.basename(f)).sort(), ['crash.heapsnapshot', ...CHEAP].sort())
  assert.ok(env.finished > exitedAt, `the app exited (${exitedAt}) before the command finished (${env.finished})`)
  assert.ok(env.started >= exitedAt - 50, `the command started (${env.started}) once the app had exited (${exitedAt})`)
  // Its output, prefixed, after the analyzer's summary.
  const summary = r.stderr.indexOf('node-oom-heapdump: what filled the heap')
  const copied = r.stderr.indexOf('node-oom-heapdump: export: copied 3 file(s)\n')
  assert.ok(summary >= 0 && copied > summary, r.stderr)
  assert.match(r.stderr, /node-oom-heapdump: export: a line on stderr\n/)
  assert.match(r.stderr, /node-oom-heapdump: export: done: 3 file\(s\) of the OOM exported/)
})

test('a failing command after an OOM is reported and the exit status stays 1', async () => {
  const dir = tmpdir('export-oom-fail')
  const outDir = tmpdir('export-oom-fail-out')
  const r = await start(['--max-old-space-size=32', leakApp], {
    env: {
      OHD_OPTIONS: JSON.stringify({ path: path.join(dir, 'crash'), exportCommand: command(outDir), analyzeOnOOM: false }),
      OHD_EXPORT_EXIT: '3',
    },
  }).done
  assert.equal(r.code, 1, r.stderr)
  assert.match(r.stderr, /node-oom-heapdump: export: export command ".*node" exited with status 3/)
  assert.equal(readEnv(outDir).kind, 'oom')
})

test('after an on-request capture the app runs the command from a thread, with kind on-request', async () => {
  const dir = tmpdir('export-req')
  const outDir = tmpdir('export-req-out')
  const { child, done } = startTimed([fixture('export-app.js')], {
    OHD_OPTIONS: JSON.stringify({ heapdumpOnOOM: false, exportCommand: command(outDir) }),
    OHD_TARGET: path.join(dir, 'now'),
    OHD_STAY_MS: '5000',
  })
  const r = await done
  assert.equal(r.code, 0, r.stderr)
  const { path: file } = JSON.parse(r.stdout)
  assert.equal(file, path.join(dir, 'now.heapsnapshot'))
  readSnapshot(path.join(outDir, 'now.heapsnapshot'))
  const env = readEnv(outDir)
  assert.equal(env.kind, 'on-request')
  assert.equal(env.pid, child.pid)
  assert.match(env.reason, /createHeapSnapshot/)
  assert.deepEqual(env.files, [file])
  assert.match(r.stderr, /node-oom-heapdump: export: copied 1 file\(s\)\n/)
  assert.match(r.stderr, /node-oom-heapdump: export: done: 1 file\(s\) of the on-request capture exported/)
})

test('the command neither blocks JavaScript nor keeps the event loop alive', async () => {
  const dir = tmpdir('export-loop')
  const outDir = tmpdir('export-loop-out')
  const { exited, done } = startTimed([fixture('export-app.js')], {
    OHD_OPTIONS: JSON.stringify({ heapdumpOnOOM: false, exportCommand: command(outDir) }),
    OHD_TARGET: path.join(dir, 'now'),
    OHD_EXPORT_SLEEP_MS: '3000',
  })
  const landed = await new Promise((resolve) => done.then((r) => resolve(r)))
  const exitedAt = await exited
  assert.equal(landed.code, 0, landed.stderr)
  const { at } = JSON.parse(landed.stdout)
  assert.ok(exitedAt - at < 2000, `the app exited ${exitedAt - at} ms after its capture landed, while the command slept 3 s`)
})

test('a failing command on request is reported; the app goes on', async () => {
  const dir = tmpdir('export-req-fail')
  const outDir = tmpdir('export-req-fail-out')
  const r = await start([fixture('export-app.js')], {
    env: {
      OHD_OPTIONS: JSON.stringify({ heapdumpOnOOM: false, exportCommand: command(outDir) }),
      OHD_TARGET: path.join(dir, 'now'),
      OHD_STAY_MS: '5000',
      OHD_EXPORT_EXIT: '3',
    },
  }).done
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stderr, /node-oom-heapdump: export: export command ".*node" exited with status 3\n/)
  assert.ok(fs.existsSync(path.join(dir, 'now.heapsnapshot')))
})

test('a command that hangs is killed with its process group after exportTimeoutMs, and that is reported', async () => {
  const dir = tmpdir('export-hang')
  const outDir = tmpdir('export-hang-out')
  const r = await start([fixture('export-app.js')], {
    env: {
      OHD_OPTIONS: JSON.stringify({ heapdumpOnOOM: false, exportCommand: command(outDir), exportTimeoutMs: 1000 }),
      OHD_TARGET: path.join(dir, 'now'),
      OHD_STAY_MS: '4000',
      OHD_EXPORT_HANG: '1',
    },
  }).done
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stderr, /node-oom-heapdump: export: export command ".*node" did not finish within 1000 ms \(exportTimeoutMs\); its process group was killed\n/)
  const pid = Number(fs.readFileSync(path.join(outDir, 'hanging.pid'), 'utf8'))
  await waitFor(() => !fs.existsSync(`/proc/${pid}`), 5000, 'the hanging command to be gone')
})

test('bad values: the factory throws InvalidArg naming the option; the register path reports the variable', async () => {
  const probe = `
    for (const exportCommand of ['/bin/true', [], [''], ['/bin/true', 3], ['a\\0b']]) {
      try { require('.')({ heapdumpOnOOM: false, exportCommand }); console.log('installed') }
      catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })) }
    }
    try { require('.')({ heapdumpOnOOM: false, exportTimeoutMs: 0 }) }
    catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })) }`
  const r = await start(['-e', probe]).done
  assert.equal(r.code, 0, r.stderr)
  const lines = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
  const array = 'option `exportCommand` must be a non-empty array of strings (the command, then its arguments), got'
  assert.deepEqual(lines, [
    { code: 'InvalidArg', message: `${array} "/bin/true"` },
    { code: 'InvalidArg', message: `${array} []` },
    { code: 'InvalidArg', message: `${array} [""]` },
    { code: 'InvalidArg', message: `${array} ["/bin/true", 3]` },
    {
      code: 'InvalidArg',
      message: 'option `exportCommand` must be a non-empty array of strings without NUL bytes or lone surrogates, got ["a\\0b"]',
    },
    { code: 'InvalidArg', message: 'option `exportTimeoutMs` must be a positive integer, got 0' },
  ])

  const env = await start(['-r', path.join(root, 'register.js'), '-e', 'console.log("app ran")'], {
    env: { NODE_OOM_HEAPDUMP_EXPORT_COMMAND: 'upload.sh', NODE_OOM_HEAPDUMP_HEAPDUMP_ON_OOM: 'false' },
  }).done
  assert.equal(env.code, 0, env.stderr)
  assert.equal(env.stdout, 'app ran\n')
  assert.match(env.stderr, /node-oom-heapdump: NODE_OOM_HEAPDUMP_EXPORT_COMMAND must be a non-empty array of strings \(the command, then its arguments\), got "upload\.sh"; nothing installed/)
})

test('an app that dropped to nobody: the helper runs the command as nobody', async (t) => {
  if (process.getuid() !== 0) return skipOrFail(t, 'needs root')
  const reachable = rootForNobody(t)
  if (!reachable) return
  const fixtures = path.join(reachable, '__test__', 'fixtures')
  const dir = tmpdir('export-nobody')
  const outDir = tmpdir('export-nobody-out')
  fs.chmodSync(dir, 0o777)
  fs.chmodSync(outDir, 0o777)
  const r = await start(['--max-old-space-size=32', path.join(fixtures, 'drop-privileges-leak.js')], {
    env: { OHD_OPTIONS: JSON.stringify({ path: path.join(dir, 'crash'), exportCommand: command(outDir, fixtures), analyzeOnOOM: false }) },
  }).done
  assert.equal(r.code, 1, r.stderr)
  const env = readEnv(outDir)
  assert.equal(env.uid, 65534, 'the command ran as nobody')
  assert.equal(fs.statSync(path.join(outDir, 'env.json')).uid, 65534, 'its file is owned by nobody')
  assert.equal(env.kind, 'oom')
  assert.ok(ls(outDir).includes('crash.oom.json'), ls(outDir).join(' '))
})

test('a GC_MONITORING snapshot is exported by the app, from a thread of its own', async () => {
  const dir = tmpdir('export-gc')
  const outDir = tmpdir('export-gc-out')
  // Holds about a third of a 64 MB heap, then keeps the GC busy with garbage until it is stopped.
  const script = `
    require(${JSON.stringify(root)})({ path: ${JSON.stringify(path.join(dir, 'gc'))}, OOMImplementation: 'GC_MONITORING', threshold: 30, limit: 1, exportCommand: ${JSON.stringify(command(outDir))} })
    const kept = []
    for (let i = 0; i < 400000; i++) kept.push({ i, s: 'held ' + i })
    globalThis.kept = kept
    setInterval(() => new Array(10000).fill(0), 5)
    setTimeout(() => process.exit(0), 60000)`
  const child = start(['--max-old-space-size=64', '-e', script])
  try {
    // env.json is the command's last write: once it parses, the copy is done.
    await waitFor(
      () => {
        try {
          return readEnv(outDir)
        } catch {
          return null
        }
      },
      60000,
      'the export of the GC_MONITORING snapshot',
    )
  } finally {
    child.kill()
  }
  const r = await child.done
  assert.match(r.stderr, /GC_MONITORING snapshot 1 of 1: used heap/)
  const env = readEnv(outDir)
  assert.equal(env.kind, 'gc-monitoring')
  assert.equal(env.pid, child.pid)
  assert.deepEqual(
    env.files.map((f) => path.basename(f)),
    ['gc.heapsnapshot'],
  )
  const snap = readSnapshot(path.join(outDir, 'gc.heapsnapshot'))
  assert.equal(fs.statSync(path.join(outDir, 'gc.heapsnapshot')).size, fs.statSync(path.join(dir, 'gc.heapsnapshot')).size)
  assert.ok(snap.snapshot.node_count > 400000, 'the held objects are in it')
})

for (const heapProfile of [true, false]) {
  test(`a memory-near-limit report in a memory cgroup is exported by the app (heapProfile: ${heapProfile})`, async (t) => {
    const cg = cgroupOrSkip(t, 256 * MB)
    if (!cg) return
    const dir = tmpdir('export-near')
    const outDir = tmpdir('export-near-out')
    // 150 MiB of Buffers with Node's own ~40 MB: past 50% of 256 MiB, far from the kill.
    const child = start([fixture('buffer-leak.js')], {
      env: {
        OHD_OPTIONS: JSON.stringify({ path: path.join(dir, 'near'), rssThreshold: 50, heapProfile, exportCommand: command(outDir) }),
        OHD_LEAK_MB: '150',
      },
      command: cg.command,
    })
    // The app relays the command's output, then says it is done: stopped only after that.
    let stderr = ''
    child.stderr.on('data', (d) => (stderr += d))
    try {
      await waitFor(() => /export: done: /.test(stderr), 60000, 'the export of the memory report')
    } finally {
      child.kill()
    }
    const env = readEnv(outDir)
    const r = await child.done
    assert.equal(r.signal, 'SIGTERM', `still running when the test stopped it: ${r.code} ${r.stderr}`)
    const written = heapProfile ? ['near.heapprofile', 'near.oom.json'] : ['near.oom.json']
    assert.deepEqual(ls(dir), written)
    assert.equal(env.kind, 'memory-near-limit')
    assert.equal(env.pid, child.pid)
    assert.match(env.reason, /^memory at \d+% of the 268\.4 MB limit of cgroup v\d .* \(threshold 50%\)$/)
    assert.deepEqual(
      env.files,
      written.map((f) => path.join(dir, f)),
    )
    for (const f of written) assert.deepEqual(fs.readFileSync(path.join(outDir, f)), fs.readFileSync(path.join(dir, f)))
    assert.equal(JSON.parse(fs.readFileSync(path.join(outDir, 'near.oom.json'), 'utf8')).kind, 'container-memory-near-limit')
    assert.match(r.stderr, /node-oom-heapdump: export: copied \d file\(s\)\n/)
    assert.match(r.stderr, new RegExp(`node-oom-heapdump: export: done: ${written.length} file\\(s\\) of the memory-near-limit capture exported`))
  })
}
