// Test-only pieces of the Node tests: skip-or-fail, the tests' own fixtures, checks of snapshots,
// a cgroup or a skip. What the benchmarks share with the tests (paths, temp folders, child processes,
// the leaking app, cgroups, statistics) is in support/.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import { execFileSync } from 'node:child_process'
import path from 'node:path'
import { createRequire } from 'node:module'
import { root, leakApp, tmpdir } from '../support/paths.js'
import { start } from '../support/child.js'
import { createCgroup } from '../support/cgroup.js'

/** A fixture of the tests only, in __test__/fixtures (the shared leaking app is support's `leakApp`). */
export const fixture = (name) => path.join(root, '__test__', 'fixtures', name)
const { MAJORS, nodeBinary } = createRequire(import.meta.url)('../scripts/other-nodes.js')
export { MAJORS, nodeBinary }

/** Under CI (NODE_OOM_HEAPDUMP_STRICT_TESTS=1) a test that cannot run fails instead of skipping. */
export function skipOrFail(t, reason) {
  if (process.env.NODE_OOM_HEAPDUMP_STRICT_TESTS === '1') assert.fail(`cannot run here: ${reason}`)
  console.log(`# skipped: ${reason}`)
  t.skip(reason)
}

/**
 * A new folder of the test's with a tmpfs mounted on it (`options`: mount's, e.g. 'size=4m' for a
 * disk that fills, 'ro,size=64k' for a read-only one), unmounted after the test; null (the test
 * skipped, or failed in CI) where it cannot be mounted (root needed).
 */
export function tmpfsFolder(t, tag, options) {
  const dir = tmpdir(tag)
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { stdio: 'pipe' })
  } catch (err) {
    skipOrFail(t, `cannot mount a tmpfs (${options}; needs root): ${err.message.split('\n')[0]}`)
    return null
  }
  t.after(() => execFileSync('umount', [dir]))
  return dir
}

/**
 * The package's root as a path user nobody (uid 65534) can reach, for the tests that run code as
 * nobody: `root` itself where every folder above it lets others through; otherwise (a clone in
 * `mktemp -d`'s 0700 folder) a read-only bind mount of `root` on a new 0755 folder, unmounted and
 * removed (never recursively) after the test. Null (the test skipped, or failed in CI) where that
 * mount cannot be made.
 */
export function rootForNobody(t) {
  const closed = ancestors(root).find((d) => (fs.statSync(d).mode & 0o001) === 0)
  if (closed === undefined) return root
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ohd-root-'))
  fs.chmodSync(dir, 0o755)
  try {
    execFileSync('mount', ['--bind', root, dir], { stdio: 'pipe' })
  } catch (err) {
    fs.rmdirSync(dir)
    skipOrFail(t, `nobody cannot pass ${closed} (mode ${(fs.statSync(closed).mode & 0o777).toString(8)}) and the package cannot be bind-mounted elsewhere: ${err.message.split('\n')[0]}`)
    return null
  }
  t.after(() => {
    execFileSync('umount', [dir])
    fs.rmdirSync(dir)
  })
  execFileSync('mount', ['-o', 'remount,bind,ro', dir], { stdio: 'pipe' })
  return dir
}

/** `dir` and every folder above it. */
function ancestors(dir) {
  const all = [dir]
  while (path.dirname(all.at(-1)) !== all.at(-1)) all.push(path.dirname(all.at(-1)))
  return all
}

export function ls(dir) {
  return fs.readdirSync(dir).sort()
}

/** Runs the leaking fixture to its OOM. */
export function runLeak({ heapMb = 32, options, node, nodeArgs = [], env = {}, cwd, command } = {}) {
  const e = { ...env }
  if (options !== undefined) e.OHD_OPTIONS = typeof options === 'string' ? options : JSON.stringify(options)
  return start([`--max-old-space-size=${heapMb}`, ...nodeArgs, leakApp], { node, env: e, cwd, command }).done
}

/**
 * Reads a .heapsnapshot and checks it is complete: it parses, its nodes and edges arrays hold
 * node_count and edge_count times the field counts of its meta, and every edge points at a node.
 */
export function readSnapshot(file) {
  const snap = JSON.parse(fs.readFileSync(file, 'utf8'))
  const { meta, node_count: nodeCount, edge_count: edgeCount } = snap.snapshot
  const nodeFields = meta.node_fields.length
  const edgeFields = meta.edge_fields.length
  assert.ok(nodeCount > 1000, `only ${nodeCount} nodes`)
  assert.equal(snap.nodes.length, nodeCount * nodeFields, 'nodes length matches node_count')
  assert.equal(snap.edges.length, edgeCount * edgeFields, 'edges length matches edge_count')
  const toNode = meta.edge_fields.indexOf('to_node')
  for (let i = toNode; i < snap.edges.length; i += edgeFields) {
    const target = snap.edges[i]
    if (target % nodeFields !== 0 || target >= snap.nodes.length) assert.fail(`edge ${i} points at ${target}`)
  }
  return snap
}

/** Number of objects of class `name` in a parsed snapshot. */
export function countObjectsOfClass(snap, name) {
  const { meta } = snap.snapshot
  const fields = meta.node_fields.length
  const typeAt = meta.node_fields.indexOf('type')
  const nameAt = meta.node_fields.indexOf('name')
  const objectType = meta.node_types[typeAt].indexOf('object')
  const nameIndex = snap.strings.indexOf(name)
  let n = 0
  for (let i = 0; i < snap.nodes.length; i += fields) {
    if (snap.nodes[i + typeAt] === objectType && snap.nodes[i + nameAt] === nameIndex) n++
  }
  return n
}

export function mode(file) {
  return fs.statSync(file).mode & 0o777
}

/** Polls `probe` every 10 ms until it returns a truthy value or `ms` pass. */
export async function waitFor(probe, ms, what) {
  const end = Date.now() + ms
  for (;;) {
    const v = probe()
    if (v) return v
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

/** A cgroup from support's `createCgroup`, removed after the test; or the test skips (fails under CI). */
export function cgroupOrSkip(t, limitBytes) {
  let cg
  try {
    cg = createCgroup(limitBytes)
  } catch (err) {
    return skipOrFail(t, err.message)
  }
  t.after(() => cg.remove())
  return cg
}
