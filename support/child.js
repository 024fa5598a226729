// Child processes for the tests and the benchmarks: starting `node` with pipes, and finding a
// process's children in /proc.
'use strict'
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const { root } = require('./paths.js')

/**
 * Starts `node args...` (or `command... node args...`, e.g. a cgroup's prefix), with `env` added to
 * this process's. The result is the ChildProcess with `done`, a promise of { code, signal, stdout,
 * stderr, stderrAtExit }, and `firstLine`, a promise of the first line of its stdout.
 */
function start(args, { node = process.execPath, env = {}, cwd = root, command } = {}) {
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

/** The pids of the children of process `pid` (started by any of its threads); none once it is gone. */
function childrenOf(pid) {
  const out = []
  let tasks = []
  try {
    tasks = fs.readdirSync(`/proc/${pid}/task`)
  } catch {
    return out
  }
  for (const tid of tasks) {
    try {
      for (const c of fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ')) if (c.trim()) out.push(Number(c))
    } catch {}
  }
  return out
}

module.exports = { start, childrenOf }
