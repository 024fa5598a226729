// node-oom-heapdump/register: switches the OOM hook on without touching the app.
//
//   node -r node-oom-heapdump/register app.js
//   NODE_OPTIONS="--require node-oom-heapdump/register" node app.js   (child processes and cluster
//                                                                       workers inherit it)
//   node --import node-oom-heapdump/register app.mjs
//
// Options come from NODE_OOM_HEAPDUMP_* environment variables, one per option (README, Options).
// A bad value is reported on stderr, naming the variable and the value, and nothing is installed,
// but the app starts anyway: diagnostics must not take production down. NODE_OOM_HEAPDUMP_STRICT=1
// makes it fatal instead. A later require('node-oom-heapdump')(...) returns this same instance.
'use strict'

const { fromEnvironment } = require('./index.js')

try {
  fromEnvironment()
} catch (err) {
  if (process.env.NODE_OOM_HEAPDUMP_STRICT === '1') throw err
  process.stderr.write(`node-oom-heapdump: ${err.message}; nothing installed, the app starts without the OOM hook (NODE_OOM_HEAPDUMP_STRICT=1 makes this fatal)\n`)
}
