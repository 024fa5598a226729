// upload (issue 15): after an OOM the helper uploads the snapshot, the heap profile, the analyzer's
// summary and the report to an S3-compatible server, here s3s-fs on loopback (support/s3.js), which
// keeps each object as a file: objects are compared byte for byte with the local files, and the
// snapshot object is parsed and checked complete.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import zlib from 'node:zlib'
import { test } from 'node:test'
import { createRequire } from 'node:module'
import { leakApp, tmpdir } from '../support/paths.js'
import { start } from '../support/child.js'
import { readSnapshot, runLeak, skipOrFail, tmpfsFolder, waitFor } from './helpers.mjs'

const require = createRequire(import.meta.url)
const { s3sFs, startS3, startProxy, freePort, env: s3Env } = require('../support/s3.js')

const factory = require('../index.js')

test('a bad upload URL or compression throws InvalidArg naming the option', () => {
  for (const [options, message] of [
    [{ upload: 'https://dumps/x' }, /^option `upload` must be s3:\/\/bucket\/prefix: must start with s3:\/\/, got "https:\/\/dumps\/x"$/],
    [{ upload: 's3://Dumps' }, /^option `upload` must be s3:\/\/bucket\/prefix: bucket name "Dumps" is not a valid S3 bucket name/],
    [{ upload: 's3://dumps//x' }, /^option `upload` must be s3:\/\/bucket\/prefix: prefix "\/x" has an empty/],
    [{ upload: 3 }, /^option `upload` must be a string s3:\/\/bucket\/prefix, got 3$/],
    [{ upload: 's3://dumps', uploadCompression: 'zstd' }, /^option `uploadCompression` must be "none" or "gzip", got "zstd"$/],
  ]) {
    assert.throws(
      () => factory(options),
      (err) => {
        assert.match(err.message, message)
        assert.equal(err.code, 'InvalidArg')
        return true
      },
    )
  }
})

const NO_SERVER = 's3s-fs is not installed (cargo install s3s-fs --version ~0.14 --locked --features binary; .ci/run does)'

/** The folder's objects by file name, and the folder: `<prefix>/<host>/<time>-<pid>`. */
function oomObjects(server, bucket, prefix, pid) {
  const all = server.objects(bucket)
  const keys = Object.keys(all)
  const host = os.hostname().replace(/[^A-Za-z0-9._-]/g, '_')
  const folderRe = new RegExp(`^${prefix ? `${prefix}/` : ''}${host.replace(/\./g, '\\.')}/\\d{8}T\\d{6}Z-${pid}$`)
  const folders = [...new Set(keys.map((k) => k.slice(0, k.lastIndexOf('/'))))]
  assert.equal(folders.length, 1, `one folder: ${keys}`)
  assert.match(folders[0], folderRe)
  return { folder: folders[0], files: Object.fromEntries(keys.map((k) => [k.slice(folders[0].length + 1), all[k]])) }
}

const readReport = (file) => JSON.parse(fs.readFileSync(file, 'utf8'))

/** The pid of the OOM in the report. */
const reportPid = (dir) => readReport(path.join(dir, 'crash.oom.json')).pid

