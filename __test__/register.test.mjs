// No code change: `-r node-oom-heapdump/register`, NODE_OPTIONS and `--import` switch the OOM hook
// on in apps that never require the package, with options from NODE_OOM_HEAPDUMP_* variables. The
// package is resolved by its name, as an app would, from a project whose node_modules links to it.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { root, tmpdir } from '../support/paths.js'
import { start } from '../support/child.js'
import { fixture, ls, mode, readSnapshot, countObjectsOfClass } from './helpers.mjs'

/** A project folder whose node_modules/node-oom-heapdump is this checkout. */
function project(tag) {
  const dir = tmpdir(tag)
  fs.mkdirSync(path.join(dir, 'node_modules'))
  fs.symlinkSync(root, path.join(dir, 'node_modules', 'node-oom-heapdump'))
  return dir
}

const app = (name) => fixture(path.join('register', name))

async function oomWith(args, env, tag) {
  const cwd = project(tag)
  const dumps = tmpdir(`${tag}-dumps`)
  const r = await start(['--max-old-space-size=32', ...args], { cwd, env: { NODE_OOM_HEAPDUMP_PATH: path.join(dumps, 'crash'), ...env } }).done
  return { r, dumps }
}

function assertCompleteSnapshot(r, dumps, files = ['crash.heapprofile', 'crash.heapsnapshot', 'crash.oom.json']) {
  assert.equal(r.code, 1, `exit ${r.code} ${r.signal}: ${r.stderr}`)
  assert.deepEqual(ls(dumps), files)
  const snapshot = path.join(dumps, 'crash.heapsnapshot')
  assert.equal(mode(snapshot), 0o600)
  assert.ok(countObjectsOfClass(readSnapshot(snapshot), 'PreloadLeakEntry') > 10000, 'the leak is in the snapshot')
}

test('-r node-oom-heapdump/register: an app that never requires the package leaves a complete snapshot', async () => {
  const { r, dumps } = await oomWith(['-r', 'node-oom-heapdump/register', app('leak.js')], {}, 'reg-r')
  assertCompleteSnapshot(r, dumps)
})

test('NODE_OPTIONS="--require node-oom-heapdump/register", with options from the environment', async () => {
  const { r, dumps } = await oomWith([app('leak.js')], { NODE_OPTIONS: '--require node-oom-heapdump/register', NODE_OOM_HEAPDUMP_HEAP_PROFILE: 'false' }, 'reg-env')
  assertCompleteSnapshot(r, dumps, ['crash.heapsnapshot', 'crash.oom.json'])
  const report = JSON.parse(fs.readFileSync(path.join(dumps, 'crash.oom.json'), 'utf8'))
  assert.match(report.heapProfile.reason, /heapProfile: false/)
})

test('--import node-oom-heapdump/register: an ESM app', async () => {
  const { r, dumps } = await oomWith(['--import', 'node-oom-heapdump/register', app('leak.mjs')], {}, 'reg-esm')
  assertCompleteSnapshot(r, dumps)
})

test('the options come from the environment, and the app’s own require gets the same instance', async () => {
  const cwd = project('reg-same')
  const dumps = tmpdir('reg-same-dumps')
  const env = {
    NODE_OOM_HEAPDUMP_PATH: path.join(dumps, 'svc'),
    NODE_OOM_HEAPDUMP_ADD_TIMESTAMP: '1',
    NODE_OOM_HEAPDUMP_OOM_IMPLEMENTATION: 'GC_MONITORING',
    NODE_OOM_HEAPDUMP_THRESHOLD: '85',
    NODE_OOM_HEAPDUMP_ANALYZE_ON_OOM: 'false',
    OHD_NO_LEAK: '1',
  }
  const r = await start(['-r', 'node-oom-heapdump/register', '-r', app('report.js'), app('leak.js')], { cwd, env }).done
  assert.equal(r.code, 0, r.stderr)
  const [first, second] = r.stdout.trim().split('\n')
  assert.equal(second, 'app ran')
  const { options } = JSON.parse(first)
  assert.equal(options.path, path.join(fs.realpathSync(dumps), 'svc.heapsnapshot'), 'the preload’s path, not the later call’s')
  assert.equal(options.port, 9229, 'the preload’s port, not the later call’s')
  assert.equal(options.addTimestamp, true)
  assert.equal(options.OOMImplementation, 'GC_MONITORING')
  assert.equal(options.threshold, 85)
  assert.equal(options.analyzeOnOOM, false)
  assert.equal(typeof options.helperPid, 'number')
})

