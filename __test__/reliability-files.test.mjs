// Issue 10, the files part: every capture's temporary is its own (unique, unpredictable, locked),
// the start-up sweep removes only what is provably ours and provably dead, temporaries do not
// outlive process.exit(), the helper writes only what the app could, a stopped helper does not
// hang the dying process, and any path comes back unchanged. Needs root (namespaces, setuid).
import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { tmpdir, leakApp } from '../support/paths.js'
import { start } from '../support/child.js'
import { ls, waitFor, readSnapshot, skipOrFail, runLeak, fixture } from './helpers.mjs'

const CHEAP = ['crash.heapprofile', 'crash.oom.json']
// Our temporaries: `.<final name>.<16 hex>.partial`; the old format was `<final name>.partial-<pid>`.
const isTemporary = (f) => /^\..+\.[0-9a-f]{16}\.partial$/.test(f) || /\.partial-\d+$/.test(f)
const temporaries = (dir) => ls(dir).filter(isTemporary)

/** True when this process can make PID namespaces (root); else the test skips (fails under CI). */
function canUnshare(t) {
  try {
    execFileSync('unshare', ['--pid', '--fork', '--mount-proc', 'true'], { stdio: 'pipe' })
    return true
  } catch (err) {
    skipOrFail(t, `cannot create a PID namespace (needs root): ${err.message.split('\n')[0]}`)
    return false
  }
}

/** `unshare ... node`: the app runs as PID 1 of a PID namespace of its own, as in a container. */
const inContainer = ['unshare', '--pid', '--fork', '--mount-proc', '--kill-child']