test('after an OOM the snapshot, heap profile, summary and report are uploaded, byte for byte', async (t) => {
  if (!s3sFs()) return skipOrFail(t, NO_SERVER)
  const server = await startS3({ root: tmpdir('s3-root') })
  t.after(() => server.stop())
  const dir = tmpdir('upload-oom')
  const r = await runLeak({ options: { path: path.join(dir, 'crash'), upload: 's3://dumps/prod/api' }, env: server.env })
  assert.equal(r.code, 1, r.stderr)
  assert.match(r.stderr, /export: 3 file\(s\) to upload once this process has exited, by the helper process/)
  const pid = reportPid(dir)
  const { folder, files } = oomObjects(server, 'dumps', 'prod/api', pid)
  assert.deepEqual(Object.keys(files).sort(), ['crash.heapprofile', 'crash.heapsnapshot', 'crash.oom.json', 'crash.summary.txt'])
  for (const name of ['crash.heapsnapshot', 'crash.heapprofile']) {
    assert.ok(fs.readFileSync(files[name]).equals(fs.readFileSync(path.join(dir, name))), `${name} is byte-equal`)
  }
  const snap = readSnapshot(files['crash.heapsnapshot'])
  assert.ok(fs.statSync(files['crash.heapsnapshot']).size > 8 << 20, 'the snapshot took more than one part')
  assert.ok(snap.snapshot.node_count > 0)
  // The summary is what the analyzer printed.
  const summary = fs.readFileSync(files['crash.summary.txt'], 'utf8')
  assert.ok(summary.length > 100 && r.stderr.includes(summary), summary)
  // The local report lists every object; the uploaded one, those before it.
  const local = readReport(path.join(dir, 'crash.oom.json'))
  assert.equal(local.upload.error, null)
  assert.equal(local.upload.url, 's3://dumps/prod/api')
  assert.equal(local.upload.folder, folder)
  assert.equal(local.upload.compression, 'none')
  assert.deepEqual(
    local.upload.objects.map((o) => o.key).sort(),
    Object.keys(files)
      .map((f) => `${folder}/${f}`)
      .sort(),
  )
  for (const o of local.upload.objects) assert.equal(o.objectBytes, fs.statSync(files[path.basename(o.key)]).size, o.key)
  const uploaded = readReport(files['crash.oom.json'])
  assert.deepEqual(uploaded.upload.objects, local.upload.objects.slice(0, 3))
  assert.equal(uploaded.snapshot.path, local.snapshot.path)
  assert.match(r.stderr, /node-oom-heapdump: upload: done: 4 object\(s\), \d+ bytes, to s3:\/\/dumps\/prod\/api\/.* in [\d.]+ s/)
})

test('with uploadCompression gzip every object is gzipped and gunzips to the local file', async (t) => {
  if (!s3sFs()) return skipOrFail(t, NO_SERVER)
  const server = await startS3({ root: tmpdir('s3-root') })
  t.after(() => server.stop())
  const dir = tmpdir('upload-gzip')
  const r = await runLeak({ options: { path: path.join(dir, 'crash'), upload: 's3://dumps', uploadCompression: 'gzip', analyzeOnOOM: false }, env: server.env })
  assert.equal(r.code, 1, r.stderr)
  const { files } = oomObjects(server, 'dumps', '', reportPid(dir))
  assert.deepEqual(Object.keys(files).sort(), ['crash.heapprofile.gz', 'crash.heapsnapshot.gz', 'crash.oom.json.gz'])
  const out = tmpdir('upload-gunzip')
  for (const name of ['crash.heapsnapshot', 'crash.heapprofile']) {
    const plain = zlib.gunzipSync(fs.readFileSync(files[`${name}.gz`]))
    assert.ok(plain.equals(fs.readFileSync(path.join(dir, name))), `${name}.gz gunzips to the file`)
    fs.writeFileSync(path.join(out, name), plain)
  }
  readSnapshot(path.join(out, 'crash.heapsnapshot'))
  assert.ok(fs.statSync(files['crash.heapsnapshot.gz']).size < fs.statSync(path.join(dir, 'crash.heapsnapshot')).size / 2, 'gzip shrinks a snapshot')
  const local = readReport(path.join(dir, 'crash.oom.json'))
  assert.equal(local.upload.compression, 'gzip')
  assert.equal(local.upload.error, null)
  fs.rmSync(out, { recursive: true })
})

/** The OOM's local files are all there and the snapshot complete; returns the report. */
function keptLocally(dir) {
  readSnapshot(path.join(dir, 'crash.heapsnapshot'))
  assert.ok(fs.statSync(path.join(dir, 'crash.heapprofile')).size > 0)
  return readReport(path.join(dir, 'crash.oom.json'))
}

