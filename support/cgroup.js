// Real cgroups for the container tests and bench/containers.mjs: a child of this process's own
// memory (or pids) cgroup, v2 or v1, with a limit, into which a command is started. Where that is
// not possible, `createCgroup` throws with the reason (the tests' `cgroupOrSkip` then skips, or
// fails under CI) and `createPidsCgroup` returns it.
'use strict'
const fs = require('node:fs')
const path = require('node:path')

let serial = 0

/** This process's cgroup folder and version for `controller`, or a reason why there is none to use. */
function ownCgroup(controller) {
  const lines = fs.readFileSync('/proc/self/cgroup', 'utf8').trim().split('\n')
  const mounts = fs.readFileSync('/proc/self/mountinfo', 'utf8').trim().split('\n')
  const mountOf = (fstype, needController) => {
    for (const line of mounts) {
      const [left, right] = line.split(' - ')
      const r = right.split(' ')
      if (r[0] !== fstype || (needController && !r[2].split(',').includes(controller))) continue
      const f = left.split(' ')
      return { root: f[3], point: f[4] }
    }
    return null
  }
  for (const line of lines) {
    const [, controllers, cgPath] = line.split(':')
    const v2 = controllers === ''
    if (!v2 && !controllers.split(',').includes(controller)) continue
    const m = mountOf(v2 ? 'cgroup2' : 'cgroup', !v2)
    if (!m) continue
    const rel = cgPath.startsWith(m.root) ? cgPath.slice(m.root.length) : cgPath
    const dir = path.join(m.point, rel)
    if (v2 && !fs.readFileSync(path.join(dir, 'cgroup.controllers'), 'utf8').split(/\s+/).includes(controller)) continue
    return { dir, version: v2 ? 2 : 1 }
  }
  return { reason: `no ${controller} cgroup controller for this process (neither v1 nor v2)` }
}

/** A shell prefix that moves itself into the cgroup `dir` and execs the rest of the command. */
const enter = (dir) => ['sh', '-c', 'echo $$ > "$0" && exec "$@"', path.join(dir, 'cgroup.procs')]

/** Removes the cgroup `dir` once its processes (an app's helper may linger a moment) are gone. */
async function removeWhenEmpty(dir) {
  for (let i = 0; i < 100; i++) {
    try {
      return fs.rmdirSync(dir)
    } catch {
      await new Promise((r) => setTimeout(r, 50))
    }
  }
}

/**
 * Creates a child memory cgroup limited to `limitBytes`: { dir, version, command, remove() }, where
 * `command` is a prefix that moves a shell into the cgroup and execs the rest. Throws with the reason
 * when it cannot.
 */
function createCgroup(limitBytes) {
  const own = ownCgroup('memory')
  if (own.reason) throw new Error(own.reason)
  const dir = path.join(own.dir, `ohd-test-${process.pid}-${serial++}`)
  try {
    fs.mkdirSync(dir)
    if (own.version === 2) {
      fs.writeFileSync(path.join(dir, 'memory.max'), String(limitBytes))
      if (fs.existsSync(path.join(dir, 'memory.swap.max'))) fs.writeFileSync(path.join(dir, 'memory.swap.max'), '0')
    } else {
      fs.writeFileSync(path.join(dir, 'memory.limit_in_bytes'), String(limitBytes))
      if (fs.existsSync(path.join(dir, 'memory.memsw.limit_in_bytes'))) fs.writeFileSync(path.join(dir, 'memory.memsw.limit_in_bytes'), String(limitBytes))
    }
  } catch (err) {
    try {
      fs.rmdirSync(dir)
    } catch {}
    throw new Error(`cannot create a memory cgroup under ${own.dir} (cgroup v${own.version}): ${err.message}`)
  }
  return {
    dir,
    version: own.version,
    limitBytes,
    command: enter(dir),
    oomKills: () => oomKills(dir, own.version),
    remove: () => removeWhenEmpty(dir),
  }
}

/** How many processes the kernel's OOM killer has killed in the memory cgroup `dir` for its limit. */
function oomKills(dir, version) {
  const text = fs.readFileSync(path.join(dir, version === 2 ? 'memory.events' : 'memory.oom_control'), 'utf8')
  const line = text.split('\n').find((l) => l.startsWith('oom_kill '))
  return line ? Number(line.split(' ')[1]) : 0
}

/**
 * Creates a child pids cgroup: { dir, command, setMax(n), current(), remove() }, or { reason } when
 * it cannot.
 */
function createPidsCgroup() {
  const own = ownCgroup('pids')
  if (own.reason) return own
  const dir = path.join(own.dir, `ohd-pids-${process.pid}-${serial++}`)
  try {
    fs.mkdirSync(dir)
  } catch (err) {
    return { reason: `cannot create a pids cgroup under ${own.dir}: ${err.message}` }
  }
  return {
    dir,
    command: enter(dir),
    setMax: (n) => fs.writeFileSync(path.join(dir, 'pids.max'), String(n)),
    current: () => Number(fs.readFileSync(path.join(dir, 'pids.current'), 'utf8')),
    remove: () => removeWhenEmpty(dir),
  }
}

module.exports = { createCgroup, createPidsCgroup }
