// node-oom-heapdump: the thin JS layer over the Rust addon. It turns the factory's arguments into
// an options object, finds the native build for the running Node.js, keeps the API object a
// singleton (as the original package did), picks the transport of on-request captures and keeps
// the list of files this instance created. Options and arguments are checked, the OOM hook is
// installed and captures are written in Rust (src/).
'use strict'

const fs = require('node:fs')
const inspector = require('node:inspector')
const path = require('node:path')
const { PerformanceObserver } = require('node:perf_hooks')
const { debuglog } = require('node:util')
const { isMainThread } = require('node:worker_threads')

const debug = debuglog('node-oom-heapdump')
const nativeFile = path.join(__dirname, 'native', `node_oom_heapdump-abi${process.versions.modules}.node`)
const helperFile = path.join(__dirname, 'native', 'oom-heapdump-helper')
// NODE_OOM_HEAPDUMP_ANALYZER: another analyzer executable for the summary after an OOM (tests use it).
const analyzerFile = process.env.NODE_OOM_HEAPDUMP_ANALYZER || path.join(__dirname, 'native', 'oom-heapdump-analyzer')
const TRANSPORTS = ['auto', 'devtools', 'in-process']

let instance = null

/**
 * Installs the OOM hook (unless `heapdumpOnOOM` is false) and returns the API object.
 * Later calls return the same object. See index.d.ts for the options.
 */
function nodeOomHeapdump(options) {
  if (instance) return instance
  instance = new NodeOomHeapdumpAPI(normalize(options))
  return instance
}

class NodeOomHeapdumpAPI {
  constructor(options) {
    this._native = loadNative()
    this._files = new Set()
    this._busy = null
    /** What the last on-request capture did: { kind, path, transport, bytes, ... }. */
    this.lastCapture = null
    if (isMainThread) {
      this.options = Object.freeze(this._native.install(options, context()))
      this._port = this.options.port
      this._checkInspector()
      if (this.options.heapdumpOnOOM) {
        this._native.watchContainerMemory(this.options.rssThreshold, (near) => this._memoryNearLimit(near))
        if (this.options.OOMImplementation === 'GC_MONITORING') this._monitorGc()
      }
    } else {
      // A worker's heap is not the process's: Node turns a worker's OOM into an error event on the
      // Worker object, so the hook lives on the main thread only. Captures here are the worker's.
      this.options = null
      this._port = typeof options.port === 'number' ? options.port : 9229
    }
  }

  /** See index.d.ts. */
  createHeapSnapshot(snapshotPath, captureOptions) {
    if (isPlainObject(snapshotPath) && captureOptions === undefined) [snapshotPath, captureOptions] = [undefined, snapshotPath]
    return this._capture('heapsnapshot', snapshotPath, undefined, captureOptions)
  }

  /** See index.d.ts. */
  createCpuProfile(...args) {
    const captureOptions = isPlainObject(args[args.length - 1]) ? args.pop() : undefined
    const [cpuProfilePath, durationMs] = args
    return this._capture('cpuprofile', cpuProfilePath, durationMs, captureOptions)
  }

  /** See index.d.ts. */
  deleteHeapSnapshot(snapshotPath) {
    return this._delete(snapshotPath, '.heapsnapshot')
  }

  /** See index.d.ts. */
  deleteCpuProfile(cpuProfilePath) {
    return this._delete(cpuProfilePath, '.cpuprofile')
  }

  /** See index.d.ts. */
  deleteAllHeapSnapshots() {
    this._deleteAll('.heapsnapshot')
  }

  /** See index.d.ts. */
  deleteAllCpuProfiles() {
    this._deleteAll('.cpuprofile')
  }

