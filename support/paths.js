// Paths and temporary folders shared by the tests (__test__/) and the benchmarks (bench/).
'use strict'
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

/** The package's root folder. */
const root = path.resolve(__dirname, '..')

/** The leaking app (support/fixtures/leak.js) that the OOM tests and benchmarks run out of memory. */
const leakApp = path.join(__dirname, 'fixtures', 'leak.js')

/** A new temporary folder, os.tmpdir()/ohd-TAG-XXXXXX. */
function tmpdir(tag) {
  return fs.mkdtempSync(path.join(os.tmpdir(), `ohd-${tag}-`))
}

module.exports = { root, leakApp, tmpdir }
