// An S3-compatible server on loopback for the upload tests and benchmark: s3s-fs (crates.io,
// installed by .ci/run with `cargo install s3s-fs --version '~0.14' --locked --features binary`),
// which keeps each object as the file <root>/<bucket>/<key>. And a TCP proxy in front of it that can
// cut the server off after so many bytes, for "the server died mid-upload".
'use strict'
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')
const { spawn } = require('node:child_process')

const ACCESS_KEY = 'ohd-test-access'
const SECRET_KEY = 'ohd-test-secret'

/** The s3s-fs executable, on PATH or in ~/.cargo/bin; null when it is not installed. */
function s3sFs() {
  const dirs = [...(process.env.PATH || '').split(':'), path.join(os.homedir(), '.cargo', 'bin')]
  for (const d of dirs) {
    const exe = path.join(d, 's3s-fs')
    try {
      fs.accessSync(exe, fs.constants.X_OK)
      return exe
    } catch {}
  }
  return null
}

/** A free TCP port on 127.0.0.1. */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

/** Resolves once 127.0.0.1:`port` accepts a connection; rejects after `ms`. */
async function waitForPort(port, ms) {
  const end = Date.now() + ms
  for (;;) {
    const ok = await new Promise((resolve) => {
      const c = net.connect(port, '127.0.0.1', () => {
        c.destroy()
        resolve(true)
      })
      c.once('error', () => resolve(false))
    })
    if (ok) return
    if (Date.now() > end) throw new Error(`nothing listens on port ${port} after ${ms} ms`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/**
 * Starts s3s-fs on `root` (created, with folders for `buckets`) on a free port. Returns { port,
 * endpoint, env (the AWS variables for it), objects(bucket) (key -> file, what the server holds),
 * stop() }.
 */
async function startS3({ root, buckets = ['dumps'], port } = {}) {
  const exe = s3sFs()
  if (!exe) throw new Error('s3s-fs is not installed')
  for (const b of buckets) fs.mkdirSync(path.join(root, b), { recursive: true })
  port = port || (await freePort())
  const child = spawn(exe, ['--host', '127.0.0.1', '--port', String(port), '--access-key', ACCESS_KEY, '--secret-key', SECRET_KEY, root], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr.on('data', (d) => (stderr += d))
  const exited = new Promise((resolve) => child.on('exit', resolve))
  try {
    await waitForPort(port, 10000)
  } catch (e) {
    child.kill('SIGKILL')
    throw new Error(`${e.message}; s3s-fs said: ${stderr}`)
  }
  const endpoint = `http://127.0.0.1:${port}`
  return {
    port,
    endpoint,
    child,
    env: env(endpoint),
    objects: (bucket) => objects(path.join(root, bucket)),
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      await exited
    },
  }
}

/** The AWS variables that point a client at `endpoint` with the server's keys. */
function env(endpoint) {
  return { AWS_ACCESS_KEY_ID: ACCESS_KEY, AWS_SECRET_ACCESS_KEY: SECRET_KEY, AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL: endpoint }
}

/** key -> file of every object under a bucket's folder (s3s-fs keeps its own files outside it). */
function objects(dir) {
  const out = {}
  const walk = (d, prefix) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const key = prefix ? `${prefix}/${e.name}` : e.name
      if (e.isDirectory()) walk(path.join(d, e.name), key)
      else out[key] = path.join(d, e.name)
    }
  }
  if (fs.existsSync(dir)) walk(dir, '')
  return out
}

/**
 * A TCP proxy on a free port to 127.0.0.1:`target`. After `cutAfter` bytes from clients it calls
 * `onCut` (which kills the server), then drops every connection and stops listening, so that what
 * follows finds the server gone. Returns { port, endpoint, forwarded(), cut (a promise), close() }.
 */
async function startProxy({ target, cutAfter = Infinity, onCut = async () => {} }) {
  const sockets = new Set()
  let forwarded = 0
  let resolveCut
  const cut = new Promise((r) => (resolveCut = r))
  let cutting = false
  const server = net.createServer((client) => {
    const upstream = net.connect(target, '127.0.0.1')
    sockets.add(client).add(upstream)
    const drop = () => {
      client.destroy()
      upstream.destroy()
    }
    client.on('error', drop).on('close', drop)
    upstream.on('error', drop).on('close', drop)
    upstream.pipe(client)
    client.on('data', (d) => {
      if (cutting) return
      forwarded += d.length
      if (!upstream.write(d)) client.pause()
      if (forwarded >= cutAfter) {
        cutting = true
        server.close()
        Promise.resolve(onCut()).then(() => {
          for (const s of sockets) s.destroy()
          resolveCut()
        })
      }
    })
    upstream.on('drain', () => client.resume())
  })
  await new Promise((r) => server.listen(0, '127.0.0.1', r))
  const { port } = server.address()
  return {
    port,
    endpoint: `http://127.0.0.1:${port}`,
    forwarded: () => forwarded,
    cut,
    close: () => {
      for (const s of sockets) s.destroy()
      server.close()
    },
  }
}

module.exports = { s3sFs, startS3, startProxy, freePort, env, ACCESS_KEY, SECRET_KEY }
