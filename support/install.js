// Installing the packed tarballs (dist/, `npm run package`) into an empty project the way a user
// without a toolchain would: only the Node.js under test and npm on PATH, offline, with an npm cache
// of its own and an unreachable registry, so the platform package can only come from its tarball.
// Used by __test__/prebuilt.test.mjs and bench/install.js.
'use strict'
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { tmpdir } = require('./paths.js')

/** This machine's npm, run by whichever node runs it. */
const npmCli = path.join(path.dirname(path.dirname(fs.realpathSync(process.execPath))), 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js')

/** A new folder holding only `node` (the one given) and `npm` (this machine's npm, run by that node). */
function onlyNodeAndNpm(node) {
  const bin = tmpdir('bin')
  fs.symlinkSync(node, path.join(bin, 'node'))
  fs.writeFileSync(path.join(bin, 'npm'), `#!/bin/sh\nexec ${JSON.stringify(node)} ${JSON.stringify(npmCli)} "$@"\n`, { mode: 0o755 })
  return bin
}

/**
 * Installs `files` (tarballs) into a new empty project with `node`; `env` replaces the default
 * environment's entries (PATH: only node and npm). Returns { dir, pkg, r, ms }.
 */
function installTarballs(node, files, env = {}) {
  const dir = tmpdir('app')
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }))
  const bin = onlyNodeAndNpm(node)
  const started = process.hrtime.bigint()
  const r = spawnSync(
    path.join(bin, 'npm'),
    ['install', '--offline', '--no-audit', '--no-fund', '--foreground-scripts', '--script-shell=/bin/sh', '--registry=http://127.0.0.1:9/', `--cache=${path.join(dir, '.npm-cache')}`, ...files],
    { cwd: dir, encoding: 'utf8', env: { HOME: dir, PATH: bin, ...env }, timeout: 30 * 60_000 },
  )
  const ms = Number(process.hrtime.bigint() - started) / 1e6
  fs.rmSync(bin, { recursive: true, force: true })
  return { dir, pkg: path.join(dir, 'node_modules', 'node-oom-heapdump'), r, ms }
}

/** Bytes of the files under `dir`. */
function du(dir) {
  let total = 0
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    total += e.isDirectory() ? du(p) : fs.lstatSync(p).size
  }
  return total
}

module.exports = { installTarballs, onlyNodeAndNpm, du }