test('a bad value names the variable and the value, installs nothing, and the app still starts', async () => {
  const cwd = project('reg-bad')
  for (const [name, value, message] of [
    ['NODE_OOM_HEAPDUMP_THRESHOLD', 'abc', 'NODE_OOM_HEAPDUMP_THRESHOLD must be a number from 0 to 100, got "abc"'],
    ['NODE_OOM_HEAPDUMP_ADD_TIMESTAMP', 'yes', 'NODE_OOM_HEAPDUMP_ADD_TIMESTAMP must be a boolean'],
    ['NODE_OOM_HEAPDUMP_PATH', `/no/such/folder/${'x'.repeat(300)}`, 'NODE_OOM_HEAPDUMP_PATH: '],
  ]) {
    const r = await start(['-r', 'node-oom-heapdump/register', '-r', app('children.js'), app('leak.js')], { cwd, env: { [name]: value, OHD_NO_LEAK: '1' } }).done
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout, '{"children":0}\napp ran\n', 'no helper started, and the app ran')
    assert.ok(r.stderr.includes(`node-oom-heapdump: ${message}`), r.stderr)
    assert.match(r.stderr, /nothing installed, the app starts without the OOM hook/)
  }
})

test('a folder that does not exist yet is said, and the hook installed all the same', async () => {
  const cwd = project('reg-later')
  const r = await start(['-r', 'node-oom-heapdump/register', '-r', app('children.js'), app('leak.js')], {
    cwd,
    env: { NODE_OOM_HEAPDUMP_PATH: '/no/such/folder/crash', OHD_NO_LEAK: '1' },
  }).done
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stdout, '{"children":1}\napp ran\n', 'the helper started, and the app ran')
  assert.match(r.stderr, /node-oom-heapdump: NODE_OOM_HEAPDUMP_PATH: folder "\/no\/such\/folder" does not exist: installed all the same/)
})

test('NODE_OOM_HEAPDUMP_STRICT=1 makes a bad value fatal', async () => {
  const cwd = project('reg-strict')
  const r = await start(['-r', 'node-oom-heapdump/register', app('leak.js')], { cwd, env: { NODE_OOM_HEAPDUMP_THRESHOLD: '101', NODE_OOM_HEAPDUMP_STRICT: '1', OHD_NO_LEAK: '1' } }).done
  assert.notEqual(r.code, 0)
  assert.equal(r.stdout, '', 'the app did not run')
  assert.match(r.stderr, /NODE_OOM_HEAPDUMP_THRESHOLD must be a number from 0 to 100, got 101/)
})

test('a cluster under NODE_OPTIONS: each process its own helper; the leaking worker leaves its own snapshot', async () => {
  const cwd = project('reg-cluster')
  const r = await start(['--max-old-space-size=48', app('cluster.js')], { cwd, env: { NODE_OPTIONS: '--require node-oom-heapdump/register', NODE_OOM_HEAPDUMP_ANALYZE_ON_OOM: 'false' } }).done
  assert.equal(r.code, 0, r.stderr)
  const { primary, workers, leaker } = JSON.parse(r.stdout.trim().split('\n').pop())
  assert.equal(leaker.code, 1, 'the leaking worker died of its OOM')
  assert.equal(workers.length, 3)
  const helpers = new Set([primary.helperPid, ...workers.map((w) => w.helperPid)])
  assert.equal(helpers.size, 4, 'four processes, four helpers')
  assert.ok([...helpers].every((p) => typeof p === 'number'))
  const snapshots = ls(cwd).filter((f) => f.endsWith('.heapsnapshot'))
  assert.deepEqual(snapshots, [`OoM-pid-${leaker.pid}.heapsnapshot`], 'one snapshot, named for the leaking worker')
  readSnapshot(path.join(cwd, snapshots[0]))
})
