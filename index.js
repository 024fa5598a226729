// node-oom-heapdump: the thin JS layer over the Rust addon. It finds the native build for the
// running Node.js, keeps the API object a singleton (as the original package did), keeps one
// capture at a time and the list of files this instance created, and tells the addon what only JS
// knows of the process (context()). Everything else is decided and done in Rust (src/): options
// and arguments are checked there, the OOM hook, GC_MONITORING and the memory watch run there, and
// captures pick their transport and are written there.
// @ts-check: type-checked against binding.d.ts, the native contract napi-rs generates (npm test).
'use strict'

const fs = require('node:fs')
const inspector = require('node:inspector')
const path = require('node:path')
const { debuglog } = require('node:util')
const { isMainThread } = require('node:worker_threads')

const debug = debuglog('node-oom-heapdump')
const nativeFile = path.join(__dirname, 'native', `node_oom_heapdump-abi${process.versions.modules}.node`)
const helperFile = path.join(__dirname, 'native', 'oom-heapdump-helper')
// NODE_OOM_HEAPDUMP_ANALYZER: another analyzer executable for the summary after an OOM (tests use it).
const analyzerFile = process.env.NODE_OOM_HEAPDUMP_ANALYZER || path.join(__dirname, 'native', 'oom-heapdump-analyzer')

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

/**
 * Installs with the options that `NODE_OOM_HEAPDUMP_*` environment variables set (what
 * `-r node-oom-heapdump/register` does) and returns the API object; the same singleton as the
 * factory's, so whichever runs first sets the options. See index.d.ts.
 */
function fromEnvironment() {
  if (instance) return instance
  instance = new NodeOomHeapdumpAPI(undefined)
  return instance
}

class NodeOomHeapdumpAPI {
  // `options` undefined: from the environment.
  constructor(options) {
    this._native = loadNative()
    this._files = new Set()
    this._busy = null
    /** What the last on-request capture did: { kind, path, transport, bytes, ... }. */
    this.lastCapture = null
    // A worker's heap is not the process's: Node turns a worker's OOM into an error event on the
    // Worker object, so the hook lives on the main thread only. Captures there are the worker's.
    const installed = !isMainThread ? null : options === undefined ? this._native.installFromEnvironment(context()) : this._native.install(options, context())
    this.options = installed && Object.freeze(installed)
    this._port = this.options ? this.options.port : typeof options?.port === 'number' ? options.port : undefined
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

  async _capture(kind, filePath, durationMs, captureOptions) {
    if (this._busy) throw new Error(`a ${this._busy} is already being captured; one capture at a time, retry when it is done`)
    const started = Date.now()
    // Checks every argument (throwing InvalidArg) before anything starts.
    const capture = this._native.capture(kind, filePath ?? undefined, durationMs, captureOptions, this._port, context())
    this._busy = kind === 'heapsnapshot' ? 'heap snapshot' : 'CPU profile'
    try {
      const result = await capture
      this._files.add(result.path)
      this.lastCapture = Object.freeze({ kind, ...result, ms: Date.now() - started })
      debug(`wrote ${result.path} (${result.bytes} bytes) via ${result.transport} in ${this.lastCapture.ms} ms`)
      return result.path
    } finally {
      this._busy = null
    }
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
  return typeof value === 'function' ? 'a function' : Array.isArray(value) ? 'an array' : (JSON.stringify(value) ?? String(value))
}

/** @returns {typeof import('./binding')} */
function loadNative() {
  try {
    return require(nativeFile)
  } catch (err) {
    if (err.code !== 'MODULE_NOT_FOUND') throw err
    throw new Error(
      `node-oom-heapdump: no native build for Node.js ${process.version} (ABI ${process.versions.modules}) at ${nativeFile}; ` + 'run `npm rebuild node-oom-heapdump` with this Node.js to build it',
    )
  }
}

// What the addon needs to know of the process: where default file names go (--diagnostic-dir when
// given, else the working directory), its executables, this process's inspector.
function context() {
  const diagnosticDir = lastFlagValue('--diagnostic-dir')
  return {
    defaultDir: diagnosticDir ?? process.cwd(),
    defaultDirIsDiagnosticDir: diagnosticDir !== undefined,
    helperPath: helperFile,
    analyzerPath: analyzerFile,
    nodeVersion: process.version,
    inspectorUrl: inspector.url(),
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
    throw Object.assign(new TypeError(`node-oom-heapdump: options must be an object, got ${describe(options)}`), { code: 'InvalidArg' })
  }
  return JSON.parse(await loadNative().analyzeHeapSnapshot(snapshotPath, options?.top))
}

module.exports = nodeOomHeapdump
module.exports.analyzeHeapSnapshot = analyzeHeapSnapshot
module.exports.fromEnvironment = fromEnvironment
