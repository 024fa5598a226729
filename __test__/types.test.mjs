// index.d.ts compiles under tsc --strict with the documented uses, and rejects wrong ones.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { root } from '../support/paths.js'
import { fixture, skipOrFail } from './helpers.mjs'

test('index.d.ts types the API', (t) => {
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc')
  if (!fs.existsSync(tsc)) return skipOrFail(t, 'typescript is not installed (npm install)')
  const r = spawnSync(process.execPath, [tsc, '--noEmit', '--strict', '--module', 'commonjs', '--types', 'node', fixture('types-usage.ts')], { cwd: root, encoding: 'utf8' })
  assert.equal(r.status, 0, r.stdout + r.stderr)
})

// index.js is checked against binding.d.ts, which napi-rs generates from src/napi/ (npm run lint
// fails when it is stale): a call that no longer fits the native contract fails here.
test('index.js calls the native binding as binding.d.ts types it', (t) => {
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc')
  if (!fs.existsSync(tsc)) return skipOrFail(t, 'typescript is not installed (npm install)')
  const check = (file) =>
    spawnSync(process.execPath, [tsc, '--noEmit', '--allowJs', '--checkJs', '--module', 'commonjs', '--target', 'es2022', '--types', 'node', file], { cwd: root, encoding: 'utf8' })
  const r = check(path.join(root, 'index.js'))
  assert.equal(r.status, 0, r.stdout + r.stderr)
  // The check has teeth: index.js with capture()'s port argument dropped does not compile.
  const broken = path.join(root, 'target', 'index-broken.js')
  fs.mkdirSync(path.dirname(broken), { recursive: true })
  const source = fs.readFileSync(path.join(root, 'index.js'), 'utf8').replaceAll("'./binding'", "'../binding'")
  const dropped = source.replace('captureOptions, this._port, context())', 'captureOptions, context())')
  assert.notEqual(dropped, source, 'the capture call is where the test expects it')
  fs.writeFileSync(broken, dropped)
  try {
    const bad = check(broken)
    assert.notEqual(bad.status, 0)
    assert.match(bad.stdout, /Expected 6 arguments, but got 5/)
  } finally {
    fs.rmSync(broken)
  }
})
