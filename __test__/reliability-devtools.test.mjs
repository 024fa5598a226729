// Reliability of the DevTools path and of the load-time inspector check (issue 10): hostile peers
// on 127.0.0.1 (real servers started here, bounded in time, closing by themselves), an inspector on
// the IPv6 loopback, an onProgress that throws, and a tight pids.max.
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import path from 'node:path'
import { test } from 'node:test'
import { tmpdir } from '../support/paths.js'
import { start } from '../support/child.js'
import { createPidsCgroup } from '../support/cgroup.js'
import { fixture, ls, readSnapshot, skipOrFail } from './helpers.mjs'

const app = fixture('reliability-app.js')

/** Runs the app; kills it after `killAfterMs` (a hang is a failure, never a stuck test). */
async function runApp({ nodeArgs = [], options, ops = [], env = {}, killAfterMs = 30_000, command, onChild } = {}) {
  const e = { ...env, OHD_OPS: JSON.stringify(ops) }
  if (options) e.OHD_OPTIONS = JSON.stringify(options)
  const started = Date.now()
  const child = start([...nodeArgs, app], { env: e, command })
  const killer = setTimeout(() => child.kill('SIGKILL'), killAfterMs)
  if (onChild) await onChild(child)
  const r = await child.done
  clearTimeout(killer)
  const lines = r.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
  const results = lines.filter((l) => 'ok' in l)
  const done = lines.find((l) => l.done)
  return { ...r, results, done, ms: Date.now() - started }
}

/** An HTTP server on 127.0.0.1:0 that closes itself (and every connection) after `lifetimeMs`. */
async function hostileServer(t, handle, { lifetimeMs = 60_000, onUpgrade } = {}) {
  const sockets = new Set()
  const server = http.createServer(handle)
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  if (onUpgrade) server.on('upgrade', onUpgrade)
  server.listen(0, '127.0.0.1')
  await new Promise((r) => server.once('listening', r))
  const stop = () => {
    server.close()
    for (const s of sockets) s.destroy()
  }
  const timer = setTimeout(stop, lifetimeMs)
  timer.unref()
  t.after(() => {
    clearTimeout(timer)
    stop()
  })
  return server.address().port
}

// 3: the load-time check must not read an unbounded /json/list body.
test('load check: an endless /json/list body keeps peak RSS small, and the app runs on', async (t) => {
  const sent = { bytes: 0 }
  const limit = 768 << 20 // the peer stops by itself after this much
  const port = await hostileServer(t, (req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.write('[{"id":"')
    const block = Buffer.alloc(1 << 20, 'a')
    const pump = () => {
      while (sent.bytes < limit) {
        sent.bytes += block.length
        if (!res.write(block)) return res.once('drain', pump)
      }
      res.end('"}]')
    }
    res.on('close', () => (sent.bytes = limit))
    pump()
  })
  const r = await runApp({ options: { heapdumpOnOOM: false, port }, env: { OHD_WAIT_MS: '2000' } })
  assert.equal(r.code, 0, r.stderr)
  assert.ok(r.done, r.stdout)
  assert.ok(r.done.vmHWMKb < 150 * 1024, `peak RSS ${r.done.vmHWMKb} kB (the peer sent ${sent.bytes >> 20} MiB)`)
  assert.equal(r.stderr.match(/node-oom-heapdump: no DevTools inspector answers on 127\.0\.0\.1:\d+/g)?.length, 1, r.stderr)
})

// Whatever listens on the port must not send the check anywhere else: a redirect is not followed
// (another loopback server stands for the place it names: a metadata endpoint, another host).
test('load check: a redirect from /json/list is not followed', async (t) => {
  const visits = []
  const elsewhere = await hostileServer(t, (req, res) => {
    visits.push(req.url)
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end('[]')
  })
  const port = await hostileServer(t, (req, res) => {
    res.writeHead(302, { location: `http://127.0.0.1:${elsewhere}/latest/meta-data/` })
    res.end()
  })
  const r = await runApp({ options: { heapdumpOnOOM: false, port }, env: { OHD_WAIT_MS: '300' } })
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(visits, [], 'nothing reached the place the redirect named')
  assert.match(r.stderr, /no DevTools inspector answers on 127\.0\.0\.1:\d+/)
})

