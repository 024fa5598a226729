#!/usr/bin/env node
// Install time and size, on one machine in one run (issue 11):
// - prebuilt: both tarballs of dist/ (`npm run package`) into an empty project, offline, with only
//   node and npm on PATH (support/install.js, as __test__/prebuilt.test.mjs installs them);
// - source: the main tarball alone (no platform package, so its install script builds from source,
//   as a clone or NODE_OOM_HEAPDUMP_BUILD_FROM_SOURCE=1 does) with this machine's toolchain on PATH
//   and a fresh cargo target folder (what a user's first install compiles; crates come from the
//   local cargo registry cache, so downloads are not counted).
// Also the unpacked size of each installed package. Every install is checked (exit 0; prebuilt
// compiled nothing; the source build made native/), and a failure aborts. Needs dist/ to hold the
// tarballs: run `npm run package` first (--package runs it).
//
//   node bench/install.js [--package]
'use strict'
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { root, tmpdir } = require('../support/paths.js')
const { installTarballs, du } = require('../support/install.js')
const { platformPackage } = require('../native.js')

function tarballs() {
  if (process.argv.includes('--package')) {
    const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'package.js')], { stdio: ['ignore', 'inherit', 'inherit'] })
    if (r.status !== 0) throw new Error('npm run package failed')
  }
  const dist = path.join(root, 'dist')
  const files = fs.existsSync(dist) ? fs.readdirSync(dist).filter((f) => f.endsWith('.tgz')) : []
  const platform = files.find((f) => f.startsWith(`${platformPackage()}-`))
  const main = files.find((f) => /^node-oom-heapdump-\d/.test(f))
  if (!platform || !main) throw new Error('dist/ has no tarballs: run `npm run package` (or this bench with --package)')
  return { main: path.join(dist, main), platform: path.join(dist, platform) }
}

const mb = (bytes) => `${(bytes / 1e6).toFixed(1)} MB`
const s = (ms) => `${(ms / 1000).toFixed(1)} s`

function main() {
  const { main, platform } = tarballs()
  const node = fs.realpathSync(process.execPath)

  const pre = installTarballs(node, [main, platform])
  if (pre.r.status !== 0) throw new Error(`prebuilt install failed: ${pre.r.stderr}`)
  if (fs.existsSync(path.join(pre.pkg, 'native')) || /building from source/.test(pre.r.stderr)) throw new Error('the prebuilt install compiled')
  const sizes = { main: du(pre.pkg), platform: du(path.join(pre.dir, 'node_modules', platformPackage())) }
  fs.rmSync(pre.dir, { recursive: true, force: true })

  const targetDir = tmpdir('cargo-target')
  const src = installTarballs(node, [main], {
    PATH: `${path.dirname(node)}:${process.env.PATH}`,
    CARGO_HOME: process.env.CARGO_HOME ?? path.join(process.env.HOME, '.cargo'),
    RUSTUP_HOME: process.env.RUSTUP_HOME ?? path.join(process.env.HOME, '.rustup'),
    CARGO_TARGET_DIR: targetDir,
  })
  fs.rmSync(targetDir, { recursive: true, force: true })
  if (src.r.status !== 0) throw new Error(`source install failed: ${src.r.stderr}`)
  if (!fs.existsSync(path.join(src.pkg, 'native'))) throw new Error('the source install built nothing into native/')
  const built = du(path.join(src.pkg, 'native'))
  fs.rmSync(src.dir, { recursive: true, force: true })

  console.log(`Node.js ${process.version}, ${require('node:os').cpus().length} CPUs`)
  console.log(`install, prebuilt tarballs:      ${s(pre.ms)}`)
  console.log(`install, build from source:      ${s(src.ms)}  (${(src.ms / pre.ms).toFixed(0)}x the prebuilt install)`)
  console.log(`unpacked: ${path.basename(main)} ${mb(sizes.main)}, ${path.basename(platform)} ${mb(sizes.platform)}; a source build's native/ ${mb(built)} for one Node`)
}

try {
  main()
} catch (err) {
  console.error(`bench/install: ${err.message}`)
  process.exit(1)
}
