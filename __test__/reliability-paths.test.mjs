// Paths that used to pass the checks and fail later, or fail where they should not (issue 10):
// names too long once we add to them, NUL bytes and lone surrogates, folders past PATH_MAX, an
// unwritable working directory with nothing to write there, URL and Buffer paths, and deletes of
// files that were replaced since we created them. Each case runs in a child process of its own
// (the factory is a singleton), some as `nobody`.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { root, tmpdir } from '../support/paths.js'
import { start } from '../support/child.js'
import { ls, rootForNobody, skipOrFail } from './helpers.mjs'

const NOBODY = 65534

/**
 * Runs `fn({ factory, attempt, args, fs, path, url })` in a child process (cwd `cwd`) and returns what
 * it resolves to. `attempt(f)` is `{ ok, value }` or `{ ok: false, message, code }`. With `nobody`
 * (the package's root as nobody reaches it: rootForNobody) the child runs as `nobody` and loads the
 * package from there.
 */
async function inChild(fn, { cwd = root, args = {}, nobody } = {}) {
  const code = `
    if (${nobody !== undefined}) { process.setgid(${NOBODY}); process.setuid(${NOBODY}) }
    const factory = require(${JSON.stringify(path.join(nobody ?? root, 'index.js'))})
    const attempt = async (f) => {
      try { return { ok: true, value: await f() } } catch (e) { return { ok: false, message: e.message, code: e.code } }
    }
    ;(${fn.toString()})({ factory, attempt, args: ${JSON.stringify(args)}, fs: require('node:fs'), path: require('node:path'), url: require('node:url') })
      .then((v) => console.log(JSON.stringify(v)), (e) => console.log(JSON.stringify({ crashed: e.stack })))`
  const r = await start(['-e', code], { cwd }).done
  assert.equal(r.code, 0, r.stderr)
  const out = JSON.parse(r.stdout.trim().split('\n').pop())
  assert.equal(out.crashed, undefined, out.crashed)
  return out
}

/** The factory's outcome in a fresh child: `{ ok, value: options }` or `{ ok: false, message, code }`. */
function factoryOutcome(options, { cwd, nobody } = {}) {
  return inChild(({ factory, attempt, args }) => attempt(() => factory(args.options).options), { args: { options }, cwd, nobody })
}

function rejects(outcome, message) {
  assert.equal(outcome.ok, false, `expected a rejection matching ${message}, got ${JSON.stringify(outcome)}`)
  assert.match(outcome.message, message)
  assert.equal(outcome.code, 'InvalidArg', outcome.message)
}

/** A root-owned 0755 folder, as a container's WORKDIR is, and a folder anyone may write. */
function folders(tag) {
  const ro = tmpdir(`${tag}-ro`)
  const rw = tmpdir(`${tag}-rw`)
  fs.chmodSync(ro, 0o755)
  fs.chmodSync(rw, 0o777)
  return { ro, rw }
}

test('path: a NUL byte is refused at start, in the factory and in captures', async () => {
  const dir = tmpdir('nul')
  rejects(
    await inChild(({ factory, attempt, args }) => attempt(() => factory({ path: `${args.dir}/a\0b` })), { args: { dir } }),
    /^option `path` contains a NUL byte, which no file name can hold, got ".*a\\0b"$/,
  )
  const capture = await inChild(
    async ({ factory, attempt, args }) => {
      const api = factory({ heapdumpOnOOM: false })
      return [await attempt(() => api.createHeapSnapshot(`${args.dir}/s\0`)), await attempt(() => api.createCpuProfile(`${args.dir}\0/p`, 10))]
    },
    { args: { dir } },
  )
  for (const r of capture) rejects(r, /^argument `path` contains a NUL byte, which no file name can hold/)
  assert.deepEqual(ls(dir), [])
})

