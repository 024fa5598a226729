#!/usr/bin/env node
// Builds the native parts for the Node.js that runs this script: the addon, compiled against that
// Node's own headers (V8's C++ API differs between Node majors, so each ABI gets its own file), and
// the executables (the helper and the command line, see EXECUTABLES). Runs on `npm install`; `node scripts/build.js --debug` for a debug build.
// To build for another Node.js, run this script with it: `/path/to/node scripts/build.js`.
'use strict'

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const root = path.resolve(__dirname, '..')
const debug = process.argv.includes('--debug')
const node = fs.realpathSync(process.execPath)
const includeDir = process.env.NODE_INCLUDE_DIR || path.join(path.dirname(path.dirname(node)), 'include', 'node')

// The executables built and placed in native/: [cargo package, binary name]. The one list.
const EXECUTABLES = [
  ['oom-heapdump-helper', 'oom-heapdump-helper'],
  ['oom-heapdump-cli', 'node-oom-heapdump'],
]

const cargoArgs = ['build', '-p', 'node-oom-heapdump', ...EXECUTABLES.flatMap(([pkg]) => ['-p', pkg])]
if (!debug) cargoArgs.push('--release')
if (fs.existsSync(path.join(root, 'Cargo.lock'))) cargoArgs.push('--locked')

console.error(`node-oom-heapdump: building for Node.js ${process.version} (ABI ${process.versions.modules}) with headers from ${includeDir}`)
const cargo = spawnSync('cargo', cargoArgs, {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, NODE: node, NODE_INCLUDE_DIR: includeDir },
})
if (cargo.error) {
  console.error(`node-oom-heapdump: cannot run cargo (${cargo.error.message}). This package is built from source on install: install a Rust toolchain (rustup) and try again.`)
  process.exit(1)
}
if (cargo.status !== 0) process.exit(cargo.status ?? 1)

const out = path.join(root, 'target', debug ? 'debug' : 'release')
const dest = path.join(root, 'native')
fs.mkdirSync(dest, { recursive: true })
place(path.join(out, 'libnode_oom_heapdump.so'), path.join(dest, `node_oom_heapdump-abi${process.versions.modules}.node`))
for (const [, bin] of EXECUTABLES) place(path.join(out, bin), path.join(dest, bin))

// Copy under a temporary name, then rename: a running process keeps its mapping of the old file.
function place(from, to) {
  const tmp = `${to}.tmp-${process.pid}`
  fs.copyFileSync(from, tmp)
  fs.chmodSync(tmp, 0o755)
  fs.renameSync(tmp, to)
  console.error(`node-oom-heapdump: built ${path.relative(root, to)}`)
}
