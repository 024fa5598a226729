// Real memory cgroups for the container tests and bench/containers.mjs: a child of this process's
// own memory cgroup (v2 or v1), with a limit, into which a command is started. Where that is not
// possible, `createCgroup` throws with the reason (the tests' `cgroupOrSkip` then skips, or fails
// under CI).
'use strict'
const fs = require('node:fs')
const path = require('node:path')

let serial = 0

/** This process's memory cgroup folder and version, or a reason why there is none to use. */
function ownMemoryCgroup() {
  const lines = fs.readFileSync('/proc/self/cgroup', 'utf8').trim().split('\n')
  const mounts = fs.readFileSync('/proc/self/mountinfo', 'utf8').trim().split('\n')
  const mountOf = (fstype, needMemory) => {
    for (const line of mounts) {
      const [left, right] = line.split(' - ')
      const r = right.split(' ')
      if (r[0] !== fstype || (needMemory && !r[2].split(',').includes('memory'))) continue
      const f = left.split(' ')
      return { root: f[3], point: f[4] }
    }
    return null
  }
  for (const line of lines) {
    const [, controllers, cgPath] = line.split(':')
    const v2 = controllers === ''
    if (!v2 && !controllers.split(',').includes('memory')) continue
    const m = mountOf(v2 ? 'cgroup2' : 'cgroup', !v2)
    if (!m) continue
    const rel = cgPath.startsWith(m.root) ? cgPath.slice(m.root.length) : cgPath
    const dir = path.join(m.point, rel)
    if (v2 && !fs.readFileSync(path.join(dir, 'cgroup.controllers'), 'utf8').split(/\s+/).includes('memory')) continue
    return { dir, version: v2 ? 2 : 1 }
  }
  return { reason: 'no memory cgroup controller for this process (neither v1 nor v2)' }
}

/**
 * Creates a child memory cgroup limited to `limitBytes`: { dir, version, command, remove() }, where
 * `command` is a prefix that moves a shell into the cgroup and execs the rest. Throws with the reason
 * when it cannot.
 */
function createCgroup(limitBytes) {
  const own = ownMemoryCgroup()
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
    command: ['sh', '-c', 'echo $$ > "$0" && exec "$@"', path.join(dir, 'cgroup.procs')],
    // Removes the cgroup once its processes (the app's helper may linger a moment) are gone.
    async remove() {
      for (let i = 0; i < 100; i++) {
        try {
          return fs.rmdirSync(dir)
        } catch {
          await new Promise((r) => setTimeout(r, 50))
        }
      }
    },
  }
}

module.exports = { createCgroup }
