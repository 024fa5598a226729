#!/usr/bin/env node
// `npx node-oom-heapdump <command> ...`: runs the command line built on install
// (native/node-oom-heapdump, crates/cli) with the same arguments and exit status. SIGINT, SIGTERM
// and SIGHUP sent to this process go on to it (`timeout`, `kill`, a stopped unit reach only this
// one): a capture it interrupts cleans up after itself, where killing only this process would
// leave it running unseen.
'use strict'

const { spawn } = require('node:child_process')
const path = require('node:path')

// native/ (a local build) first, else the platform package (native.js).
const binary = require('../native.js').executable('node-oom-heapdump') ?? path.join(__dirname, '..', 'native', 'node-oom-heapdump')
const child = spawn(binary, process.argv.slice(2), { stdio: 'inherit' })
const forwarded = ['SIGINT', 'SIGTERM', 'SIGHUP']
for (const signal of forwarded) process.on(signal, () => child.kill(signal))
child.on('error', (err) => {
  console.error(`node-oom-heapdump: cannot run ${binary} (${err.message}); it is built when the package is installed (npm install).`)
  process.exit(2)
})
child.on('exit', (status, signal) => {
  if (signal) {
    for (const s of forwarded) process.removeAllListeners(s)
    process.kill(process.pid, signal)
  }
  process.exit(status ?? 2)
})