test('path: a name whose temporary file would pass NAME_MAX is refused at start (238 characters)', async () => {
  const dir = tmpdir('namemax')
  const name = (n, c = 'a') => path.join(dir, c.repeat(n))
  // <name>.heapsnapshot is 251 bytes; its temporary, `.<final name>.<16 hex>.partial`, 277.
  rejects(await factoryOutcome({ path: name(238) }), /^option `path`: file name "a{238}\.heapsnapshot" is too long: .* is 277 bytes, over NAME_MAX \(255 bytes\)$/)
  // Bytes, not characters: 115 two-byte characters.
  rejects(await factoryOutcome({ path: name(115, 'é') }), /NAME_MAX \(255 bytes\)/)
  // 216 + 13 + 26 = 255 fits; with addTimestamp, 21 bytes more do not, and 195 fit again.
  assert.equal((await factoryOutcome({ path: name(216) })).ok, true)
  rejects(await factoryOutcome({ path: name(216), addTimestamp: true }), /is 276 bytes, over NAME_MAX \(255 bytes\)$/)
  assert.equal((await factoryOutcome({ path: name(195), addTimestamp: true })).ok, true)
  // Captures: .cpuprofile is 11 bytes, so 218 fit and 219 do not.
  const captures = await inChild(
    async ({ factory, attempt, args }) => {
      const api = factory({ heapdumpOnOOM: false })
      return [
        await attempt(() => api.createHeapSnapshot(`${args.dir}/${'c'.repeat(238)}`)),
        await attempt(() => api.createCpuProfile(`${args.dir}/${'p'.repeat(219)}`, 10)),
        await attempt(() => api.createCpuProfile(`${args.dir}/${'p'.repeat(218)}`, 10)),
      ]
    },
    { args: { dir } },
  )
  rejects(captures[0], /^argument `path`: file name "c{238}\.heapsnapshot" is too long: .* over NAME_MAX \(255 bytes\)$/)
  rejects(captures[1], /^argument `path`: file name "p{219}\.cpuprofile" is too long: .* is 256 bytes, over NAME_MAX/)
  assert.equal(captures[2].ok, true, captures[2].message)
  assert.deepEqual(ls(dir), [`${'p'.repeat(218)}.cpuprofile`])
})

test('path: past PATH_MAX is said so, for the folder and for the names we write in it', async () => {
  const base = tmpdir('pathmax')
  // Stay under PATH_MAX with the folder, then go past it.
  let dir = base
  while (Buffer.byteLength(dir) + 201 < 4040) dir = path.join(dir, 'd'.repeat(200))
  fs.mkdirSync(dir, { recursive: true })
  try {
    const dirBytes = Buffer.byteLength(dir)
    // <dir>/<n a's>.heapsnapshot and its temporary: dir + 1 + n + 13 + 26 bytes, PATH_MAX counting the final NUL.
    const fits = 4095 - dirBytes - 1 - 13 - 26
    assert.ok(fits > 0 && fits <= 216, `${fits}`)
    assert.equal((await factoryOutcome({ path: path.join(dir, 'a'.repeat(fits)) })).ok, true)
    rejects(
      await factoryOutcome({ path: path.join(dir, 'a'.repeat(fits + 1)) }),
      /^option `path`: its temporary file ".*" would be 4096 bytes long, longer than PATH_MAX \(4096 bytes, the final NUL included\)$/,
    )
    // A folder past PATH_MAX, made from inside its parent (an absolute path that long cannot be made).
    const deeper = 'e'.repeat(200)
    execFileSync('mkdir', ['-p', `${deeper}/${deeper}`], { cwd: dir })
    const tooDeep = path.join(dir, deeper, deeper)
    assert.ok(Buffer.byteLength(tooDeep) > 4096)
    rejects(await factoryOutcome({ path: path.join(tooDeep, 'crash') }), /^option `path`: folder ".*e{200}" is longer than PATH_MAX \(4096 bytes\)$/)
    const capture = await inChild(
      async ({ factory, attempt, args }) => {
        const api = factory({ heapdumpOnOOM: false })
        return attempt(() => api.createHeapSnapshot(`${args.tooDeep}/s`))
      },
      { args: { tooDeep } },
    )
    rejects(capture, /^argument `path`: folder ".*" is longer than PATH_MAX \(4096 bytes\)$/)
  } finally {
    execFileSync('rm', ['-rf', base])
  }
})

