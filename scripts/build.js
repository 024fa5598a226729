#!/usr/bin/env node
// Builds the native parts from source into native/ for the Node.js that runs this script: the Rust
// addon (one build for every Node, N-API is ABI-stable), the C++ shim for this Node's ABI
// (oom_shim-abi<N>.so, compiled against this Node's headers: V8's C++ API differs between majors)
// and the executables (the helper and the command line). native.js lists the files.
//
//   node scripts/build.js              release build (`npm run build`)
//   node scripts/build.js --debug      debug build
//   node scripts/build.js --shim-only  only the shim for this Node (the addon and executables exist)
//   /path/to/node scripts/build.js     for another Node.js
//
// As package.json's "install" script it compiles nothing when a prebuilt platform package fits the
// running Node (an installed package), unless NODE_OOM_HEAPDUMP_BUILD_FROM_SOURCE=1.
'use strict'

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const native = require('../native.js')
const { buildShim, includeDirOf } = require('./shim.js')

const root = path.resolve(__dirname, '..')
const debug = process.argv.includes('--debug')
const shimOnly = process.argv.includes('--shim-only')
const abi = process.versions.modules
const log = (msg) => console.error(`node-oom-heapdump: ${msg}`)

if (process.env.npm_lifecycle_event === 'install' && process.env.NODE_OOM_HEAPDUMP_BUILD_FROM_SOURCE !== '1') {
  const { dir } = native.find()
  if (dir && dir !== native.localDir) {
    log(`using the prebuilt binaries of ${path.basename(dir)} for Node.js ${process.version} (ABI ${abi}); nothing to build`)
    process.exit(0)
  }
}

const node = fs.realpathSync(process.execPath)
const includeDir = process.env.NODE_INCLUDE_DIR || includeDirOf(node)
const dest = native.localDir
fs.mkdirSync(dest, { recursive: true })

if (!shimOnly) {
  const cargoArgs = ['build', '-p', 'node-oom-heapdump', ...native.EXECUTABLES.flatMap((e) => ['-p', native.EXECUTABLE_CRATES[e]])]
  if (!debug) cargoArgs.push('--release')
  if (fs.existsSync(path.join(root, 'Cargo.lock'))) cargoArgs.push('--locked')
  log(`building from source for Node.js ${process.version} (ABI ${abi}) with headers from ${includeDir}`)
  const cargo = spawnSync('cargo', cargoArgs, { cwd: root, stdio: 'inherit' })
  if (cargo.error) {
    log(
      `cannot run cargo (${cargo.error.message}). No prebuilt binary fits ${native.target()} with Node.js ${process.version}, so this package ` +
        'is built from source: install a Rust toolchain (rustup), a C++ compiler and this Node.js with its headers, and try again.',
    )
    process.exit(1)
  }
  if (cargo.status !== 0) process.exit(cargo.status ?? 1)
  const out = path.join(process.env.CARGO_TARGET_DIR || path.join(root, 'target'), debug ? 'debug' : 'release')
  place(path.join(out, 'libnode_oom_heapdump.so'), path.join(dest, native.ADDON))
  for (const e of native.EXECUTABLES) place(path.join(out, e), path.join(dest, e))
}

try {
  const shim = path.join(dest, native.shimFile(abi))
  buildShim({ includeDir, out: shim, debug })
  log(`built ${path.relative(root, shim)}`)
} catch (err) {
  log(err.message)
  process.exit(1)
}

// Copy under a temporary name, then rename: a running process keeps its mapping of the old file.
function place(from, to) {
  const tmp = `${to}.tmp-${process.pid}`
  fs.copyFileSync(from, tmp)
  fs.chmodSync(tmp, 0o755)
  fs.renameSync(tmp, to)
  log(`built ${path.relative(root, to)}`)
}
