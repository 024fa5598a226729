// Prebuilt binaries (issue 11): `npm run package` makes both tarballs; installed into an empty
// project with a PATH that holds only the Node.js under test and npm (no cargo, no C++ compiler,
// no headers) and without the registry, everything works on every supported Node major, and the
// install compiles nothing. Every shipped binary needs glibc <= 2.28. Plus the clear message when
// no binary fits, and the build from source forced with NODE_OOM_HEAPDUMP_BUILD_FROM_SOURCE=1.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { createRequire } from 'node:module'
import { before, test } from 'node:test'
import { root, tmpdir } from '../support/paths.js'
import { MAJORS, nodeBinary, runLeak, readSnapshot, countObjectsOfClass, skipOrFail } from './helpers.mjs'

const require = createRequire(import.meta.url)
const native = require('../native.js')
const elf = require('../scripts/elf.js')

const PLATFORM = 'node-oom-heapdump-linux-x64-gnu'
const { installTarballs: install } = require('../support/install.js')
let tarballs = null
let packageError = null

before(() => {
  // One Rust build (cargo-zigbuild, glibc 2.28) and one shim per major; incremental after the first.
  const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'package.js')], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 30 * 60_000 })
  if (r.status === 0) tarballs = JSON.parse(r.stdout.trim().split('\n').pop())
  else packageError = `npm run package failed (exit ${r.status}); it needs cargo-zigbuild and zig (pip install ziglang), see .ci/run`
})

function tarballsOrSkip(t) {
  if (!tarballs) skipOrFail(t, packageError)
  return tarballs
}

test('every shipped binary needs glibc <= 2.28, and the shims no newer libstdc++ than Node 20 needs', (t) => {
  const { platform } = tarballsOrSkip(t) ?? {}
  if (!platform) return
  const dir = tmpdir('unpack')
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  assert.equal(spawnSync('tar', ['xzf', platform, '-C', dir]).status, 0)
  const files = fs.readdirSync(path.join(dir, 'package')).filter((f) => !/\.(json|md)$/.test(f))
  assert.deepEqual(files.sort(), [native.ADDON, ...native.EXECUTABLES, ...MAJORS.map((m) => native.shimFile(abiOf(nodeBinary(m))))].sort())
  const node20 = elf.versionsNeeded(nodeBinary(20))
  for (const f of files) {
    const needed = elf.versionsNeeded(path.join(dir, 'package', f))
    const glibc = elf.highest(needed, 'GLIBC_')
    assert.ok(!glibc || elf.compare(glibc, [2, 28]) <= 0, `${f} needs GLIBC_${glibc}`)
    for (const prefix of ['GLIBCXX_', 'CXXABI_']) {
      const v = elf.highest(needed, prefix)
      assert.ok(!v || elf.compare(v, elf.highest(node20, prefix)) <= 0, `${f} needs ${prefix}${v}, more than Node 20 needs`)
    }
    if (f.startsWith('oom_shim')) assert.ok(needed.has('libstdc++.so.6') && !needed.has('libc++.so.1'), `${f} is built against libstdc++, as Node is`)
    else assert.ok(!needed.has('libstdc++.so.6'), `${f} needs no C++ runtime`)
  }
  // The parser reads what the linker wrote: the Rust addon needs some glibc version.
  assert.ok(elf.highest(elf.versionsNeeded(path.join(dir, 'package', native.ADDON)), 'GLIBC_'))
})

function abiOf(node) {
  return spawnSync(node, ['-p', 'process.versions.modules'], { encoding: 'utf8' }).stdout.trim()
}

for (const major of MAJORS) {
  test(`Node ${major}: installed from the tarballs with no toolchain, the OOM hook, createHeapSnapshot and the bin work`, async (t) => {
    const node = nodeBinary(major)
    if (!node) return skipOrFail(t, `no Node.js ${major} (run scripts/other-nodes.js)`)
    const { main, platform } = tarballsOrSkip(t) ?? {}
    if (!main) return
    const { dir, pkg, r } = install(node, [main, platform])
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stderr, new RegExp(`using the prebuilt binaries of ${PLATFORM} for Node.js v${major}\\.`), r.stderr)
    assert.doesNotMatch(r.stderr, /building from source|cannot run cargo/, 'install tried to compile')
    assert.ok(!fs.existsSync(path.join(pkg, 'native')), 'install built nothing into native/')
    assert.ok(fs.existsSync(path.join(dir, 'node_modules', PLATFORM, native.shimFile(abiOf(node)))))

    // The OOM hook and the helper, from the installed package.
    const target = path.join(dir, 'crash')
    const oom = await runLeak({ node, heapMb: 50, options: { path: target }, env: { OHD_PACKAGE: pkg }, cwd: dir })
    assert.equal(oom.code, 1, oom.stderr)
    assert.match(oom.stderr, /wrote .*crash\.heapsnapshot \(.*\) in .* via helper process/)
    const snap = readSnapshot(`${target}.heapsnapshot`)
    assert.ok(countObjectsOfClass(snap, 'LeakyRequestRecord') > 10000)
    assert.match(oom.stderr, /what filled the heap, from [^]*LeakyRequestRecord/, 'the analyzer summary ran')

    // An on-request snapshot, in-process, and the bin.
    const file = path.join(dir, 'now.heapsnapshot')
    const code = `require(${JSON.stringify(pkg)})({ heapdumpOnOOM: false }).createHeapSnapshot(${JSON.stringify(file)}).then((p) => console.log(p))`
    const cap = spawnSync(node, ['-e', code], { cwd: dir, encoding: 'utf8', env: { PATH: '/nonexistent' }, timeout: 120_000 })
    assert.equal(cap.status, 0, cap.stderr)
    assert.equal(cap.stdout.trim(), file)
    const now = readSnapshot(file)
    const binJs = path.join(dir, 'node_modules', '.bin', 'node-oom-heapdump')
    const an = spawnSync(node, [binJs, 'analyze', '--json', file], { cwd: dir, encoding: 'utf8', env: { PATH: '/nonexistent' }, timeout: 120_000 })
    assert.equal(an.status, 0, an.stderr)
    assert.equal(JSON.parse(an.stdout).nodeCount, now.snapshot.node_count, an.stdout.slice(0, 500))
  })
}