test('path: a lone surrogate is refused, not turned into U+FFFD', async () => {
  const dir = tmpdir('surrogate')
  const outcome = await inChild(({ factory, attempt, args }) => attempt(() => factory({ path: `${args.dir}/a\uD800b` }).options), { args: { dir } })
  rejects(outcome, /^option `path` contains a lone surrogate \(U\+D800\.\.U\+DFFF\), which no file name can hold, got ".*a\\u\{d800\}b"$/)
  const capture = await inChild(
    async ({ factory, attempt, args }) => {
      const api = factory({ heapdumpOnOOM: false })
      return attempt(() => api.createCpuProfile(`${args.dir}/\uDC00p`, 10))
    },
    { args: { dir } },
  )
  rejects(capture, /^argument `path` contains a lone surrogate \(U\+D800\.\.U\+DFFF\), which no file name can hold/)
  assert.deepEqual(ls(dir), [])
})

test('the module loads in a working directory it cannot write; captures there reject, elsewhere work', async (t) => {
  if (process.getuid() !== 0) return skipOrFail(t, 'needs root to run a child as nobody')
  const nobody = rootForNobody(t)
  if (!nobody) return
  const { ro, rw } = folders('cwd')
  const out = await inChild(
    async ({ factory, attempt, args }) => {
      const loaded = await attempt(() => factory({ heapdumpOnOOM: false }).options)
      const api = factory()
      return {
        loaded,
        snapshot: await attempt(() => api.createHeapSnapshot()),
        profile: await attempt(() => api.createCpuProfile(undefined, 10)),
        elsewhere: await attempt(() => api.createCpuProfile(`${args.rw}/p`, 10)),
      }
    },
    { cwd: ro, nobody, args: { rw } },
  )
  assert.equal(out.loaded.ok, true, out.loaded.message)
  assert.equal(out.loaded.value.heapdumpOnOOM, false)
  for (const r of [out.snapshot, out.profile]) {
    rejects(
      r,
      new RegExp(
        `^argument \`path\` not given, and its default folder ${JSON.stringify(ro).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\(the working directory\\) is not writable; give a path in a writable folder$`,
      ),
    )
  }
  assert.equal(out.elsewhere.ok, true, out.elsewhere.message)
  assert.deepEqual(ls(ro), [])
  assert.deepEqual(ls(rw), ['p.cpuprofile'])
  // With heapdumpOnOOM (the default) the OOM files would go there: the app starts all the same
  // (the original did), and the OOM path says why it cannot write there.
  const installed = await factoryOutcome(undefined, { cwd: ro, nobody })
  assert.equal(installed.ok, true, installed.message)
  assert.equal(installed.value.path.startsWith(`${ro}/OoM-pid-`), true, installed.value.path)
})

