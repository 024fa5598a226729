// Worker threads: loading the module there is harmless, and a worker's OOM stays the worker's.
import assert from 'node:assert/strict'
import path from 'node:path'
import { test } from 'node:test'
import { tmpdir } from '../support/paths.js'
import { start } from '../support/child.js'
import { fixture, ls } from './helpers.mjs'

test('a worker can load the module; it installs nothing there, and a worker OOM does not trigger the hook', async () => {
  const dir = tmpdir('worker')
  const r = await start([fixture('worker.js')], { env: { OHD_OPTIONS: JSON.stringify({ path: path.join(dir, 'crash') }) } }).done
  assert.equal(r.code, 0, r.stderr)
  const lines = r.stdout.trim().split('\n')
  assert.deepEqual(lines, ['worker options: null', 'main hooked: true', 'worker error: ERR_WORKER_OUT_OF_MEMORY', 'main alive'])
  assert.deepEqual(ls(dir), [], 'no snapshot for a worker OOM')
})
