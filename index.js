// node-oom-heapdump: the thin JS layer over the Rust addon. It turns the factory's arguments into
// an options object, finds the native build for the running Node.js, and keeps the API object a
// singleton, as the original package did. Options are checked, and the OOM hook is installed, in
// Rust (src/install.rs).
'use strict'

const path = require('node:path')
const { isMainThread } = require('node:worker_threads')

const nativeFile = path.join(__dirname, 'native', `node_oom_heapdump-abi${process.versions.modules}.node`)
const helperFile = path.join(__dirname, 'native', 'oom-heapdump-helper')

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
    if (isMainThread) {
      this.options = Object.freeze(loadNative().install(options, context()))
    } else {
      // A worker's heap is not the process's: Node turns a worker's OOM into an error event on the
      // Worker object, so the hook lives on the main thread only.
      this.options = null
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

function context() {
  const diagnosticDir = lastFlagValue('--diagnostic-dir')
  return {
    defaultDir: diagnosticDir ?? process.cwd(),
    defaultDirIsDiagnosticDir: diagnosticDir !== undefined,
    helperPath: helperFile,
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

module.exports = nodeOomHeapdump