  async _capture(kind, filePath, durationMs, captureOptions = {}) {
    const { onProgress, samplingIntervalUs, transport = 'auto' } = captureOptions
    if (onProgress !== undefined && typeof onProgress !== 'function') throw new TypeError(`option \`onProgress\` must be a function, got ${describe(onProgress)}`)
    if (!TRANSPORTS.includes(transport)) throw new TypeError(`option \`transport\` must be one of ${TRANSPORTS.map((t) => `"${t}"`).join(', ')}, got ${describe(transport)}`)
    if (this._busy) throw new Error(`a ${this._busy} is already being captured; one capture at a time, retry when it is done`)
    const prepared = this._native.prepareCapture(kind, filePath ?? undefined, durationMs, samplingIntervalUs, context())
    this._busy = kind === 'heapsnapshot' ? 'heap snapshot' : 'CPU profile'
    try {
      const via = this._transport(transport)
      debug(`${this._busy} to ${prepared.path} via ${via ? `the DevTools inspector on 127.0.0.1:${via.port}` : 'the in-process V8 API'}`)
      const started = Date.now()
      const result = await (kind === 'heapsnapshot' ? this._heapSnapshot(prepared, via, onProgress) : this._cpuProfile(prepared, via))
      this._files.add(result.path)
      this.lastCapture = Object.freeze({ kind, ...result, ms: Date.now() - started })
      debug(`wrote ${result.path} (${result.bytes} bytes) via ${result.transport} in ${this.lastCapture.ms} ms`)
      return result.path
    } finally {
      this._busy = null
    }
  }

  _heapSnapshot(prepared, via, onProgress) {
    if (via) return this._native.devtoolsHeapSnapshot(via.port, via.id, prepared.path, onProgress)
    return this._native.inProcessHeapSnapshot(prepared.path, onProgress)
  }

  async _cpuProfile({ path: file, durationMs, samplingIntervalUs }, via) {
    if (via) return this._native.devtoolsCpuProfile(via.port, via.id, file, durationMs, samplingIntervalUs)
    const session = new inspector.Session()
    session.connect()
    const post = (method, params) => new Promise((resolve, reject) => session.post(method, params, (err, res) => (err ? reject(err) : resolve(res))))
    try {
      await post('Profiler.enable')
      await post('Profiler.setSamplingInterval', { interval: samplingIntervalUs })
      await post('Profiler.start')
      await new Promise((resolve) => setTimeout(resolve, durationMs))
      const { profile } = await post('Profiler.stop')
      return await this._native.writeCpuProfile(file, JSON.stringify(profile))
    } finally {
      session.disconnect()
    }
  }

  // GC_MONITORING: after garbage collections, Rust decides (src/gc_monitor.rs) whether to take a
  // snapshot while the process keeps running; it is taken in-process, no inspector needed.
  _monitorGc() {
    let snapshotting = false
    const observer = new PerformanceObserver(async (list) => {
      if (snapshotting || list.getEntries().length === 0) return
      const check = this._native.gcMonitorCheck()
      if (!check) return
      console.error(`node-oom-heapdump: ${check.message}`)
      if (check.action !== 'take') return
      snapshotting = true
      try {
        const started = Date.now()
        const r = await this._native.inProcessHeapSnapshot(check.path)
        console.error(`node-oom-heapdump: wrote ${r.path} (${(r.bytes / 1e6).toFixed(1)} MB, ${r.nodeCount} nodes) in ${((Date.now() - started) / 1000).toFixed(1)} s`)
      } catch (err) {
        console.error(`node-oom-heapdump: GC_MONITORING snapshot failed: ${err.message}`)
      } finally {
        snapshotting = false
      }
    })
    observer.observe({ entryTypes: ['gc'] })
    this._gcObserver = observer
  }

  // The container's memory passed rssThreshold: the full report, with this process's figures.
  _memoryNearLimit(near) {
    try {
      this._native.writeMemoryReport(near, JSON.stringify(process.memoryUsage()))
    } catch (err) {
      console.error(`node-oom-heapdump: cannot write the memory report: ${err.message}`)
    }
  }

  // The inspector to capture through, or null for in-process. "auto" uses this process's own
  // inspector when it has one that loopback reaches; "devtools" insists (and fails clearly if there
  // is none); "in-process" never uses it.
  _transport(requested) {
    const own = ownInspector()
    if (requested === 'in-process') return null
    if (requested === 'devtools') return own ?? { port: this._port, id: null }
    return own && own.loopback ? own : null
  }

  // Once, at load: does an inspector of this process answer on loopback? (The original checked the
  // configured port too, and warned once.) With --inspect, its own port is the one captures use.
  _checkInspector() {
    const own = ownInspector()
    const port = own?.port ?? this._port
    this._native.probeInspector(port, own?.id ?? null).then(
      (who) => {
        if (who === 'ours') return debug(`this process's DevTools inspector answers on 127.0.0.1:${port}`)
        const why = who === 'other' ? `the inspector on 127.0.0.1:${port} belongs to another process` : `no DevTools inspector answers on 127.0.0.1:${port}`
        console.warn(`node-oom-heapdump: ${why}; the process may not have been started with --inspect=${port}. On-request captures will run in-process.`)
      },
      (err) => debug(`inspector check failed: ${err.message}`),
    )
  }

