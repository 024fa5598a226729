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
