#!/usr/bin/env node
// `npx node-oom-heapdump <command> ...`: runs the command line built on install
// (native/node-oom-heapdump, crates/cli) with the same arguments and exit status.
'use strict'

const { spawnSync } = require('node:child_process')
const path = require('node:path')

// native/ (a local build) first, else the platform package (native.js).
const binary = require('../native.js').executable('node-oom-heapdump') ?? path.join(__dirname, '..', 'native', 'node-oom-heapdump')
const run = spawnSync(binary, process.argv.slice(2), { stdio: 'inherit' })
if (run.error) {
  console.error(`node-oom-heapdump: cannot run ${binary} (${run.error.message}); it is built when the package is installed (npm install).`)
  process.exit(2)
}
if (run.signal) process.kill(process.pid, run.signal)
process.exit(run.status ?? 2)
