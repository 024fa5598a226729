// Paths and temporary folders shared by the tests (__test__/) and the benchmarks (bench/).
'use strict'
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

/** The package's root folder. */
const root = path.resolve(__dirname, '..')

/** The leaking app (support/fixtures/leak.js) that the OOM tests and benchmarks run out of memory. */
const leakApp = path.join(__dirname, 'fixtures', 'leak.js')

const made = []

/**
 * A new temporary folder, os.tmpdir()/ohd-TAG-XXXXXX. The folders made here are removed when the
 * process exits with status 0; they stay for a look after a failure, or always with OHD_KEEP_TMP=1.
 */
function tmpdir(tag) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `ohd-${tag}-`))
  if (made.length === 0) process.on('exit', removeMade)
  made.push(dir)
  return dir
}

function removeMade(code) {
  if (code !== 0 || process.env.OHD_KEEP_TMP === '1') return
  for (const dir of made) {
    try {
      fs.rmSync(dir, { recursive: true, force: true, maxRetries: 2 })
    } catch (e) {
      console.error(`could not remove ${dir}: ${e.message}`)
    }
  }
}

module.exports = { root, leakApp, tmpdir }