// 9: the load-time check must never hold the event loop: a silent listener on the port.
test('load check: a silent TCP listener on the port does not delay the exit', async (t) => {
  const sockets = new Set()
  const server = net.createServer((s) => sockets.add(s)).listen(0, '127.0.0.1')
  await new Promise((r) => server.once('listening', r))
  t.after(() => {
    server.close()
    for (const s of sockets) s.destroy()
  })
  const r = await runApp({ options: { heapdumpOnOOM: false, port: server.address().port }, env: { OHD_WAIT_MS: '300' } })
  assert.equal(r.code, 0, r.stderr)
  assert.ok(r.done, r.stdout)
  // The app's last timer fires at 300 ms; node starts in well under a second. The bug held it 10 s.
  assert.ok(r.ms < 3000, `the app took ${r.ms} ms to exit`)
})

function acceptUpgrade(req, socket) {
  const accept = crypto
    .createHash('sha1')
    .update(req.headers['sec-websocket-key'] + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11')
    .digest('base64')
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`)
  // ...and then never a word.
}

/** Accepts the websocket, then sends an event every 500 ms (never an answer) until the socket closes. */
function acceptAndChatter(req, socket) {
  acceptUpgrade(req, socket)
  const event = Buffer.from(JSON.stringify({ method: 'Runtime.consoleAPICalled', params: { type: 'log', args: [] } }))
  // A server's text frame, unmasked, with a payload under 126 bytes.
  const frame = Buffer.concat([Buffer.from([0x81, event.length]), event])
  const timer = setInterval(() => socket.write(frame), 500)
  socket.on('close', () => clearInterval(timer))
  socket.on('error', () => clearInterval(timer))
}

// 9: a DevTools peer that lists this process's target, accepts the websocket, and never answers;
// also one that keeps sending events meanwhile, which must not keep the command pending.
for (const [what, onUpgrade, expected] of [
  ['never answers the websocket handshake', () => {}, /did not answer the websocket handshake within 5 s$/],
  ['accepts the websocket and never answers a command', acceptUpgrade, /did not answer HeapProfiler\.enable within 10 s$/],
  ['sends events every 500 ms and never answers a command', acceptAndChatter, /did not answer HeapProfiler\.enable within 10 s$/],
]) {
  test(`devtools: a peer that ${what}: the capture rejects within the limit, and a later capture works`, { timeout: 60_000 }, async (t) => {
    const ids = []
    const port = await hostileServer(
      t,
      (req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify(ids.map((id) => ({ id }))))
      },
      { onUpgrade: (req, socket) => (ids.length ? onUpgrade(req, socket) : socket.destroy()) },
    )
    const dir = tmpdir('silent-peer')
    // The app's own inspector is real (--inspect); its url() points at the peer until restored.
    const r = await runApp({
      nodeArgs: ['--inspect=127.0.0.1:0'],
      env: { OHD_FAKE_INSPECTOR_PORT: String(port) },
      options: { heapdumpOnOOM: false },
      ops: [
        { fn: 'createHeapSnapshot', args: [path.join(dir, 'a'), { transport: 'devtools' }] },
        { fn: 'restoreInspectorUrl' },
        { fn: 'createHeapSnapshot', args: [path.join(dir, 'b'), { transport: 'devtools' }] },
      ],
      killAfterMs: 45_000,
      onChild: async (child) => {
        // The peer lists whatever target id the app has (its real one, forged into url()).
        const m = await new Promise((resolve) => {
          let err = ''
          child.stderr.on('data', (d) => {
            err += d
            const found = err.match(/ws:\/\/127\.0\.0\.1:\d+\/([\w-]+)/)
            if (found) resolve(found)
          })
          child.on('exit', () => resolve([]))
        })
        ids.push(m[1])
      },
    })
    assert.equal(r.code, 0, r.stderr)
    const [first, second] = r.results
    assert.equal(first.ok, false, JSON.stringify(first))
    assert.match(first.message, expected, first.message)
    assert.ok(first.ms < 20_000, `rejected after ${first.ms} ms`)
    assert.ok(second.ok, second.message)
    assert.equal(second.transport, 'devtools')
    assert.deepEqual(ls(dir), ['b.heapsnapshot'])
    readSnapshot(second.value)
  })
}

// 8: an inspector on the IPv6 loopback.
test('devtools: --inspect=[::1]:0: auto captures go over the inspector on the IPv6 loopback', async (t) => {
  const probe = net.createServer().listen(0, '::1')
  const ok = await new Promise((r) => {
    probe.once('listening', () => r(true))
    probe.once('error', () => r(false))
  })
  probe.close()
  if (!ok) return skipOrFail(t, 'no IPv6 loopback (::1) here')
  const dir = tmpdir('ipv6')
  const r = await runApp({
    nodeArgs: ['--inspect=[::1]:0'],
    options: { heapdumpOnOOM: false },
    ops: [{ fn: 'createHeapSnapshot', args: [path.join(dir, 's'), '$progress'] }],
  })
  assert.equal(r.code, 0, r.stderr)
  const [s] = r.results
  assert.ok(s.ok, s.message)
  assert.equal(s.transport, 'devtools')
  assert.ok(r.done.progressCalls > 0)
  assert.doesNotMatch(r.stderr, /node-oom-heapdump:/, 'no warning: the inspector answers on [::1]')
  readSnapshot(s.value)
})

// 10: an onProgress that throws.
for (const [transport, nodeArgs] of [
  ['devtools', ['--inspect=127.0.0.1:0']],
  ['in-process', []],
]) {
  test(`${transport}: an onProgress that throws rejects with its error, leaves no file, and the next capture works`, async () => {
    const dir = tmpdir(`progress-throws-${transport}`)
    const r = await runApp({
      nodeArgs,
      options: { heapdumpOnOOM: false },
      ops: [
        { fn: 'createHeapSnapshot', args: [path.join(dir, 'a'), '$throwingProgress'] },
        { fn: 'createHeapSnapshot', args: [path.join(dir, 'b')] },
      ],
    })
    assert.equal(r.code, 0, r.stderr)
    const [first, second] = r.results
    assert.equal(first.ok, false, JSON.stringify(first))
    assert.equal(first.message, 'boom from onProgress')
    assert.equal(r.done.progressCalls, 1, 'the callback is not called again once it threw')
    assert.ok(second.ok, second.message)
    assert.equal(second.transport, transport)
    assert.deepEqual(ls(dir), ['b.heapsnapshot'])
  })
}

// 16: no thread before it is needed, and a thread that cannot start is an error, never an abort.
test('pids.max: the module loads with no thread to spare, captures reject clearly, then work once threads can start', { timeout: 60_000 }, async (t) => {
  const cg = createPidsCgroup()
  if (cg.reason) return skipOrFail(t, cg.reason)
  t.after(() => cg.remove())
  const dir = tmpdir('pids')
  const r = await runApp({
    command: cg.command,
    nodeArgs: ['--inspect=127.0.0.1:0'],
    env: { OHD_GO_ON_STDIN: '1', NODE_DEBUG: 'node-oom-heapdump' },
    options: { heapdumpOnOOM: false },
    ops: [
      { fn: 'createHeapSnapshot', args: [path.join(dir, 'a'), { transport: 'devtools' }] },
      { fn: 'waitForStdin' },
      { fn: 'createHeapSnapshot', args: [path.join(dir, 'b'), { transport: 'devtools' }] },
    ],
    onChild: async (child) => {
      await child.firstLine
      // Node has started (its own threads included): from now on not one more task.
      cg.setMax(cg.current())
      child.stdin.write('go\n')
      await new Promise((resolve) => {
        child.stdout.on('data', (d) => /"waiting":true/.test(String(d)) && resolve())
        child.on('exit', resolve)
      })
      cg.setMax('max')
      child.stdin.write('go\n')
    },
  })
  assert.equal(r.signal, null, `the app died of ${r.signal}: ${r.stderr}`)
  assert.equal(r.code, 0, r.stderr)
  const [first, second] = r.results
  assert.equal(first.ok, false, JSON.stringify(first))
  assert.match(first.message, /^cannot start a thread for the capture: .*pids\.max/, first.message)
  assert.match(r.stderr, /NODE-OOM-HEAPDUMP \d+: inspector check skipped: cannot start a thread/, r.stderr)
  assert.ok(second.ok, second.message)
  assert.deepEqual(ls(dir), ['b.heapsnapshot'])
})
