#!/usr/bin/env node
// Benchmark of the upload (issue 15): the helper uploading an OOM's snapshot to a local
// S3-compatible server (s3s-fs on loopback, support/s3.js) against `aws s3 cp` of the same file
// (awscli, `pip install awscli`), side by side in one run; and the helper's peak RSS while
// uploading (VmHWM polled every 5 ms), for snapshots of two sizes: it should be a few multipart
// buffers, whatever the file's size.
//
// The helper is driven as the addon drives it after an OOM: started with --dir/--stem/--upload, sent
// the export message listing the snapshot, then its stdin is closed (the app "exited"), and it
// uploads. The snapshots are real ones, written by the leaking app at OOM (heap limits --heap-mb).
//
//   node bench/upload.js [--heap-mb 48,230]
'use strict'
const { spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { root, leakApp, tmpdir } = require('../support/paths.js')
const { mb, watchPeakRss } = require('../support/stats.js')
const { s3sFs, startS3 } = require('../support/s3.js')

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name)
  return i > 0 ? process.argv[i + 1] : dflt
}
const heaps = arg('--heap-mb', '48,230').split(',').map(Number)
const helperExe = path.join(root, 'native', 'oom-heapdump-helper')

/** A real snapshot: the leaking app's OOM under `heapMb`, in `dir`/crash.heapsnapshot. */
function snapshot(dir, heapMb) {
  const env = { ...process.env, OHD_OPTIONS: JSON.stringify({ path: path.join(dir, 'crash'), analyzeOnOOM: false, heapProfile: false }) }
  spawnSync(process.execPath, [`--max-old-space-size=${heapMb}`, leakApp], { env, stdio: 'ignore' })
  const file = path.join(dir, 'crash.heapsnapshot')
  if (!fs.existsSync(file)) throw new Error(`no snapshot with a ${heapMb} MB heap`)
  return file
}

/** The export message of the helper's pipe protocol (crates/capture/src/protocol.rs). */
function exportFrame(files) {
  const u32 = (n) => {
    const b = Buffer.alloc(4)
    b.writeUInt32LE(n)
    return b
  }
  const reason = Buffer.from('bench')
  const parts = [Buffer.from('OHDX'), u32(reason.length), reason, u32(files.length)]
  for (const f of files) parts.push(u32(Buffer.byteLength(f)), Buffer.from(f))
  return Buffer.concat(parts)
}

/** Time and peak RSS of `exe args`, until it exits; throws on failure. */
function timed(exe, args, { env, input }) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint()
    const child = spawn(exe, args, { env: { ...process.env, ...env }, stdio: ['pipe', 'ignore', 'pipe'] })
    const peaks = watchPeakRss(child.pid, 5)
    let stderr = ''
    child.stderr.on('data', (d) => (stderr += d))
    if (input) child.stdin.write(input)
    child.stdin.end()
    child.on('exit', (code) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9
      const { own } = peaks.stop()
      if (code !== 0) reject(new Error(`${path.basename(exe)} exited with ${code}: ${stderr}`))
      else resolve({ seconds, peak: own, stderr })
    })
  })
}

async function ours(server, file, compression) {
  const args = ['--dir', path.dirname(file), '--stem', 'crash', '--upload', `s3://bench/ours-${compression}`, '--upload-compression', compression]
  const r = await timed(helperExe, args, { env: server.env, input: exportFrame([file]) })
  // The upload alone, as the helper timed it (its start-up is a few ms).
  const m = /upload: done: 1 object\(s\), (\d+) bytes, .* in ([\d.]+) s/.exec(r.stderr)
  if (!m) throw new Error(`no upload line: ${r.stderr}`)
  return { ...r, objectBytes: Number(m[1]) }
}

async function awsCp(server, file) {
  const r = await timed('aws', ['s3', 'cp', '--only-show-errors', file, `s3://bench/aws/${path.basename(file)}`], {
    env: { ...server.env, AWS_DEFAULT_REGION: 'us-east-1' },
  })
  return r
}

async function main() {
  if (!s3sFs()) throw new Error('s3s-fs is not installed: cargo install s3s-fs --version ~0.14 --locked --features binary')
  const awsOk = spawnSync('aws', ['--version']).status === 0
  const store = tmpdir('bench-s3')
  const server = await startS3({ root: store, buckets: ['bench'] })
  const rows = []
  try {
    for (const heapMb of heaps) {
      const dir = tmpdir('bench-upload')
      const file = snapshot(dir, heapMb)
      const size = fs.statSync(file).size
      const runs = [
        ['helper (none)', () => ours(server, file, 'none')],
        ['helper (gzip)', () => ours(server, file, 'gzip')],
      ]
      if (awsOk) runs.push(['aws s3 cp', () => awsCp(server, file)])
      for (const [name, run] of runs) {
        const r = await run()
        rows.push({
          snapshot: mb(size),
          uploader: name,
          seconds: r.seconds.toFixed(2),
          'MB/s': (size / 1e6 / r.seconds).toFixed(0),
          'peak RSS': mb(r.peak),
          object: r.objectBytes ? mb(r.objectBytes) : mb(size),
        })
      }
      // The plain object is the file, byte for byte.
      const obj = server.objects('bench')
      const key = Object.keys(obj).find((k) => k.startsWith('ours-none/') && k.endsWith('/crash.heapsnapshot') && fs.statSync(obj[k]).size === size)
      if (!key || !fs.readFileSync(obj[key]).equals(fs.readFileSync(file))) throw new Error('the uploaded object differs from the file')
      for (const k of Object.keys(obj)) fs.rmSync(obj[k])
      fs.rmSync(dir, { recursive: true, force: true })
    }
  } finally {
    await server.stop()
    fs.rmSync(store, { recursive: true, force: true })
  }
  console.table(rows)
  if (!awsOk) console.log('aws (pip install awscli) is not installed: no comparison')
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