  async _delete(filePath, ext) {
    const file = typeof filePath === 'string' ? this._created(filePath) : undefined
    if (!file || !file.endsWith(ext)) throw new Error(`File not found: ${describe(filePath)} is not a ${ext} file created by this instance`)
    await fs.promises.unlink(file)
    this._files.delete(file)
    return file
  }

  _deleteAll(ext) {
    for (const file of this._files) {
      if (!file.endsWith(ext)) continue
      try {
        fs.unlinkSync(file)
      } catch (err) {
        if (err.code !== 'ENOENT') throw err
      }
      this._files.delete(file)
    }
  }

  // The created file that `p` names (relative to the working directory, through symlinked folders).
  _created(p) {
    const abs = path.resolve(p)
    if (this._files.has(abs)) return abs
    try {
      const real = path.join(fs.realpathSync(path.dirname(abs)), path.basename(abs))
      return this._files.has(real) ? real : undefined
    } catch {
      return undefined
    }
  }
}

// This process's inspector, from inspector.url(): its port, target id, and whether 127.0.0.1 reaches it.
function ownInspector() {
  const url = inspector.url()
  if (!url) return null
  const u = new URL(url)
  const loopback = ['127.0.0.1', 'localhost', '[::1]', '0.0.0.0', '[::]'].includes(u.hostname)
  return { port: Number(u.port), id: u.pathname.slice(1), loopback }
}

function normalize(options) {
  if (options === undefined || options === null) return {}
  if (typeof options === 'string') return { path: options }
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError(`node-oom-heapdump: options must be an object or a path string, got ${describe(options)}`)
  }
  return options
}

function isPlainObject(v) {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function describe(value) {
  return typeof value === 'function' ? 'a function' : Array.isArray(value) ? 'an array' : JSON.stringify(value) ?? String(value)
}

function loadNative() {
  try {
    return require(nativeFile)
  } catch (err) {
    if (err.code !== 'MODULE_NOT_FOUND') throw err
    throw new Error(
      `node-oom-heapdump: no native build for Node.js ${process.version} (ABI ${process.versions.modules}) at ${nativeFile}; ` +
        'run `npm rebuild node-oom-heapdump` with this Node.js to build it',
    )
  }
}

// Where default file names go: --diagnostic-dir when given, else the working directory.
function context() {
  const diagnosticDir = lastFlagValue('--diagnostic-dir')
  return {
    defaultDir: diagnosticDir ?? process.cwd(),
    defaultDirIsDiagnosticDir: diagnosticDir !== undefined,
    helperPath: helperFile,
    analyzerPath: analyzerFile,
    nodeVersion: process.version,
  }
}

// The value of a `--flag=value` or `--flag value` given in NODE_OPTIONS or on the command line
// (which wins, being read last).
function lastFlagValue(flag) {
  const fromEnv = (process.env.NODE_OPTIONS ?? '').match(/(?:[^\s"]+|"[^"]*")+/g) ?? []
  const args = [...fromEnv.map((a) => a.replace(/"/g, '')), ...process.execArgv]
  let value
  for (let i = 0; i < args.length; i++) {
    if (args[i].startsWith(`${flag}=`)) value = args[i].slice(flag.length + 1)
    else if (args[i] === flag && i + 1 < args.length) value = args[++i]
  }
  return value
}

/**
 * Tells what fills the heap in a `.heapsnapshot` file: totals, top classes with Chrome DevTools'
 * numbers, and the largest objects with their retainer paths, computed in Rust off the JS thread.
 * See index.d.ts.
 */
async function analyzeHeapSnapshot(snapshotPath, options) {
  if (options !== undefined && options !== null && !isPlainObject(options)) {
    const err = new TypeError(`node-oom-heapdump: options must be an object, got ${describe(options)}`)
    err.code = 'InvalidArg'
    throw err
  }
  return JSON.parse(await loadNative().analyzeHeapSnapshot(snapshotPath, options?.top))
}

module.exports = nodeOomHeapdump
module.exports.analyzeHeapSnapshot = analyzeHeapSnapshot
