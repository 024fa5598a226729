// node-oom-heapdump: the thin JS layer over the Rust addon. It finds the native build for the
// running Node.js (native.js), keeps the API object a singleton (as the original package did), keeps one
// capture at a time and the list of files this instance created (with their device and inode, so
// that a file put in one's place since is never deleted), turns paths given as fs takes them (URL,
// Buffer) into strings, and tells the addon what only JS knows of the process (context()). Everything else is decided and done in Rust (src/): options
// and arguments are checked there, the OOM hook, GC_MONITORING and the memory watch run there, and
// captures pick their transport and are written there.
// @ts-check: type-checked against binding.d.ts, the native contract napi-rs generates (npm test).
'use strict'

const fs = require('node:fs')
const inspector = require('node:inspector')
const path = require('node:path')
const { fileURLToPath } = require('node:url')
const { debuglog, inspect } = require('node:util')
const { isMainThread } = require('node:worker_threads')

const nativeFiles = require('./native.js')

const debug = debuglog('node-oom-heapdump')
/** @type {ReturnType<typeof nativeFiles.locate> | null} where the native files for this Node are (loadNative). */
let located = null

let instance = null
// Paths travel to the addon as strings: a Buffer path must be UTF-8 (a BOM is kept, as in a name).
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

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
    /** @type {Map<string, FileId>} the files this instance created, by absolute path. */
    this._files = new Map()
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
    if (isOptionsObject(snapshotPath) && captureOptions === undefined) [snapshotPath, captureOptions] = [undefined, snapshotPath]
    return this._capture('heapsnapshot', snapshotPath, undefined, captureOptions)
  }

  /** See index.d.ts. */
  createCpuProfile(...args) {
    const captureOptions = isOptionsObject(args[args.length - 1]) ? args.pop() : undefined
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
    filePath = pathArg(filePath, 'argument `path`')
    // Checks every argument (throwing InvalidArg) before anything starts.
    const capture = this._native.capture(kind, filePath ?? undefined, durationMs, captureOptions, this._port, context())
    this._busy = kind === 'heapsnapshot' ? 'heap snapshot' : 'CPU profile'
    try {
      const { file, ...result } = await capture
      // Which file it is, so that delete never removes another put in its place: as the writer's
      // descriptor said before the rename (a file put in its place since, even at once, is not
      // taken for ours); by its name only where statx(2) was not available.
      const created = file ? { native: true, dev: file.dev, ino: file.ino, birth: file.birthtimeNs } : identity(result.path)
      if (created) this._files.set(result.path, created)
      this.lastCapture = Object.freeze({ kind, ...result, ms: Date.now() - started })
      debug(`wrote ${result.path} (${result.bytes} bytes) via ${result.transport} in ${this.lastCapture.ms} ms`)
      return result.path
    } finally {
      this._busy = null
    }
  }

  async _delete(filePath, ext) {
    const p = pathArg(filePath, 'argument `path`')
    const file = typeof p === 'string' ? this._created(p) : undefined
    if (!file || !file.endsWith(ext)) throw new Error(`File not found: ${describe(p)} is not a ${ext} file created by this instance`)
    if (!sameFile(file, this._files.get(file), this._native)) throw new Error(`File not found: ${describe(p)} is not a file created by this instance (it was replaced since)`)
    await fs.promises.unlink(file)
    this._files.delete(file)
    return file
  }

  // Deletes every file of `ext` this instance created that is still the one it created; skips one
  // put in its place since (a directory, another process's file) and goes on. Throws at the end,
  // naming them, only if some of ours could not be deleted.
  _deleteAll(ext) {
    const failed = []
    for (const [file, created] of this._files) {
      if (!file.endsWith(ext)) continue
      try {
        if (!sameFile(file, created, this._native)) {
          debug(`not deleting ${file}: it was replaced since this instance created it`)
          continue
        }
        fs.unlinkSync(file)
        this._files.delete(file)
      } catch (err) {
        if (err.code === 'ENOENT') this._files.delete(file)
        else failed.push(`${file}: ${err.message}`)
      }
    }
    if (failed.length > 0) throw new Error(`could not delete ${failed.length} of the files this instance created (the others were deleted): ${failed.join('; ')}`)
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
  if (typeof options === 'string' || isPathObject(options)) return { path: pathArg(options, 'option `path`') }
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError(`node-oom-heapdump: options must be an object or a path string, got ${describe(options)}`)
  }
  return isPathObject(options.path) ? { ...options, path: pathArg(options.path, 'option `path`') } : options
}

