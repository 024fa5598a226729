// Shared pieces of the Node tests: running child processes, reading snapshots, temp folders.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'

export const root = fileURLToPath(new URL('..', import.meta.url))
export const fixture = (name) => path.join(root, '__test__', 'fixtures', name)
const { MAJORS, nodeBinary } = createRequire(import.meta.url)('../scripts/other-nodes.js')
export { MAJORS, nodeBinary }

/** Under CI (NODE_OOM_HEAPDUMP_STRICT_TESTS=1) a test that cannot run fails instead of skipping. */
export function skipOrFail(t, reason) {
  if (process.env.NODE_OOM_HEAPDUMP_STRICT_TESTS === '1') assert.fail(`cannot run here: ${reason}`)
  console.log(`# skipped: ${reason}`)
  t.skip(reason)
}

export function tmpdir(tag) {
  return fs.mkdtempSync(path.join(os.tmpdir(), `ohd-${tag}-`))
}

export function ls(dir) {
  return fs.readdirSync(dir).sort()
}

/** Starts `node args...`; the result has `done`, a promise of { code, signal, stdout, stderr }. */
export function start(args, { node = process.execPath, env = {}, cwd = root, command } = {}) {
  const [exe, argv] = command ? [command[0], [...command.slice(1), node, ...args]] : [node, args]
  const child = spawn(exe, argv, { cwd, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => (stdout += d))
  child.stderr.on('data', (d) => (stderr += d))
  // stderrAtExit: what had arrived when the process exited (its helper may write on after that).
  let stderrAtExit
  child.on('exit', () => (stderrAtExit = stderr))
  child.done = new Promise((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, stderrAtExit }))
  })
  child.firstLine = new Promise((resolve) => {
    const onData = () => {
      const nl = stdout.indexOf('\n')
      if (nl >= 0) {
        child.stdout.off('data', onData)
        resolve(stdout.slice(0, nl))
      }
    }
    child.stdout.on('data', onData)
  })
  return child
}

/** Runs the leaking fixture to its OOM. */
export function runLeak({ heapMb = 32, options, node, nodeArgs = [], env = {}, cwd, command } = {}) {
  const e = { ...env }
  if (options !== undefined) e.OHD_OPTIONS = typeof options === 'string' ? options : JSON.stringify(options)
  return start([`--max-old-space-size=${heapMb}`, ...nodeArgs, fixture('leak.js')], { node, env: e, cwd, command }).done
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
