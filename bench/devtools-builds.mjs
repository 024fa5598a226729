#!/usr/bin/env node
// Other builds of Chrome DevTools' heap snapshot model than scripts/devtools-model.mjs (the tests'
// oracle, the pinned chrome-devtools-frontend's TypeScript sources transpiled file by file), for
// bench/analyzer.js. Both come built from the npm registry:
//
//   toolkit        heap-snapshot-toolkit (Nolan Lawson, Apache-2.0): a standalone build of DevTools'
//                  heap snapshot worker. thirdparty/devtools-frontend/index.js is
//                  front_end/entrypoints/heap_snapshot_worker and models/heap_snapshot_model of
//                  devtools-frontend@138048f (July 2025) bundled by rollup into one ES module for Node
//                  and browsers (console.* calls stripped; the i18n, colour and CodeMirror modules
//                  the worker does not compute with stubbed out). Loaded as its README says:
//                  parse(fs.createReadStream(FILE, 'utf-8')), which feeds DevTools' HeapSnapshotLoader
//                  and runs the second half of the initialisation on the same thread.
//   react-native   @react-native/debugger-frontend: React Native's debugger, Meta's fork of DevTools
//                  (react-native-devtools-frontend) built by DevTools' own official build (GN,
//                  is_official_build: bundled and minified; see its BUILD_INFO), published with every
//                  React Native release. Its dist/third-party/front_end/entrypoints/heap_snapshot_worker/
//                  heap_snapshot_worker.js is the module the Memory panel's worker runs. Loaded by
//                  scripts/devtools-model.mjs's loadSnapshot (10,000,000-byte chunks, as the Memory
//                  panel reads a file), single-threaded. Stand-ins, none on a path that computes a
//                  number: `self` (the worker's global) and `location` (read by core/i18n when it is
//                  imported) on globalThis, Promise.withResolvers for Node 20, and console writing to
//                  stderr (the build keeps a console.time in the worker, which would print to stdout).
//
//   node bench/devtools-builds.mjs summary BUILD FILE.heapsnapshot
//     -> the Summary view, the same JSON as `node scripts/devtools-model.mjs summary FILE` (its
//        summarize() and format(), given BUILD's own HeapSnapshotModel.NodeFilter)
//   node bench/devtools-builds.mjs install BUILD
//     -> installs BUILD's pinned package if missing and prints its version (bench/analyzer.js runs
//        this, untimed)
//
// The packages are installed on demand from the npm registry into bench/.devtools-builds/BUILD
// (npm install --prefix).

import { execFileSync } from 'node:child_process'
import { Console } from 'node:console'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { format, loadSnapshot, summarize } from '../scripts/devtools-model.mjs'

const PREFIX = path.join(path.dirname(fileURLToPath(import.meta.url)), '.devtools-builds')

export const BUILDS = {
  toolkit: {
    pkg: 'heap-snapshot-toolkit',
    version: '1.1.3',
    async summary(dir, file) {
      const toolkit = await import(pathToFileURL(path.join(dir, 'index.js')).href)
      const snapshot = await toolkit.parse(fs.createReadStream(file, 'utf-8'))
      return summarize(snapshot, toolkit.DevToolsAPI.HeapSnapshotModel)
    },
  },
  'react-native': {
    pkg: '@react-native/debugger-frontend',
    version: '0.88.1',
    async summary(dir, file) {
      globalThis.console = new Console({ stdout: process.stderr, stderr: process.stderr })
      globalThis.self ??= globalThis
      globalThis.location ??= new URL('file:///')
      Promise.withResolvers ??= function () {
        let resolve, reject
        const promise = new this((res, rej) => {
          resolve = res
          reject = rej
        })
        return { promise, resolve, reject }
      }
      const frontEnd = path.join(dir, 'dist', 'third-party', 'front_end')
      const load = (rel) => import(pathToFileURL(path.join(frontEnd, rel)).href)
      const { HeapSnapshot, HeapSnapshotLoader } = await load('entrypoints/heap_snapshot_worker/heap_snapshot_worker.js')
      const { HeapSnapshotModel } = await load('models/heap_snapshot_model/heap_snapshot_model.js')
      return summarize(await loadSnapshot(file, { model: { HeapSnapshot, HeapSnapshotLoader } }), HeapSnapshotModel)
    },
  },
}

/** BUILD's installed package directory, installing the pinned version on demand if missing. */
function packageDir(name) {
  const { pkg, version } = BUILDS[name]
  const prefix = path.join(PREFIX, name)
  const dir = path.join(prefix, 'node_modules', pkg)
  const installed = () => {
    try {
      return JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version
    } catch {
      return null
    }
  }
  if (installed() === version) return dir
  process.stderr.write(`devtools-builds: installing ${pkg}@${version} from the npm registry into ${prefix}\n`)
  fs.mkdirSync(prefix, { recursive: true })
  fs.writeFileSync(path.join(prefix, 'package.json'), '{"private":true}\n')
  execFileSync('npm', ['install', '--prefix', prefix, '--no-save', '--no-package-lock', '--ignore-scripts', '--no-audit', '--no-fund', `${pkg}@${version}`], {
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  if (installed() !== version) throw new Error(`could not install ${pkg}@${version}`)
  return dir
}

/** The Summary view of a .heapsnapshot file, computed by BUILD's DevTools model. */
export async function summary(name, file) {
  return BUILDS[name].summary(packageDir(name), file)
}

async function main(argv) {
  const [command, name, ...files] = argv
  if (!BUILDS[name]) {
    process.stderr.write(`usage: node bench/devtools-builds.mjs summary BUILD FILE.heapsnapshot\n       node bench/devtools-builds.mjs install BUILD\nBUILD: ${Object.keys(BUILDS).join(', ')}\n`)
    process.exitCode = 2
  } else if (command === 'summary' && files.length === 1) {
    const text = format(await summary(name, files[0]))
    await new Promise((resolve, reject) => process.stdout.write(text, (e) => (e ? reject(e) : resolve())))
  } else if (command === 'install' && files.length === 0) {
    packageDir(name)
    process.stdout.write(`${BUILDS[name].pkg}@${BUILDS[name].version}\n`)
  } else {
    process.exitCode = 2
    process.stderr.write('usage: node bench/devtools-builds.mjs summary BUILD FILE.heapsnapshot | install BUILD\n')
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((e) => {
    process.stderr.write(`devtools-builds: ${e?.stack ?? e}\n`)
    process.exitCode = 1
  })
}