test('two containers whose apps are both PID 1 OOM into one shared path: one complete snapshot, described truly', async (t) => {
  if (!canUnshare(t)) return
  const dir = tmpdir('shared')
  const options = JSON.stringify({ path: path.join(dir, 'crash') })
  const apps = [1, 2].map(() => start(['--max-old-space-size=96', leakApp], { command: inContainer, env: { OHD_OPTIONS: options, OHD_WAIT: '1' } }))
  await Promise.all(apps.map((a) => a.firstLine))
  for (const a of apps) a.stdin.write('go\n')
  const results = await Promise.all(apps.map((a) => a.done))
  const snap = readSnapshot(path.join(dir, 'crash.heapsnapshot'))
  const nodes = snap.snapshot.node_count
  const said = results.map((r) => {
    assert.equal(r.code, 1, r.stderr)
    assert.doesNotMatch(r.stderr, /the helper could not write the snapshot/, 'its own helper wrote it, undisturbed')
    const m = r.stderr.match(/wrote .*crash\.heapsnapshot \(.*, (\d+) nodes, (\d+) edges\)/)
    if (m) return Number(m[1])
    assert.match(r.stderr, /was replaced by another writer's capture/, r.stderr)
    return null
  })
  assert.ok(said.includes(nodes), `the file under the final name (${nodes} nodes) is one a capture reported: ${said}`)
  assert.deepEqual(temporaries(dir), [])
})

test('a directory squatted at the old predictable temporary name in a sticky shared folder does not block a capture', async (t) => {
  if (!canUnshare(t)) return
  const dir = tmpdir('sticky')
  fs.chmodSync(dir, 0o1777)
  // The app is PID 1 in its container, so `<final>.partial-1` was predictable; a squatter owns it.
  const squatted = path.join(dir, 'snap.heapsnapshot.partial-1')
  fs.mkdirSync(squatted)
  fs.chownSync(squatted, 65534, 65534)
  const target = path.join(dir, 'snap.heapsnapshot')
  const child = start([fixture('on-request.js')], {
    command: inContainer,
    env: { OHD_OPS: JSON.stringify([{ fn: 'createHeapSnapshot', args: [target, { transport: 'in-process' }] }]) },
  })
  const r = await child.done
  const result = JSON.parse(r.stdout.split('\n')[0])
  assert.equal(result.ok, true, JSON.stringify(result))
  assert.equal(result.value, target)
  readSnapshot(target)
  assert.ok(fs.statSync(squatted).isDirectory(), 'the squatter is left alone')
})

test("start-up sweep: keeps other programs' *.partial files and a live capture written from another PID namespace", async (t) => {
  if (!canUnshare(t)) return
  const dir = tmpdir('sweep')
  const options = { path: path.join(dir, 'crash') }
  const foreign = path.join(dir, 'app-config.json.partial-99997')
  fs.writeFileSync(foreign, '{"not":"ours"}')
  // A live capture on the host: its helper writes the temporary while a container starts.
  const writer = start(['--max-old-space-size=150', leakApp], { env: { OHD_OPTIONS: JSON.stringify(options) } })
  const partial = await waitFor(() => temporaries(dir).find((f) => fs.statSync(path.join(dir, f)).size > 0), 120_000, 'the snapshot write to start')
  // A new container on the shared volume, whose /proc sees none of the host's processes.
  const next = start([leakApp], { command: inContainer, env: { OHD_OPTIONS: JSON.stringify(options), OHD_WAIT: '1' } })
  await next.firstLine
  next.kill('SIGKILL') // unshare blocks SIGTERM; --kill-child takes the app with it
  const swept = await next.done
  assert.doesNotMatch(swept.stderr, /removed/, 'the container removed nothing')
  const r = await writer.done
  assert.equal(r.code, 1, r.stderr)
  assert.match(r.stderr, /wrote .*crash\.heapsnapshot .* via helper process/, `the live capture (${partial}) landed`)
  readSnapshot(path.join(dir, 'crash.heapsnapshot'))
  assert.ok(fs.existsSync(foreign), 'app-config.json.partial-99997 is not ours')
})

// In-process, the writer thread keeps pace with V8's serialization, which holds the JS thread until
// the end, so there is no moment for JS to exit mid-write here; crates/capture's
// exit_of_the_process_mid_write_removes_the_temporary covers that with a real child process.
for (const transport of ['devtools']) {
  // Over DevTools, the chunk path (the fixture gives an onProgress): on the pipe path V8 holds the JS
  // thread until only the fsync is left, too short a moment to exit in each time.
  test(`process.exit() during an on-request capture (${transport}, chunks) leaves no temporary`, async () => {
    const dir = tmpdir(`exit-${transport}`)
    const r = await start([...(transport === 'devtools' ? ['--inspect=127.0.0.1:0'] : []), fixture('exit-mid-capture.js')], {
      env: { OHD_TARGET: path.join(dir, 'now.heapsnapshot'), OHD_TRANSPORT: transport },
    }).done
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout.trim(), 'exited mid-capture', 'the exit came while the temporary was being written')
    assert.deepEqual(temporaries(dir), [], `left: ${ls(dir)}`)
  })
}

test('after process.setuid(nobody), the root helper cannot write into a root-only 0700 folder', async (t) => {
  if (process.getuid() !== 0) return skipOrFail(t, 'needs root')
  const dir = tmpdir('rootonly')
  fs.chmodSync(dir, 0o700)
  const r = await start(['--max-old-space-size=32', fixture('drop-privileges-leak.js')], {
    env: { OHD_OPTIONS: JSON.stringify({ path: path.join(dir, 'crash') }) },
  }).done
  assert.equal(r.code, 1, r.stderr)
  assert.equal(JSON.parse(r.stdout.split('\n')[0]).uid, 65534)
  assert.deepEqual(ls(dir), [], 'nothing got into the root-only folder')
  assert.match(r.stderr, /no heap snapshot written: .*Permission denied/)
})

