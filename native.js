// The native files, in one place: what scripts/build.js builds into native/, what the platform
// package (npm/<target>/, e.g. node-oom-heapdump-linux-x64-gnu) ships, and where index.js and the
// bin find them at run time.
//
// - the addon, node_oom_heapdump.node: Rust, N-API only, one build for every Node.js;
// - the shim, oom_shim-abi<N>.so: the C++ that speaks V8's API, one build per Node ABI (major);
// - the executables: the helper that writes OOM snapshots and the command line behind the bin.
//
// Where they are looked for: a local build in native/ when it has this Node's shim (a clone, or a
// build from source forced with NODE_OOM_HEAPDUMP_BUILD_FROM_SOURCE=1), else the platform package.
'use strict'

const fs = require('node:fs')
const path = require('node:path')

const ADDON = 'node_oom_heapdump.node'
/** The executables: file name (= cargo bin name) and the cargo package that builds it. Adding one is one line here. */
const EXECUTABLE_CRATES = { 'oom-heapdump-helper': 'oom-heapdump-helper', 'node-oom-heapdump': 'oom-heapdump-cli' }
const EXECUTABLES = Object.keys(EXECUTABLE_CRATES)
/** The Node.js majors the platform package is built for (and the tests run on). */
const MAJORS = [20, 22, 24, 26]
const PACKAGE = 'node-oom-heapdump'

/** The shim's file name for a Node ABI (process.versions.modules). */
function shimFile(abi) {
  return `oom_shim-abi${abi}.so`
}

/** This machine's target in napi-rs's naming: linux-x64-gnu, linux-arm64-gnu, linux-x64-musl... */
function target() {
  let libc = ''
  if (process.platform === 'linux') {
    const header = /** @type {any} */ (process.report.getReport()).header
    libc = header.glibcVersionRuntime ? '-gnu' : '-musl'
  }
  return `${process.platform}-${process.arch}${libc}`
}

/** The platform package's name for this machine. */
function platformPackage() {
  return `${PACKAGE}-${target()}`
}

/** The installed platform package's folder, or null. */
function platformDir() {
  try {
    return path.dirname(require.resolve(`${platformPackage()}/package.json`, { paths: [__dirname] }))
  } catch {
    return null
  }
}

const localDir = path.join(__dirname, 'native')

/**
 * The folder whose addon and shim fit the running Node, with the files looked for when none does.
 * @returns {{ dir: string | null, looked: string[] }}
 */
function find(abi = process.versions.modules) {
  const looked = []
  const pkg = platformDir()
  const candidates = [localDir, pkg ?? `${platformPackage()} (not installed)`]
  for (const dir of candidates) {
    if (dir !== localDir && dir !== pkg) {
      looked.push(dir)
      continue
    }
    const files = [ADDON, shimFile(abi), ...EXECUTABLES].map((f) => path.join(dir, f))
    const missing = files.filter((f) => !fs.existsSync(f))
    if (missing.length === 0) return { dir, looked }
    looked.push(...missing)
  }
  return { dir: null, looked }
}

/** The message when no native build fits: platform, Node version and ABI, what was looked for, how to build. */
function notFoundMessage(looked) {
  return (
    `node-oom-heapdump: no native build for ${target()} with Node.js ${process.version} (ABI ${process.versions.modules}). ` +
    `Looked for: ${looked.join(', ')}. Prebuilt binaries come in ${platformPackage()} (an optional dependency, ` +
    `for Linux x64 glibc >= 2.28 and Node.js ${MAJORS.join(', ')}). To build from source (needs Rust, a C++ compiler and ` +
    `this Node's headers): NODE_OOM_HEAPDUMP_BUILD_FROM_SOURCE=1 npm rebuild ${PACKAGE}, run with this Node.js.`
  )
}

/**
 * The native files for the running Node: `{ dir, addon, shim, executables: { name: path } }`.
 * Throws the clear message when none fits.
 */
function locate() {
  const { dir, looked } = find()
  if (!dir) throw Object.assign(new Error(notFoundMessage(looked)), { code: 'MODULE_NOT_FOUND' })
  return {
    dir,
    addon: path.join(dir, ADDON),
    shim: path.join(dir, shimFile(process.versions.modules)),
    executables: Object.fromEntries(EXECUTABLES.map((e) => [e, path.join(dir, e)])),
  }
}

/** Path of an executable (needs no ABI): native/ first, then the platform package; null if neither has it. */
function executable(name) {
  for (const dir of [localDir, platformDir()]) {
    if (dir && fs.existsSync(path.join(dir, name))) return path.join(dir, name)
  }
  return null
}

module.exports = { ADDON, EXECUTABLES, EXECUTABLE_CRATES, MAJORS, PACKAGE, shimFile, target, platformPackage, platformDir, localDir, find, locate, executable, notFoundMessage }
