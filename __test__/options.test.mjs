// Bad options: a synchronous error naming the option and the value, and nothing installed.
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { createRequire } from 'node:module'
import { tmpdir } from '../support/paths.js'
import { skipOrFail } from './helpers.mjs'

const require = createRequire(import.meta.url)
const factory = require('../index.js')

function childPids() {
  const pids = []
  for (const tid of fs.readdirSync('/proc/self/task')) {
    const kids = fs.readFileSync(`/proc/self/task/${tid}/children`, 'utf8').trim()
    if (kids) pids.push(...kids.split(' '))
  }
  return pids
}

const bad = [
  [{ OOMImplementation: 'FOO' }, /^option `OOMImplementation` must be "NATIVE_HOOK" or "GC_MONITORING", got "FOO"$/],
  [{ OOMImplementation: 3 }, /^option `OOMImplementation` must be "NATIVE_HOOK" or "GC_MONITORING", got 3$/],
  [{ threshold: 101 }, /^option `threshold` must be a number from 0 to 100, got 101$/],
  [{ threshold: 'seventy' }, /^option `threshold` must be a number from 0 to 100, got "seventy"$/],
  [{ limit: 0 }, /^option `limit` must be a positive integer, got 0$/],
  [{ limit: 2.5 }, /^option `limit` must be a positive integer, got 2.5$/],
  [{ heapProfileInterval: 0 }, /^option `heapProfileInterval` must be a positive integer, got 0$/],
  [{ heapProfileInterval: 1024.5 }, /^option `heapProfileInterval` must be a positive integer, got 1024.5$/],
  [{ rssThreshold: -1 }, /^option `rssThreshold` must be a number from 0 to 100, got -1$/],
  [{ forceSnapshot: 'yes' }, /^option `forceSnapshot` must be a boolean, got "yes"$/],
  [{ analyzeOnOOM: 2 }, /^option `analyzeOnOOM` must be a boolean, got 2$/],
  [{ path: 42 }, /^option `path` must be a string, got 42$/],
  [{ path: { dir: '/tmp' } }, /^option `path` must be a string, got a value of type object$/],
  [{ heapdumpOnOOM: 'yes' }, /^option `heapdumpOnOOM` must be a boolean, got "yes"$/],
  [{ addTimestamp: 'on' }, /^option `addTimestamp` must be a boolean, got "on"$/],
  [{ port: 0 }, /^option `port` must be an integer from 1 to 65535, got 0$/],
  [{ port: 65536 }, /^option `port` must be an integer from 1 to 65535, got 65536$/],
  [{ port: 92.5 }, /^option `port` must be an integer from 1 to 65535, got 92.5$/],
  [{ port: 'http' }, /^option `port` must be an integer from 1 to 65535, got "http"$/],
  [{ port: '0' }, /^option `port` must be an integer from 1 to 65535, got 0$/],
]

for (const [options, message] of bad) {
  test(`rejects ${JSON.stringify(options)}`, () => {
    assert.throws(
      () => factory(options),
      (err) => {
        assert.match(err.message, message)
        assert.equal(err.code, 'InvalidArg')
        return true
      },
    )
    assert.deepEqual(childPids(), [], 'no helper was started')
  })
}

// The original parsed numbers with parseInt and fell back to the default on a falsy value: options
// written for it (`port: process.env.INSPECT_PORT`, `path: null`) keep working.
test('values the original took are taken: numbers and booleans in strings, 1 and 0, null and ""', () => {
  const dir = tmpdir('lenient')
  const script = `
    const api = require(${JSON.stringify(path.resolve('index.js'))})({ port: '9333', threshold: ' 80 ', limit: '5', addTimestamp: 'true', heapdumpOnOOM: 1, forceSnapshot: 0, path: null, upload: '' })
    console.log(JSON.stringify(api.options))`
  const options = JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: dir, encoding: 'utf8' }).trim().split('\n').pop())
  assert.equal(options.port, 9333)
  assert.equal(options.threshold, 80)
  assert.equal(options.limit, 5)
  assert.equal(options.addTimestamp, true)
  assert.equal(options.heapdumpOnOOM, true)
  assert.equal(options.forceSnapshot, false)
  assert.match(options.path, new RegExp(`^${fs.realpathSync(dir)}/OoM-pid-\\d+\\.heapsnapshot$`))
  assert.equal(options.upload, undefined)
})

test('rejects options that are neither an object nor a string', () => {
  assert.throws(() => factory(42), { name: 'TypeError', message: 'node-oom-heapdump: options must be an object or a path string, got 42' })
  assert.throws(() => factory([]), { name: 'TypeError', message: /got an array/ })
})