test('without the platform package, the error names the platform, Node version and ABI, what was looked for, and how to build', (t) => {
  const { main, platform } = tarballsOrSkip(t) ?? {}
  if (!main) return
  const { dir, pkg, r } = install(process.execPath, [main, platform])
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  assert.equal(r.status, 0, r.stderr)
  fs.rmSync(path.join(dir, 'node_modules', PLATFORM), { recursive: true })
  const load = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(pkg)})()`], { encoding: 'utf8' })
  assert.notEqual(load.status, 0)
  const abi = process.versions.modules
  assert.match(load.stderr, new RegExp(`no native build for linux-x64-gnu with Node\\.js ${process.version.replaceAll('.', '\\.')} \\(ABI ${abi}\\)`))
  assert.ok(load.stderr.includes(`${PLATFORM} (not installed)`), load.stderr)
  assert.ok(load.stderr.includes(path.join(pkg, 'native', native.shimFile(abi))), load.stderr)
  assert.match(load.stderr, /NODE_OOM_HEAPDUMP_BUILD_FROM_SOURCE=1 npm rebuild node-oom-heapdump/)
  // The install script then builds from source rather than passing; with no toolchain it fails saying why.
  const rebuild = spawnSync(process.execPath, [path.join(pkg, 'scripts', 'build.js')], { cwd: pkg, encoding: 'utf8', env: { PATH: '/nonexistent', npm_lifecycle_event: 'install' } })
  assert.notEqual(rebuild.status, 0)
  assert.match(rebuild.stderr, /building from source[^]*cannot run cargo .*install a Rust toolchain/)
})

test('a Node whose ABI has no shim: the error names what was looked for in the platform package', (t) => {
  const { main, platform } = tarballsOrSkip(t) ?? {}
  if (!main) return
  const { dir, pkg, r } = install(process.execPath, [main, platform])
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  assert.equal(r.status, 0, r.stderr)
  // Loaded as if by a Node with ABI 999: find() is what loading and the install script go by.
  const code = `const n = require(${JSON.stringify(path.join(pkg, 'native.js'))}); const { dir, looked } = n.find('999'); console.log(JSON.stringify({ dir, message: n.notFoundMessage(looked) }))`
  const out = JSON.parse(spawnSync(process.execPath, ['-e', code], { encoding: 'utf8' }).stdout)
  assert.equal(out.dir, null)
  assert.ok(out.message.includes(path.join(dir, 'node_modules', PLATFORM, native.shimFile(999))), out.message)
  assert.match(out.message, /Node\.js 20, 22, 24, 26/)
})

test('NODE_OOM_HEAPDUMP_BUILD_FROM_SOURCE=1 builds from source in an installed package, and that build is loaded', (t) => {
  const { main, platform } = tarballsOrSkip(t) ?? {}
  if (!main) return
  // This machine's toolchain on PATH, but the Node.js of this process and an offline npm.
  const { dir, pkg, r } = install(process.execPath, [main, platform], {
    NODE_OOM_HEAPDUMP_BUILD_FROM_SOURCE: '1',
    PATH: `${path.dirname(process.execPath)}:${process.env.PATH}`,
    CARGO_HOME: process.env.CARGO_HOME ?? path.join(process.env.HOME, '.cargo'),
    RUSTUP_HOME: process.env.RUSTUP_HOME ?? path.join(process.env.HOME, '.rustup'),
    // Its own target folder would rebuild every crate; share the repository's.
    CARGO_TARGET_DIR: path.join(root, 'target'),
  })
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  assert.equal(r.status, 0, r.stderr)
  assert.match(r.stderr, /building from source/)
  const built = path.join(pkg, 'native', native.shimFile(process.versions.modules))
  assert.ok(fs.existsSync(built), r.stderr)
  const load = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(pkg)})({ heapdumpOnOOM: false })`], { encoding: 'utf8', env: { ...process.env, NODE_DEBUG: 'node-oom-heapdump' } })
  assert.equal(load.status, 0, load.stderr)
  assert.ok(load.stderr.includes(`native files from ${path.join(pkg, 'native')}`), load.stderr)
})