test('a stopped helper: the dying process gives up on it, writes the snapshot itself and exits', async () => {
  const dir = tmpdir('stopped')
  const child = start(['--max-old-space-size=32', leakApp], {
    env: { OHD_OPTIONS: JSON.stringify({ path: path.join(dir, 'crash') }), OHD_WAIT: '1' },
  })
  const { helperPid } = JSON.parse(await child.firstLine)
  process.kill(helperPid, 'SIGSTOP')
  const hang = setTimeout(() => child.kill('SIGKILL'), 90_000)
  child.stdin.write('go\n')
  const r = await child.done
  clearTimeout(hang)
  try {
    process.kill(helperPid, 'SIGKILL')
  } catch {}
  assert.equal(r.code, 1, `exits by itself: ${r.signal} ${r.stderr}`)
  assert.match(r.stderr, new RegExp(`helper process \\(pid ${helperPid}\\) made no progress for 5 s \\(state T\\)`))
  assert.match(r.stderr, /wrote .*crash\.heapsnapshot .* via this process/)
  readSnapshot(path.join(dir, 'crash.heapsnapshot'))
  assert.deepEqual(ls(dir), [...CHEAP, 'crash.heapsnapshot'].sort())
  await waitFor(() => !fs.existsSync(`/proc/${helperPid}`), 5000, 'the stopped helper to be gone')
})

test('a stopped root helper that the app, now nobody, may not kill: the dying process does not wait for it, writes the snapshot itself and exits', async (t) => {
  if (process.getuid() !== 0) return skipOrFail(t, 'needs root')
  const dir = tmpdir('stopped-root')
  fs.chownSync(dir, 65534, 65534)
  // An export too: nothing more is sent to the helper given up on (its pipe holds a stream cut short).
  const options = { path: path.join(dir, 'crash'), exportCommand: ['/bin/true'] }
  const child = start(['--max-old-space-size=32', fixture('drop-privileges-leak.js')], {
    env: { OHD_OPTIONS: JSON.stringify(options), OHD_WAIT: '1' },
  })
  const { helperPid, uid } = JSON.parse(await child.firstLine)
  assert.equal(uid, 65534)
  process.kill(helperPid, 'SIGSTOP')
  const hang = setTimeout(() => child.kill('SIGKILL'), 90_000)
  child.stdin.write('go\n')
  const r = await child.done
  clearTimeout(hang)
  process.kill(helperPid, 'SIGKILL')
  assert.equal(r.code, 1, `exits by itself: ${r.signal} ${r.stderr}`)
  assert.match(r.stderr, new RegExp(`helper process \\(pid ${helperPid}\\) made no progress for 5 s \\(state T\\)`))
  assert.match(r.stderr, new RegExp(`the stalled helper process \\(pid ${helperPid}\\) could not be killed \\(Operation not permitted.*\\); left running`))
  assert.match(r.stderr, /wrote .*crash\.heapsnapshot .* via this process/)
  assert.match(r.stderr, new RegExp(`export: not run, the helper process cannot run it \\(helper process \\(pid ${helperPid}\\) was given up on: it stalled and could not be killed\\)`))
  readSnapshot(path.join(dir, 'crash.heapsnapshot'))
  assert.equal(fs.statSync(path.join(dir, 'crash.heapsnapshot')).uid, 65534, 'written as the app, nobody')
  await waitFor(() => !fs.existsSync(`/proc/${helperPid}`), 5000, 'the stopped helper to be gone')
})

test('a path holding a newline and a tab is written and reported under its own name', async () => {
  const dir = path.join(tmpdir('odd'), 'new\nline\ttab')
  fs.mkdirSync(dir)
  const target = path.join(dir, 'cr\nash\t1')
  const r = await runLeak({ options: { path: target } })
  assert.equal(r.code, 1, r.stderr)
  assert.match(r.stderr, /via helper process/)
  const report = JSON.parse(fs.readFileSync(`${target}.oom.json`, 'utf8'))
  assert.equal(report.snapshot.outcome, 'written')
  assert.equal(report.snapshot.path, `${target}.heapsnapshot`)
  readSnapshot(`${target}.heapsnapshot`)
})