/** Installs with `options` in a fresh node run in `cwd`: its options, and what it said on stderr. */
function installIn(cwd, options) {
  const script = `const api = require(${JSON.stringify(path.resolve('index.js'))})(${options}); console.log(JSON.stringify(api.options))`
  const r = spawnSync(process.execPath, ['-e', script], { cwd, encoding: 'utf8' })
  assert.equal(r.status, 0, r.stderr)
  return { options: JSON.parse(r.stdout.trim().split('\n').pop()), stderr: r.stderr }
}

// The OOM files are written when the process dies, not at start-up (the original only opened them
// then): a folder that is missing or not writable now (a volume mounted later, a read-only working
// directory) installs all the same, and says so; it must not take the app down at start-up.
test('a folder that is missing, a file, or not writable now installs all the same and says so', (t) => {
  const said = (what) => new RegExp(`^node-oom-heapdump: ${what}: installed all the same; at OOM nothing can be written there until it can`, 'm')
  const cwd = tmpdir('later')
  const missing = installIn(cwd, `{ path: '/no/such/folder/crash' }`)
  assert.equal(missing.options.path, '/no/such/folder/crash.heapsnapshot')
  assert.match(missing.stderr, said('option `path`: folder "/no/such/folder" does not exist'))
  assert.match(installIn(cwd, `{ path: '/etc/hostname/crash' }`).stderr, said('option `path`: "/etc/hostname" is not a folder'))
  // With an upload too: the snapshot could go to the bucket, but a mistyped folder loses the rest.
  assert.match(installIn(cwd, `{ path: '/no/such/folder/crash', upload: 's3://dumps/x' }`).stderr, said('option `path`: folder "/no/such/folder" does not exist'))
  // A name no folder can hold is the value's fault: it throws.
  assert.throws(() => factory({ path: `/no/such/folder/${'x'.repeat(300)}` }), { code: 'InvalidArg' })

  const ro = tmpdir('ro')
  if (process.getuid() === 0) {
    // Permission bits do not stop root; a read-only mount does.
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=64k', 'tmpfs', ro], { stdio: 'pipe' })
    } catch (err) {
      return skipOrFail(t, `cannot mount a read-only tmpfs as root: ${err.message.split('\n')[0]}`)
    }
    t.after(() => execFileSync('umount', [ro]))
  } else {
    fs.chmodSync(ro, 0o500)
  }
  assert.match(installIn(cwd, `{ path: ${JSON.stringify(path.join(ro, 'crash'))} }`).stderr, said(`option \`path\`: folder ${JSON.stringify(ro)} is not writable`))
  // No options at all in a read-only working directory (readOnlyRootFilesystem): the app starts.
  // With an upload, a folder that cannot be written is as planned (the snapshot streams to it).
  assert.doesNotMatch(installIn(cwd, `{ path: ${JSON.stringify(path.join(ro, 'crash'))}, upload: 's3://dumps/x' }`).stderr, /installed all the same/)
  const none = installIn(ro, '')
  assert.equal(none.options.path, path.join(fs.realpathSync(ro), `OoM-pid-${none.options.path.match(/OoM-pid-(\d+)/)[1]}.heapsnapshot`))
  assert.match(none.stderr, said(`option \`path\` not given, and its default folder ${JSON.stringify(ro)} \\(the working directory\\) is not writable; give a path in a writable folder`))
})

test('after bad options, good ones still install, and the API object is a singleton', () => {
  const dir = tmpdir('good')
  const api = factory({ path: path.join(dir, 'crash'), port: 9333, addTimestamp: true })
  assert.equal(factory(), api)
  assert.equal(factory({ port: 1 }), api, 'later options are ignored, as in the original')
  assert.deepEqual(
    { ...api.options, helperPid: typeof api.options.helperPid },
    {
      heapdumpOnOOM: true,
      OOMImplementation: 'NATIVE_HOOK',
      path: path.join(fs.realpathSync(dir), 'crash.heapsnapshot'),
      addTimestamp: true,
      port: 9333,
      threshold: 70,
      limit: 3,
      heapProfileInterval: 524288,
      forceSnapshot: false,
      rssThreshold: 90,
      analyzeOnOOM: true,
      pprof: false,
      exportTimeoutMs: 300000,
      uploadCompression: 'none',
      helperPid: 'number',
    },
  )
  assert.deepEqual(childPids(), [String(api.options.helperPid)], 'one helper, ours')
  assert.ok(Object.isFrozen(api.options))
})