test('with the server down from the start, the files stay and the report and stderr say why', async (t) => {
  if (!s3sFs()) return skipOrFail(t, NO_SERVER)
  const dir = tmpdir('upload-down')
  const port = await freePort()
  const r = await runLeak({ options: { path: path.join(dir, 'crash'), upload: 's3://dumps/x', analyzeOnOOM: false }, env: s3Env(`http://127.0.0.1:${port}`) })
  assert.equal(r.code, 1, r.stderr)
  const report = keptLocally(dir)
  assert.deepEqual(report.upload.objects, [])
  assert.match(report.upload.error, /^s3:\/\/dumps\/x\/[^ ]+-\d+\/: .*(connect|Connection).*\(is the server at AWS_ENDPOINT_URL up\?\)$/)
  assert.match(r.stderr, /node-oom-heapdump: upload: failed after 0 object\(s\): .*; the files stay on disk: .*crash\.heapsnapshot/)
})

test('with the server killed mid-upload no object is visible and the files stay', async (t) => {
  if (!s3sFs()) return skipOrFail(t, NO_SERVER)
  const root = tmpdir('s3-root')
  const server = await startS3({ root })
  // The server dies once 12 MiB went through: the snapshot's first part is in, its second on its way.
  const proxy = await startProxy({ target: server.port, cutAfter: 12 << 20, onCut: () => server.stop('SIGKILL') })
  t.after(() => proxy.close())
  const dir = tmpdir('upload-killed')
  const r = await runLeak({ options: { path: path.join(dir, 'crash'), upload: 's3://dumps', analyzeOnOOM: false }, env: s3Env(proxy.endpoint) })
  assert.equal(r.code, 1, r.stderr)
  await proxy.cut
  const report = keptLocally(dir)
  assert.deepEqual(report.upload.objects, [])
  assert.match(report.upload.error, /crash\.heapsnapshot/)
  assert.match(r.stderr, /node-oom-heapdump: upload: failed after 0 object\(s\)/)
  // Back up on the same data: the parts sent were never completed into an object.
  const again = await startS3({ root })
  t.after(() => again.stop())
  assert.deepEqual(again.objects('dumps'), {})
  assert.ok(
    fs.readdirSync(root).some((f) => f.startsWith('.upload_id-')),
    'a part had reached the server',
  )
})

test('wrong credentials: a clear error, and the files stay', async (t) => {
  if (!s3sFs()) return skipOrFail(t, NO_SERVER)
  const server = await startS3({ root: tmpdir('s3-root') })
  t.after(() => server.stop())
  const dir = tmpdir('upload-creds')
  const r = await runLeak({
    options: { path: path.join(dir, 'crash'), upload: 's3://dumps', analyzeOnOOM: false },
    env: { ...server.env, AWS_SECRET_ACCESS_KEY: 'not-the-secret' },
  })
  assert.equal(r.code, 1, r.stderr)
  const report = keptLocally(dir)
  assert.match(report.upload.error, /403.*\(check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN\)/)
  assert.match(r.stderr, /upload: failed after 0 object\(s\): .*check AWS_ACCESS_KEY_ID/)
  assert.deepEqual(server.objects('dumps'), {})
})

test('a bucket that does not exist: a clear error, and the files stay', async (t) => {
  if (!s3sFs()) return skipOrFail(t, NO_SERVER)
  const server = await startS3({ root: tmpdir('s3-root') })
  t.after(() => server.stop())
  const dir = tmpdir('upload-nobucket')
  const r = await runLeak({ options: { path: path.join(dir, 'crash'), upload: 's3://no-such-bucket/x', analyzeOnOOM: false }, env: server.env })
  assert.equal(r.code, 1, r.stderr)
  const report = keptLocally(dir)
  assert.match(report.upload.error, /^s3:\/\/no-such-bucket\/x\/[^ ]+-\d+\/: .*NoSuchBucket.*\(bucket "no-such-bucket" does not exist\)$/)
  assert.match(r.stderr, /upload: failed after 0 object\(s\): .*does not exist/)
})

