#!/usr/bin/env node
// `npm run package`: the publishable tarballs of both packages in dist/, as the release workflow
// (.github/workflows/release.yml) makes them:
// - the platform package (npm/<target>/, e.g. node-oom-heapdump-linux-x64-gnu): the Rust addon and
//   executables built once with cargo-zigbuild against glibc 2.28, the C++ shim built for each
//   supported Node major (native.js MAJORS) against that Node's headers;
// - the main package, as `npm pack` makes it, with the platform package added to its
//   optionalDependencies (as napi-rs's prepublish does; the repository's package.json does not
//   list it, so that `npm install` in a clone never asks the registry for it).
// Every shipped binary is checked: no glibc symbol newer than 2.28, no libstdc++ symbol newer than
// official Node 20 builds need. Needs: cargo-zigbuild and zig (pip install ziglang), a C++ compiler
// with libstdc++ (g++), and the Node majors (fetched like scripts/other-nodes.js does).
//
//   node scripts/package.js [--target linux-x64-gnu]
'use strict'

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const native = require('../native.js')
const { buildShim, includeDirOf } = require('./shim.js')
const { nodeBinary, fetchMajor, abiOf } = require('./other-nodes.js')
const elf = require('./elf.js')

const root = path.resolve(__dirname, '..')
const dist = path.join(root, 'dist')
const log = (msg) => console.error(`package: ${msg}`)

/** The targets: only linux-x64-gnu is built and tested here (README, Prebuilt binaries). */
const TARGETS = {
  'linux-x64-gnu': { rust: 'x86_64-unknown-linux-gnu.2.28', glibc: [2, 28] },
  'linux-arm64-gnu': { rust: 'aarch64-unknown-linux-gnu.2.28', glibc: [2, 28], cxx: 'aarch64-linux-gnu-g++', untested: true },
  'linux-x64-musl': { rust: 'x86_64-unknown-linux-musl', glibc: null, untested: true },
}
/** libstdc++ versions the shim may need: at most what official Node 20 builds need themselves. */
const LIBSTDCXX_LIMITS = { GLIBCXX_: [3, 4, 21], CXXABI_: [1, 3, 9] }

function run(cmd, args, opts = {}) {
  log(`${cmd} ${args.join(' ')}`)
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts })
  if (r.error) throw new Error(`cannot run ${cmd}: ${r.error.message}`)
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status})`)
  return r
}

/** Fails when `file` needs a glibc or libstdc++ symbol version above the limits. */
function checkVersions(file, glibc) {
  const needed = elf.versionsNeeded(file)
  const limits = { ...(glibc ? { GLIBC_: glibc } : {}), ...LIBSTDCXX_LIMITS }
  for (const [prefix, limit] of Object.entries(limits)) {
    const v = elf.highest(needed, prefix)
    if (v && elf.compare(v, limit) > 0) throw new Error(`${path.basename(file)} needs ${prefix}${v.join('.')}, above ${prefix}${limit.join('.')}`)
  }
}

function packInto(dir) {
  const r = spawnSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dist], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
  if (r.status !== 0) throw new Error(`npm pack in ${dir} failed`)
  const [info] = JSON.parse(r.stdout)
  log(`wrote dist/${info.filename} (${info.entryCount} files, ${info.unpackedSize} bytes unpacked)`)
  return path.join(dist, info.filename)
}

function main() {
  const at = process.argv.indexOf('--target')
  const name = at >= 0 ? process.argv[at + 1] : 'linux-x64-gnu'
  const t = TARGETS[name]
  if (!t) throw new Error(`unknown target ${name}; one of ${Object.keys(TARGETS).join(', ')}`)
  if (t.untested) log(`${name} is not built or tested in this repository's CI; trying anyway`)
  const version = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version
  const stage = path.join(dist, 'stage')
  fs.rmSync(stage, { recursive: true, force: true })
  fs.mkdirSync(stage, { recursive: true })

  // The Rust addon and executables: one build.
  const cargoArgs = ['zigbuild', '--release', '--locked', '--target', t.rust, '-p', 'node-oom-heapdump', ...native.EXECUTABLES.flatMap((e) => ['-p', native.EXECUTABLE_CRATES[e]])]
  run('cargo', cargoArgs)
  const out = path.join(process.env.CARGO_TARGET_DIR || path.join(root, 'target'), t.rust.replace(/\.[\d.]+$/, ''), 'release')
  const pkgDir = path.join(stage, name)
  fs.mkdirSync(pkgDir)
  const files = [[path.join(out, 'libnode_oom_heapdump.so'), native.ADDON], ...native.EXECUTABLES.map((e) => [path.join(out, e), e])]
  for (const [from, to] of files) fs.copyFileSync(from, path.join(pkgDir, to))

  // The shim, once per Node major.
  for (const major of native.MAJORS) {
    let node = nodeBinary(major)
    if (!node) {
      log(`fetching Node.js ${major}`)
      fetchMajor(major)
      node = nodeBinary(major)
    }
    const shim = native.shimFile(abiOf(node))
    buildShim({ includeDir: includeDirOf(node), out: path.join(pkgDir, shim), cxx: t.cxx })
    files.push([null, shim])
  }
  for (const [, f] of files) {
    fs.chmodSync(path.join(pkgDir, f), 0o755)
    checkVersions(path.join(pkgDir, f), t.glibc)
  }
  log(`checked ${files.length} binaries: glibc <= ${t.glibc ? t.glibc.join('.') : '(musl)'}, libstdc++ <= GLIBCXX_${LIBSTDCXX_LIMITS.GLIBCXX_.join('.')}`)

  const manifest = JSON.parse(fs.readFileSync(path.join(root, 'npm', name, 'package.json'), 'utf8'))
  manifest.version = version
  manifest.files = files.map(([, f]) => f)
  fs.writeFileSync(path.join(pkgDir, 'package.json'), JSON.stringify(manifest, null, 2) + '\n')
  fs.copyFileSync(path.join(root, 'npm', name, 'README.md'), path.join(pkgDir, 'README.md'))
  fs.mkdirSync(dist, { recursive: true })
  const platformTarball = packInto(pkgDir)

  // The main package: npm pack of the repository, plus the optional dependency.
  const mainDir = path.join(stage, 'main')
  fs.mkdirSync(mainDir)
  const r = spawnSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', mainDir], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
  if (r.status !== 0) throw new Error('npm pack of the main package failed')
  run('tar', ['xzf', path.join(mainDir, JSON.parse(r.stdout)[0].filename), '-C', mainDir])
  const mainPkg = path.join(mainDir, 'package')
  const main = JSON.parse(fs.readFileSync(path.join(mainPkg, 'package.json'), 'utf8'))
  main.optionalDependencies = { ...main.optionalDependencies, [manifest.name]: version }
  fs.writeFileSync(path.join(mainPkg, 'package.json'), JSON.stringify(main, null, 2) + '\n')
  const mainTarball = packInto(mainPkg)
  fs.rmSync(stage, { recursive: true, force: true })
  console.log(JSON.stringify({ main: mainTarball, platform: platformTarball }))
}

try {
  main()
} catch (err) {
  log(err.message)
  process.exit(1)
}
