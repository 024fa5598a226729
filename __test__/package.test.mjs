// The npm package holds everything a build from source on `npm install` needs: every tracked source
// file of the addon, the helper and the analyzer, and the command line's entry point.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { test } from 'node:test'
import { root } from '../support/paths.js'

test('npm pack ships every source file the install builds from, and the bin', () => {
  const [pack] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }))
  const packed = new Set(pack.files.map((f) => f.path))
  const tracked = execFileSync('git', ['ls-files', 'src', 'shim', 'crates'], { cwd: root, encoding: 'utf8' })
    .split('\n')
    .filter((f) => /^(src|shim)\/|^crates\/[^/]+\/(src\/|Cargo\.toml$)/.test(f))
  assert.ok(
    tracked.some((f) => f.startsWith('crates/analyzer/src/')),
    'the analyzer sources are tracked',
  )
  const needed = [...tracked, 'Cargo.toml', 'Cargo.lock', 'build.rs', 'scripts/build.js', 'scripts/shim.js', 'native.js', 'index.js', 'index.d.ts', 'bin/node-oom-heapdump.js']
  assert.deepEqual(
    needed.filter((f) => !packed.has(f)),
    [],
    'files missing from the package',
  )
  const manifest = JSON.parse(execFileSync('git', ['show', 'HEAD:package.json'], { cwd: root, encoding: 'utf8' }))
  assert.equal(manifest.bin['node-oom-heapdump'], 'bin/node-oom-heapdump.js')
})