test('URL and Buffer paths are taken as fs takes them, for every function that takes a path', async () => {
  const dir = tmpdir('url')
  const cwd = tmpdir('url-cwd')
  const out = await inChild(
    async ({ factory, attempt, args, url }) => {
      const file = (name) => url.pathToFileURL(`${args.dir}/${name}`)
      const api = factory(file('oom'))
      const snapshot = await attempt(() => api.createHeapSnapshot(file('s'), {}))
      const buffer = await attempt(() => api.createHeapSnapshot(Buffer.from(`${args.dir}/b`)))
      const profile = await attempt(() => api.createCpuProfile(file('p'), 10))
      const analysis = await attempt(async () => (await factory.analyzeHeapSnapshot(file('s.heapsnapshot'), { top: 1 })).nodeCount > 0)
      return {
        options: api.options.path,
        snapshot,
        buffer,
        profile,
        analysis,
        deleteUrl: await attempt(() => api.deleteHeapSnapshot(file('s.heapsnapshot'))),
        deleteBuffer: await attempt(() => api.deleteCpuProfile(Buffer.from(`${args.dir}/p.cpuprofile`))),
        http: await attempt(() => api.createHeapSnapshot(new URL('http://example.com/x'))),
        badUtf8: await attempt(() => api.createHeapSnapshot(Buffer.from([0x2f, 0x74, 0xff, 0x78]))),
        deleteHttp: await attempt(() => api.deleteHeapSnapshot(new URL('https://example.com/b.heapsnapshot'))),
        analyzeHttp: await attempt(() => factory.analyzeHeapSnapshot(new URL('http://example.com/x.heapsnapshot'))),
      }
    },
    { cwd, args: { dir } },
  )
  assert.equal(out.options, path.join(dir, 'oom.heapsnapshot'))
  assert.deepEqual(out.snapshot, { ok: true, value: path.join(dir, 's.heapsnapshot') })
  assert.deepEqual(out.buffer, { ok: true, value: path.join(dir, 'b.heapsnapshot') })
  assert.deepEqual(out.profile, { ok: true, value: path.join(dir, 'p.cpuprofile') })
  assert.deepEqual(out.analysis, { ok: true, value: true })
  assert.deepEqual(out.deleteUrl, { ok: true, value: path.join(dir, 's.heapsnapshot') })
  assert.deepEqual(out.deleteBuffer, { ok: true, value: path.join(dir, 'p.cpuprofile') })
  rejects(out.http, /^argument `path` must be a string, a Buffer or a file: URL, got the URL "http:\/\/example\.com\/x"$/)
  rejects(out.badUtf8, /^argument `path` is a Buffer that is not valid UTF-8 \(paths are read as UTF-8 text\), got <Buffer 2f 74 ff 78>$/)
  rejects(out.deleteHttp, /^argument `path` must be a string, a Buffer or a file: URL, got the URL "https:\/\/example\.com\/b\.heapsnapshot"$/)
  rejects(out.analyzeHttp, /^argument `path` must be a string, a Buffer or a file: URL, got the URL "http:/)
  assert.deepEqual(ls(dir), ['b.heapsnapshot'])
  assert.deepEqual(ls(cwd), [], 'nothing lands in the working directory')
  const fromOption = await inChild(({ factory, args, url }) => Promise.resolve(factory({ path: url.pathToFileURL(`${args.dir}/o`) }).options.path), { args: { dir } })
  assert.equal(fromOption, path.join(dir, 'o.heapsnapshot'))
  rejects(await inChild(({ factory, attempt }) => attempt(() => factory({ path: new URL('ftp://x/y') })), {}), /^option `path` must be a string, a Buffer or a file: URL, got the URL "ftp:\/\/x\/y"$/)
})

test('delete checks the file, not the path: a swapped folder, a file written since, a directory', async () => {
  const dir = tmpdir('identity')
  const out = await inChild(
    async ({ factory, attempt, args, fs }) => {
      const api = factory({ heapdumpOnOOM: false })
      const d = `${args.dir}/d`
      const elsewhere = `${args.dir}/elsewhere`
      fs.mkdirSync(d)
      fs.mkdirSync(elsewhere)
      const a = await api.createHeapSnapshot(`${d}/a`)
      // The folder swapped for a symlink to a folder holding a file of the same name.
      fs.renameSync(d, `${args.dir}/d-moved`)
      fs.symlinkSync(elsewhere, d)
      fs.writeFileSync(`${elsewhere}/a.heapsnapshot`, 'not ours')
      const swapped = await attempt(() => api.deleteHeapSnapshot(a))
      // Our file removed and another written under its name since.
      const b = await api.createHeapSnapshot(`${args.dir}/b`)
      fs.rmSync(b)
      fs.writeFileSync(b, 'written since')
      const rewritten = await attempt(() => api.deleteHeapSnapshot(b))
      // A directory where one of ours was: deleteAll skips it and deletes the others.
      const x = await api.createHeapSnapshot(`${args.dir}/x`)
      const y = await api.createHeapSnapshot(`${args.dir}/y`)
      fs.rmSync(x)
      fs.mkdirSync(x)
      const all = await attempt(() => api.deleteAllHeapSnapshots())
      return { swapped, rewritten, all }
    },
    { args: { dir } },
  )
  const replaced = /^File not found: ".*" is not a file created by this instance \(it was replaced since\)$/
  for (const r of [out.swapped, out.rewritten]) {
    assert.equal(r.ok, false, JSON.stringify(r))
    assert.match(r.message, replaced)
  }
  assert.deepEqual(out.all, { ok: true })
  assert.equal(fs.readFileSync(path.join(dir, 'elsewhere', 'a.heapsnapshot'), 'utf8'), 'not ours')
  assert.equal(fs.readFileSync(path.join(dir, 'b.heapsnapshot'), 'utf8'), 'written since')
  assert.ok(fs.statSync(path.join(dir, 'x.heapsnapshot')).isDirectory())
  assert.deepEqual(ls(dir), ['b.heapsnapshot', 'd', 'd-moved', 'elsewhere', 'x.heapsnapshot'], 'y was deleted, a stays in d-moved')
  assert.deepEqual(ls(path.join(dir, 'd-moved')), ['a.heapsnapshot'])
})

test('delete: a file put in the place of ours the moment it landed, before our JS looked, is not taken for ours', async () => {
  const dir = tmpdir('planted')
  let out = await inChild(
    async ({ factory, attempt, args, fs }) => {
      require('node:inspector').open(0, '127.0.0.1')
      const api = factory({ heapdumpOnOOM: false })
      // Another process wins the race: the first time anything looks at a capture's final name,
      // it has already replaced our file there with its own.
      const lstat = fs.lstatSync
      const planted = new Set()
      fs.lstatSync = (file, ...rest) => {
        if (/\.(heapsnapshot|cpuprofile)$/.test(file) && !planted.has(file)) {
          planted.add(file)
          fs.rmSync(file)
          fs.writeFileSync(file, 'planted')
        }
        return lstat(file, ...rest)
      }
      const results = []
      for (const [make, del] of [
        [() => api.createHeapSnapshot(`${args.dir}/in-process`, { transport: 'in-process' }), 'deleteHeapSnapshot'],
        [() => api.createHeapSnapshot(`${args.dir}/devtools`, { transport: 'devtools' }), 'deleteHeapSnapshot'],
        [() => api.createCpuProfile(`${args.dir}/profile`, 50), 'deleteCpuProfile'],
        [() => api.createCpuProfile(`${args.dir}/profile-in-process`, 50, { transport: 'in-process' }), 'deleteCpuProfile'],
      ]) {
        const file = await make()
        results.push({ transport: api.lastCapture.transport, deleted: await attempt(() => api[del](file)) })
      }
      // Nobody in the way: each is deleted (the identity recorded is the one read at delete).
      fs.lstatSync = lstat
      const control = []
      for (const transport of ['in-process', 'devtools']) {
        const snapshot = await api.createHeapSnapshot(`${args.dir}/control-${transport}`, { transport })
        const profile = await api.createCpuProfile(`${args.dir}/control-${transport}`, 50, { transport })
        control.push(await attempt(() => api.deleteHeapSnapshot(snapshot)), await attempt(() => api.deleteCpuProfile(profile)))
      }
      return { results, control }
    },
    { args: { dir } },
  )
  for (const r of out.control) assert.equal(r.ok, true, JSON.stringify(r))
  out = out.results
  assert.deepEqual(
    out.map((r) => r.transport),
    ['in-process', 'devtools', 'devtools', 'in-process'],
  )
  for (const r of out) {
    assert.equal(r.deleted.ok, false, JSON.stringify(r))
    assert.match(r.deleted.message, /^File not found: ".*" is not a file created by this instance \(it was replaced since\)$/)
  }
  assert.deepEqual(ls(dir), ['devtools.heapsnapshot', 'in-process.heapsnapshot', 'profile-in-process.cpuprofile', 'profile.cpuprofile'])
  for (const f of ls(dir)) assert.equal(fs.readFileSync(path.join(dir, f), 'utf8'), 'planted', f)
})