test('on a read-only folder the snapshot streams from the app straight to a complete object', async (t) => {
  if (!s3sFs()) return skipOrFail(t, NO_SERVER)
  const dir = tmpfsFolder(t, 'upload-ro', 'ro,size=64k')
  if (!dir) return
  const server = await startS3({ root: tmpdir('s3-root') })
  t.after(() => server.stop())
  const child = start(['--max-old-space-size=32', leakApp], {
    env: { ...server.env, OHD_OPTIONS: JSON.stringify({ path: path.join(dir, 'crash'), upload: 's3://dumps/ro', analyzeOnOOM: false }) },
  })
  const r = await child.done
  assert.equal(r.code, 1, r.stderr)
  assert.deepEqual(fs.readdirSync(dir), [], 'nothing was written locally')
  assert.match(r.stderr, /upload: cannot write .*crash\.heapsnapshot \(.*\): streaming the snapshot to s3:\/\/dumps\/ro instead/)
  const { folder, files } = oomObjects(server, 'dumps', 'ro', child.pid)
  assert.deepEqual(Object.keys(files), ['crash.heapsnapshot'])
  const snap = readSnapshot(files['crash.heapsnapshot'])
  const at = `s3://dumps/${folder}/crash.heapsnapshot`
  assert.ok(r.stderr.includes(`node-oom-heapdump: wrote ${at} (`), r.stderr)
  assert.match(r.stderr, new RegExp(`${snap.snapshot.node_count} nodes, ${snap.snapshot.edge_count} edges`))
})

test('on a read-only folder, an app killed mid-stream leaves no object', async (t) => {
  if (!s3sFs()) return skipOrFail(t, NO_SERVER)
  const dir = tmpfsFolder(t, 'upload-ro-killed', 'ro,size=64k')
  if (!dir) return
  const root = tmpdir('s3-root')
  const server = await startS3({ root })
  t.after(() => server.stop())
  const child = start(['--max-old-space-size=200', leakApp], {
    env: { ...server.env, OHD_OPTIONS: JSON.stringify({ path: path.join(dir, 'crash'), upload: 's3://dumps', analyzeOnOOM: false, heapProfile: false }) },
  })
  // Killed once the first part reached the server (the multipart upload was started).
  await waitFor(() => fs.readdirSync(root).some((f) => f.startsWith('.upload_id-')), 120000, 'a part of the snapshot')
  child.kill('SIGKILL')
  const r = await child.done
  assert.equal(r.signal, 'SIGKILL', r.stderr)
  assert.match(r.stderr, /upload: the stream ended early; the upload was aborted, no object written/)
  assert.deepEqual(server.objects('dumps'), {})
})

test('a snapshot that fills the disk goes on to the bucket: what was written, then the rest of the stream, one complete object beside the other files', async (t) => {
  if (!s3sFs()) return skipOrFail(t, NO_SERVER)
  const dir = tmpfsFolder(t, 'upload-full', 'size=4m')
  if (!dir) return
  const server = await startS3({ root: tmpdir('s3-root') })
  t.after(() => server.stop())
  const r = await runLeak({ options: { path: path.join(dir, 'crash'), upload: 's3://dumps/full', analyzeOnOOM: false }, env: server.env })
  assert.equal(r.code, 1, r.stderr)
  assert.match(r.stderr, /upload: cannot write .*crash\.heapsnapshot \(cannot write .*No space left on device.*\): streaming the snapshot to s3:\/\/dumps\/full instead/)
  assert.deepEqual(fs.readdirSync(dir).sort(), ['crash.heapprofile', 'crash.oom.json'], 'no snapshot and no temporary left locally')
  const pid = reportPid(dir)
  const { folder, files } = oomObjects(server, 'dumps', 'full', pid)
  assert.deepEqual(Object.keys(files).sort(), ['crash.heapprofile', 'crash.heapsnapshot', 'crash.oom.json'])
  const snap = readSnapshot(files['crash.heapsnapshot'])
  assert.ok(fs.statSync(files['crash.heapsnapshot']).size > 4 << 20, 'more than the disk could hold')
  assert.ok(r.stderr.includes(`node-oom-heapdump: wrote s3://dumps/${folder}/crash.heapsnapshot (`), r.stderr)
  assert.match(r.stderr, new RegExp(`${snap.snapshot.node_count} nodes, ${snap.snapshot.edge_count} edges`))
  assert.ok(fs.readFileSync(files['crash.heapprofile']).equals(fs.readFileSync(path.join(dir, 'crash.heapprofile'))), 'the heap profile is byte-equal')
})