/** An options object: not a path (URL, Buffer) nor an array. */
function isOptionsObject(v) {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !isPathObject(v)
}

/** A path that is not a string but that fs takes: a URL or a Buffer (any Uint8Array). */
function isPathObject(v) {
  return v instanceof URL || v instanceof Uint8Array
}

/**
 * A path as fs takes it, as the string the addon reads: a file: URL as its path, a Buffer as UTF-8
 * text. Anything else is returned as it is, for the addon to check. Errors are `InvalidArg`.
 */
function pathArg(p, label) {
  if (p instanceof URL) {
    if (p.protocol !== 'file:') throw invalidArg(`${label} must be a string, a Buffer or a file: URL, got the URL ${JSON.stringify(p.href)}`)
    try {
      return fileURLToPath(p)
    } catch (err) {
      throw invalidArg(`${label}: the URL ${JSON.stringify(p.href)} names no file on this system: ${err.message}`)
    }
  }
  if (p instanceof Uint8Array) {
    try {
      return utf8.decode(p)
    } catch {
      throw invalidArg(`${label} is a Buffer that is not valid UTF-8 (paths are read as UTF-8 text), got ${inspect(Buffer.from(p))}`)
    }
  }
  return p
}

function invalidArg(message) {
  return Object.assign(new Error(message), { code: 'InvalidArg' })
}

/**
 * Which file a path holds: device, inode and birth time (a file system such as ext4 gives a freed
 * inode number to the next file created; the birth time tells them apart where statx reports it).
 * `native`: read by the addon (statx), and compared only with what the addon reads, never with
 * Node's lstat (which may read another call, and shows inode numbers of 2^63 and up as negative).
 * @typedef {{ native?: boolean, dev: bigint, ino: bigint, birth: bigint }} FileId
 */

/** @returns {FileId | undefined} the regular file at `file` (a final symlink not followed), if any. */
function identity(file) {
  try {
    const st = fs.lstatSync(file, { bigint: true })
    return st.isFile() ? { dev: st.dev, ino: st.ino, birth: st.birthtimeNs } : undefined
  } catch {
    return undefined
  }
}

/**
 * Whether `file` is still the file `created` (throws lstat's error when nothing is there).
 * @param {string} file
 * @param {FileId | undefined} created
 * @param {typeof import('./binding')} native
 */
function sameFile(file, created, native) {
  const st = fs.lstatSync(file, { bigint: true })
  if (created === undefined || !st.isFile()) return false
  const now = created.native ? native.fileId(file) : { dev: st.dev, ino: st.ino, birthtimeNs: st.birthtimeNs }
  return now != null && now.dev === created.dev && now.ino === created.ino && now.birthtimeNs === created.birth
}

function describe(value) {
  return typeof value === 'function' ? 'a function' : Array.isArray(value) ? 'an array' : (JSON.stringify(value) ?? String(value))
}

/**
 * The addon, with the shim for this Node's ABI bound: from native/ (a local build) or the platform
 * package (native.js says where); one clear error when neither fits.
 * @returns {typeof import('./binding')}
 */
function loadNative() {
  if (!located) {
    const found = nativeFiles.locate()
    debug(`native files from ${found.dir}`)
    located = found
  }
  const native = require(located.addon)
  native.loadShim(located.shim)
  return native
}

// What the addon needs to know of the process: where default file names go (--diagnostic-dir when
// given, else the working directory), its executables, this process's inspector.
function context() {
  const files = located ?? nativeFiles.locate()
  const diagnosticDir = lastFlagValue('--diagnostic-dir')
  return {
    defaultDir: diagnosticDir ?? process.cwd(),
    defaultDirIsDiagnosticDir: diagnosticDir !== undefined,
    helperPath: files.executables['oom-heapdump-helper'],
    // NODE_OOM_HEAPDUMP_ANALYZER: another command line (its `analyze`) for the summary after an OOM (tests use it).
    analyzerPath: process.env.NODE_OOM_HEAPDUMP_ANALYZER || files.executables['node-oom-heapdump'],
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
  if (options !== undefined && options !== null && !isOptionsObject(options)) {
    throw Object.assign(new TypeError(`node-oom-heapdump: options must be an object, got ${describe(options)}`), { code: 'InvalidArg' })
  }
  return JSON.parse(await loadNative().analyzeHeapSnapshot(pathArg(snapshotPath, 'argument `path`'), options?.top))
}

module.exports = nodeOomHeapdump
module.exports.analyzeHeapSnapshot = analyzeHeapSnapshot
module.exports.fromEnvironment = fromEnvironment
