// Captures that are cut short never leave a file under the final name: the process or the helper
// killed mid-write, the helper gone before the OOM, the disk full.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { tmpdir, leakApp } from '../support/paths.js'
import { start } from '../support/child.js'
import { fixture, ls, waitFor, readSnapshot, runLeak, tmpfsFolder } from './helpers.mjs'

const partialOf = (dir) => ls(dir).find((f) => /^\.crash\.heapsnapshot\.[0-9a-f]{16}\.partial$/.test(f))
// Written before the snapshot, so they stay whatever happens to it.
const CHEAP = ['crash.heapprofile', 'crash.oom.json']

/** Starts a leak with a heap big enough that writing its snapshot takes a while; waits for the write. */
async function leakUntilWriting(dir) {
  const child = start(['--max-old-space-size=150', leakApp], {
    env: { OHD_OPTIONS: JSON.stringify({ path: path.join(dir, 'crash') }) },
  })
  const partial = await waitFor(
    () => {
      const p = partialOf(dir)
      return p && fs.statSync(path.join(dir, p)).size > 0 ? p : null
    },
    120_000,
    'the snapshot write to start',
  )
  const { helperPid } = JSON.parse(await child.firstLine)
  return { child, partial, helperPid }
}

test('SIGKILL of the process mid-write: the helper removes its temporary, nothing under the final name', async () => {
  const dir = tmpdir('kill')
  const { child, partial } = await leakUntilWriting(dir)
  child.kill('SIGKILL')
  const r = await child.done
  assert.equal(r.signal, 'SIGKILL')
  assert.ok(!ls(dir).includes('crash.heapsnapshot'), 'killed before the write finished')
  await waitFor(() => !partialOf(dir), 10_000, `${partial} to be removed`)
  assert.deepEqual(ls(dir), CHEAP)
  assert.match(r.stderr, /generating heap snapshot/)
  const report = JSON.parse(fs.readFileSync(path.join(dir, 'crash.oom.json'), 'utf8'))
  assert.match(report.snapshot.outcome, /the process was killed while writing it/, 'the report explains the missing snapshot')
})

test('SIGKILL of process and helper mid-write: the temporary stays until the next start removes it', async () => {
  const dir = tmpdir('killboth')
  const { child, partial, helperPid } = await leakUntilWriting(dir)
  process.kill(helperPid, 'SIGKILL')
  child.kill('SIGKILL')
  await child.done
  await waitFor(() => !fs.existsSync(`/proc/${helperPid}`) || /State:\s+Z/.test(fs.readFileSync(`/proc/${helperPid}/status`, 'utf8')), 5000, 'the helper to die')
  assert.deepEqual(ls(dir), [...CHEAP, partial].sort(), 'only the clearly named temporary is left')
  const next = await start([leakApp], {
    env: { OHD_OPTIONS: JSON.stringify({ path: path.join(dir, 'crash') }), OHD_WAIT: '1' },
  })
  await next.firstLine
  next.kill('SIGTERM')
  const r = await next.done
  assert.match(r.stderr, new RegExp(`removed ${path.join(dir, partial)} \\(\\d.*\\), an incomplete capture whose writer was killed while writing it`))
  assert.deepEqual(ls(dir), CHEAP)
})

test('helper gone before the OOM: the process writes the snapshot itself and says so', async () => {
  const dir = tmpdir('nohelper')
  const child = start([`--max-old-space-size=32`, leakApp], {
    env: { OHD_OPTIONS: JSON.stringify({ path: path.join(dir, 'crash') }), OHD_WAIT: '1' },
  })
  const { helperPid } = JSON.parse(await child.firstLine)
  process.kill(helperPid, 'SIGKILL')
  await waitFor(() => !fs.existsSync(`/proc/${helperPid}/status`) || /State:\s+Z/.test(fs.readFileSync(`/proc/${helperPid}/status`, 'utf8')), 5000, 'the helper to die')
  child.stdin.write('go\n')
  const r = await child.done
  assert.equal(r.code, 1, r.stderr)
  assert.match(r.stderr, new RegExp(`the helper could not write the snapshot \\(helper process \\(pid ${helperPid}\\) is not running\\); writing it from this process instead`))
  assert.match(r.stderr, /wrote .*crash\.heapsnapshot .* via this process/)
  assert.deepEqual(ls(dir), [...CHEAP, 'crash.heapsnapshot'].sort())
  readSnapshot(path.join(dir, 'crash.heapsnapshot'))
})

test('disk full: no file under the final name, no temporary, and stderr says why', async (t) => {
  const dir = tmpfsFolder(t, 'full', 'size=4m')
  if (!dir) return
  const r = await runLeak({ options: { path: path.join(dir, 'crash') } })
  assert.equal(r.code, 1, r.stderr)
  assert.match(r.stderr, /the helper could not write the snapshot \(helper reported: cannot write .*No space left on device.*\); not written from this process either, into the same full disk/)
  assert.doesNotMatch(r.stderr, /from this process instead/, 'the heap is not serialized a second time for nothing')
  assert.match(r.stderr, /no heap snapshot written: cannot write .*No space left on device/)
  assert.deepEqual(ls(dir), CHEAP, 'the small artifacts fit; no snapshot, no temporary')
  const report = JSON.parse(fs.readFileSync(path.join(dir, 'crash.oom.json'), 'utf8'))
  assert.match(report.snapshot.outcome, /^failed: cannot write .*No space left on device/)
})

test('disk full with exportCommand: the snapshot fails, and the helper still exports the heap profile and the report', async (t) => {
  const dir = tmpfsFolder(t, 'full-export', 'size=4m')
  if (!dir) return
  const outDir = tmpdir('full-export-out')
  const exportCommand = [process.execPath, fixture('export-command.js'), outDir]
  const r = await runLeak({ options: { path: path.join(dir, 'crash'), exportCommand } })
  assert.equal(r.code, 1, r.stderr)
  assert.match(r.stderr, /the helper could not write the snapshot \(helper reported: cannot write .*No space left on device.*\); not written from this process either/)
  assert.doesNotMatch(r.stderr, /from this process instead/)
  assert.match(r.stderr, /export: 2 file\(s\) to export once this process has exited, by the helper process/)
  assert.match(r.stderr, /node-oom-heapdump: export: done: 2 file\(s\) of the OOM exported/)
  assert.deepEqual(ls(dir), CHEAP, 'no snapshot, no temporary')
  assert.deepEqual(ls(outDir), [...CHEAP, 'env.json'].sort())
  for (const f of CHEAP) assert.deepEqual(fs.readFileSync(path.join(outDir, f)), fs.readFileSync(path.join(dir, f)), `${f} exported whole`)
  const report = JSON.parse(fs.readFileSync(path.join(outDir, 'crash.oom.json'), 'utf8'))
  assert.match(report.snapshot.outcome, /^failed: cannot write .*No space left on device/)
  JSON.parse(fs.readFileSync(path.join(outDir, 'crash.heapprofile'), 'utf8'))
})
