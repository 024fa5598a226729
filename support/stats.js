// Measurements for the benchmarks: medians, and the memory of child processes read from /proc.
'use strict'
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const { childrenOf } = require('./child.js')

const PAGE = Number(spawnSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }).stdout) || 4096

/** The median of `xs` (of an even count, the mean of the middle two). */
function median(xs) {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

/** Bytes as whole megabytes (10^6), e.g. "85 MB". */
const mb = (bytes) => `${(bytes / 1e6).toFixed(0)} MB`

/** Peak RSS (VmHWM) of process `pid` in bytes; 0 once it is gone. */
function vmHwm(pid) {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) * 1024 : 0
  } catch {
    return 0
  }
}

/**
 * Polls the peak RSS (VmHWM) of process `pid` and of each of its children every `everyMs` until
 * `stop()`, which returns { own: the peak of `pid`, total: the sum of every process's peak }.
 */
function watchPeakRss(pid, everyMs = 5) {
  const peaks = new Map()
  const timer = setInterval(() => {
    for (const p of [pid, ...childrenOf(pid)]) peaks.set(p, Math.max(peaks.get(p) ?? 0, vmHwm(p)))
  }, everyMs)
  return {
    stop() {
      clearInterval(timer)
      return { own: peaks.get(pid) ?? 0, total: [...peaks.values()].reduce((a, b) => a + b, 0) }
    },
  }
}

/** Sum of the current RSS over the descendants of `pid` (not `pid` itself), and how many there are. */
function treeRss(pid) {
  let rss = 0
  let procs = 0
  const stack = childrenOf(pid)
  while (stack.length) {
    const p = stack.pop()
    try {
      rss += Number(fs.readFileSync(`/proc/${p}/statm`, 'utf8').split(' ')[1]) * PAGE
      procs++
    } catch {}
    stack.push(...childrenOf(p))
  }
  return { rss, procs }
}

module.exports = { median, mb, vmHwm, watchPeakRss, treeRss }
