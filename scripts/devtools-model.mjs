#!/usr/bin/env node
// devtools-model.mjs: an independent oracle for our analyzer's numbers. It runs Chrome DevTools'
// OWN heap snapshot model (the worker-side code behind the Memory panel's Summary and Comparison
// views) in plain Node, unmodified, and prints what those views would show.
//
// Where the code comes from: the npm package chrome-devtools-frontend@1.0.1705227 (a pinned
// devDependency; nothing is fetched from anywhere but the npm registry). Transpiled with
// `typescript`'s transpileModule, as DevTools' own tsconfig would (target ES2023,
// preserveConstEnums), into .cache/devtools-model/<version>/, from these files of front_end/:
//   entrypoints/heap_snapshot_worker/HeapSnapshot.ts        HeapSnapshot, JSHeapSnapshot, SecondaryInitManager
//   entrypoints/heap_snapshot_worker/HeapSnapshotLoader.ts  the streaming JSON loader
//   entrypoints/heap_snapshot_worker/AllocationProfile.ts   } imported by HeapSnapshot.ts (only used
//   entrypoints/heap_snapshot_worker/ContextAnalyzer.ts     } for allocation traces / context analysis)
//   models/heap_snapshot/HeapSnapshotModel.ts               NodeFilter, AggregatedInfo, Diff, ...
//   core/platform/{ArrayUtilities,MapUtilities,StringUtilities,TypedArrayUtilities}.ts
//   core/text_utils/TextUtils.ts: only the class BalancedJSONTokenizer, copied verbatim (see below)
//
// Stand-ins (generated modules that replace barrels which cannot load, or need not load, in Node;
// none of them is on a path that computes a number):
//   core/platform/platform.js       re-exports only the 4 real utility modules above. The real barrel
//                                    also loads HostRuntime (top-level-await browser/node detection,
//                                    Worker shims); HeapSnapshot.ts uses HostRuntime for types only.
//   core/i18n/i18n.js               serializeUIString() as in core/i18n/i18nImpl.ts, without locales:
//                                    it only formats progress messages, which go nowhere here (no
//                                    dispatcher is passed, as in DevTools' own unit tests).
//   core/text_utils/text_utils.js   exports TextUtils.BalancedJSONTokenizer, whose source is cut out
//                                    of the real TextUtils.ts with the TypeScript parser. The rest of
//                                    that file pulls in core/common, ContentData, CodeMirror, ...
//   models/heap_snapshot/heap_snapshot.js  exports the real HeapSnapshotModel only; the real barrel
//                                    also exports HeapSnapshotProxy (the page-side Worker client, needs
//                                    core/common) and ChildrenProvider (types only).
//   secondary-init-worker.js        what DevTools' worker does on 'setupForSecondaryInit': new
//                                    SecondaryInitManager(port). DevTools runs the retainers/dominators/
//                                    retained-sizes half of initialisation in a second worker; we use a
//                                    Node worker_thread (or, with --single-thread, the same thread, like
//                                    DevTools' createJSHeapSnapshotForTesting).
//   polyfills.js                    Promise.withResolvers (ES2024), which Node 20 lacks.
//
// The file is fed to HeapSnapshotLoader.write() in 10,000,000-byte chunks decoded by a streaming
// TextDecoder, as the Memory panel's ChunkedFileReader does when you load a file.
//
// Usage:
//   node scripts/devtools-model.mjs summary FILE.heapsnapshot [--single-thread]
//     -> { nodeCount, edgeCount, totalSize, classes: [{ name, count, selfSize, retainedSize, distance, key? }] }
//        Summary view, "All objects": one row per class key of aggregatesWithFilter(new NodeFilter());
//        selfSize = aggregate.self, retainedSize = aggregate.maxRet, distance = aggregate.distance
//        (raw value; the UI shows a minus sign for -5, unreachable, and for >= 100000000, reachable only
//        through system roots).
//        key is given for location-keyed classes ("scriptId,line,column,Name"; plain objects built
//        by a constructor with a known location), which DevTools shows as separate rows.
//        totalSize = JSHeapSnapshot.totalSize (root's retained size + extra_native_bytes).
//        Sorted by retainedSize descending, then name, then key.
//   node scripts/devtools-model.mjs diff BASE TARGET [--single-thread]
//     -> { classes: [{ name, addedCount, removedCount, countDelta, addedSize, removedSize, sizeDelta, key? }] }
//        Comparison view: TARGET.calculateSnapshotDiff(BASE.aggregatesForDiff(TARGET.interfaceDefinitions())).
//        Sorted by sizeDelta descending, then name, then key.
// The numbers follow this DevTools version's rules, e.g. JSHeapSnapshot.calculateShallowSizes moves
// the shallow size of 'hidden' and 'array' nodes to their single owning object, closures are
// class "Function", plain Objects are classed by inferred interfaces such as "{a, b}", and objects
// whose constructor has a location are split per location (the key).
// From code: import { summary, diff, loadSnapshot, summarize, format } from './scripts/devtools-model.mjs'.
// If the pinned package is not installed, it is installed on demand from the npm registry into
// .cache/devtools-frontend (npm install --prefix).

import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { MessageChannel, Worker } from 'node:worker_threads'

export const DEVTOOLS_PACKAGE = 'chrome-devtools-frontend'
export const DEVTOOLS_VERSION = '1.0.1705227'

const SCRIPT = fileURLToPath(import.meta.url)
const ROOT = path.resolve(path.dirname(SCRIPT), '..')
const OUT = path.join(ROOT, '.cache', 'devtools-model', DEVTOOLS_VERSION)
const ON_DEMAND_PREFIX = path.join(ROOT, '.cache', 'devtools-frontend')
const CHUNK_SIZE = 10000000 // panels/profiler/HeapSnapshotView.ts: new ChunkedFileReader(file, 10000000)

// Real DevTools sources, transpiled as they are (paths under front_end/).
const REAL_FILES = [
  'entrypoints/heap_snapshot_worker/HeapSnapshot.ts',
  'entrypoints/heap_snapshot_worker/HeapSnapshotLoader.ts',
  'entrypoints/heap_snapshot_worker/AllocationProfile.ts',
  'entrypoints/heap_snapshot_worker/ContextAnalyzer.ts',
  'models/heap_snapshot/HeapSnapshotModel.ts',
  'core/platform/ArrayUtilities.ts',
  'core/platform/MapUtilities.ts',
  'core/platform/StringUtilities.ts',
  'core/platform/TypedArrayUtilities.ts',
]

// Stand-ins, see the header. Keys are output paths relative to OUT.
const STAND_INS = {
  'front_end/core/platform/platform.js': `
import * as ArrayUtilities from './ArrayUtilities.js';
import * as MapUtilities from './MapUtilities.js';
import * as StringUtilities from './StringUtilities.js';
import * as TypedArrayUtilities from './TypedArrayUtilities.js';
export {ArrayUtilities, MapUtilities, StringUtilities, TypedArrayUtilities};
`,
  'front_end/core/i18n/i18n.js': `
// As serializeUIString in core/i18n/i18nImpl.ts.
export const i18n = {serializeUIString: (string, values = {}) => JSON.stringify({string, values})};
`,
  'front_end/core/text_utils/text_utils.js': `
import * as TextUtils from './TextUtils.js';
export {TextUtils};
`,
  'front_end/models/heap_snapshot/heap_snapshot.js': `
import * as HeapSnapshotModel from './HeapSnapshotModel.js';
export {HeapSnapshotModel};
`,
  'polyfills.js': `
if (!Promise.withResolvers) {
  Promise.withResolvers = function() {
    let resolve, reject;
    const promise = new this((res, rej) => { resolve = res; reject = rej; });
    return {promise, resolve, reject};
  };
}
`,
  'secondary-init-worker.js': `
import './polyfills.js';
import {workerData} from 'node:worker_threads';
import {SecondaryInitManager} from './front_end/entrypoints/heap_snapshot_worker/HeapSnapshot.js';
new SecondaryInitManager(workerData.port);
`,
}

/** The installed package's directory (front_end/ is inside), installing it on demand if missing. */
function packageDir() {
  const candidates = [path.join(ROOT, 'node_modules', DEVTOOLS_PACKAGE), path.join(ON_DEMAND_PREFIX, 'node_modules', DEVTOOLS_PACKAGE)]
  const versionOf = (dir) => {
    try {
      return JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version
    } catch {
      return null
    }
  }
  for (const dir of candidates) if (versionOf(dir) === DEVTOOLS_VERSION) return dir
  process.stderr.write(`devtools-model: installing ${DEVTOOLS_PACKAGE}@${DEVTOOLS_VERSION} from the npm registry into ${ON_DEMAND_PREFIX}\n`)
  fs.mkdirSync(ON_DEMAND_PREFIX, { recursive: true })
  execFileSync('npm', ['install', '--prefix', ON_DEMAND_PREFIX, '--no-save', '--no-package-lock', '--ignore-scripts', '--no-audit', '--no-fund', `${DEVTOOLS_PACKAGE}@${DEVTOOLS_VERSION}`], {
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  const dir = candidates[1]
  if (versionOf(dir) !== DEVTOOLS_VERSION) throw new Error(`could not install ${DEVTOOLS_PACKAGE}@${DEVTOOLS_VERSION}`)
  return dir
}

/** Transpiles the model into OUT unless an up-to-date copy is there. Returns OUT. */
function ensureBuilt() {
  const ts = createRequire(path.join(ROOT, 'package.json'))('typescript')
  const stamp = createHash('sha256').update(fs.readFileSync(SCRIPT)).update(ts.version).digest('hex')
  const stampFile = path.join(OUT, 'STAMP')
  if (fs.existsSync(stampFile) && fs.readFileSync(stampFile, 'utf8') === stamp) return OUT

  const frontEnd = path.join(packageDir(), 'front_end')
  const tmp = `${OUT}.tmp-${process.pid}`
  fs.rmSync(tmp, { recursive: true, force: true })
  const write = (rel, text) => {
    fs.mkdirSync(path.dirname(path.join(tmp, rel)), { recursive: true })
    fs.writeFileSync(path.join(tmp, rel), text)
  }
  const compilerOptions = { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2023, preserveConstEnums: true }
  const transpile = (source, fileName) => {
    const out = ts.transpileModule(source, { compilerOptions, fileName, reportDiagnostics: true })
    if (out.diagnostics?.length) {
      throw new Error(`${fileName}: ${ts.flattenDiagnosticMessageText(out.diagnostics[0].messageText, '\n')}`)
    }
    return out.outputText
  }
  const header = (what) => `// Generated by scripts/devtools-model.mjs from ${DEVTOOLS_PACKAGE}@${DEVTOOLS_VERSION} ${what}\n`

  for (const rel of REAL_FILES) {
    const source = fs.readFileSync(path.join(frontEnd, rel), 'utf8')
    write(path.join('front_end', rel.replace(/\.ts$/, '.js')), header(`front_end/${rel}`) + transpile(source, rel))
  }

  // BalancedJSONTokenizer, cut verbatim out of core/text_utils/TextUtils.ts.
  const textUtilsPath = path.join(frontEnd, 'core/text_utils/TextUtils.ts')
  const textUtils = fs.readFileSync(textUtilsPath, 'utf8')
  const sf = ts.createSourceFile(textUtilsPath, textUtils, ts.ScriptTarget.ES2023, true)
  const cls = sf.statements.find((s) => ts.isClassDeclaration(s) && s.name?.text === 'BalancedJSONTokenizer')
  if (!cls) throw new Error('BalancedJSONTokenizer not found in TextUtils.ts')
  write(
    'front_end/core/text_utils/TextUtils.js',
    header('front_end/core/text_utils/TextUtils.ts (class BalancedJSONTokenizer only)') + transpile(textUtils.slice(cls.getStart(sf), cls.end), 'TextUtils.ts'),
  )

  for (const [rel, text] of Object.entries(STAND_INS)) write(rel, header('(stand-in, see the script header)') + text.trimStart())
  write('package.json', '{"type": "module"}\n')
  write('STAMP', stamp)

  fs.rmSync(OUT, { recursive: true, force: true })
  fs.mkdirSync(path.dirname(OUT), { recursive: true })
  try {
    fs.renameSync(tmp, OUT)
  } catch (e) {
    // Another process built it at the same time; use theirs if it is the same build.
    fs.rmSync(tmp, { recursive: true, force: true })
    if (!fs.existsSync(stampFile) || fs.readFileSync(stampFile, 'utf8') !== stamp) throw e
  }
  return OUT
}

let modelPromise
/** The transpiled DevTools modules. */
export function loadModel() {
  modelPromise ??= (async () => {
    const out = ensureBuilt()
    const url = (rel) => pathToFileURL(path.join(out, rel)).href
    await import(url('polyfills.js'))
    const HeapSnapshot = await import(url('front_end/entrypoints/heap_snapshot_worker/HeapSnapshot.js'))
    const HeapSnapshotLoader = await import(url('front_end/entrypoints/heap_snapshot_worker/HeapSnapshotLoader.js'))
    const HeapSnapshotModel = await import(url('front_end/models/heap_snapshot/HeapSnapshotModel.js'))
    return { HeapSnapshot, HeapSnapshotLoader, HeapSnapshotModel, workerPath: path.join(out, 'secondary-init-worker.js') }
  })()
  return modelPromise
}

/**
 * Loads a .heapsnapshot file into a DevTools JSHeapSnapshot (fully initialised: distances, class
 * names, interface definitions, dominators, retained sizes).
 * Options: singleThread: do the secondary initialisation on this thread instead of a worker.
 * model: { HeapSnapshot, HeapSnapshotLoader } of another build of DevTools' model to load with
 * (bench/devtools-builds.mjs), single-threaded; the pinned version's by default.
 */
export async function loadSnapshot(file, { singleThread = false, model } = {}) {
  if (model) singleThread = true
  const { HeapSnapshot, HeapSnapshotLoader, workerPath } = model ?? (await loadModel())
  const loader = new HeapSnapshotLoader.HeapSnapshotLoader(undefined)
  const decoder = new TextDecoder()
  const fh = await fs.promises.open(file, 'r')
  try {
    const buffer = Buffer.allocUnsafe(CHUNK_SIZE)
    for (;;) {
      let filled = 0
      while (filled < CHUNK_SIZE) {
        const { bytesRead } = await fh.read(buffer, filled, CHUNK_SIZE - filled, null)
        if (!bytesRead) break
        filled += bytesRead
      }
      const last = filled < CHUNK_SIZE
      loader.write(decoder.decode(buffer.subarray(0, filled), { stream: !last }))
      // Let the loader's parser (driven by promises) consume the chunk before the next is read.
      await new Promise(setImmediate)
      if (last) break
    }
  } finally {
    await fh.close()
  }
  loader.close()

  const channel = new MessageChannel()
  let worker = null
  let workerFailed = new Promise(() => {})
  if (singleThread) {
    new HeapSnapshot.SecondaryInitManager(channel.port2) // eslint-disable-line no-new
  } else {
    // (--input-type, as in `node --input-type=module -e ...`, is not allowed for a worker file.)
    const execArgv = process.execArgv.filter((a) => !a.startsWith('--input-type'))
    worker = new Worker(workerPath, { workerData: { port: channel.port2 }, transferList: [channel.port2], execArgv })
    workerFailed = new Promise((resolve, reject) => worker.once('error', reject))
  }
  try {
    return await Promise.race([loader.buildSnapshot(channel.port1), workerFailed])
  } finally {
    channel.port1.close()
    if (worker) await worker.terminate()
    else channel.port2.close()
  }
}

const byThenName = (field) => (a, b) => b[field] - a[field] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) || ((a.key ?? '') < (b.key ?? '') ? -1 : (a.key ?? '') > (b.key ?? '') ? 1 : 0)

/** Class keys from HeapSnapshot.#classKeyFromClassKey: ",Name", or "scriptId,line,column,Name" if location-keyed. */
const withKey = (row, classKey) => (classKey.startsWith(',') ? row : { ...row, key: classKey })

/**
 * The Summary view ("All objects") of a loaded snapshot. HeapSnapshotModel: the module whose
 * NodeFilter to use, the pinned version's by default (bench/devtools-builds.mjs passes another build's).
 */
export async function summarize(snapshot, HeapSnapshotModel) {
  HeapSnapshotModel ??= (await loadModel()).HeapSnapshotModel
  const aggregates = snapshot.aggregatesWithFilter(new HeapSnapshotModel.NodeFilter())
  const classes = Object.entries(aggregates).map(([classKey, a]) =>
    withKey(
      {
        name: a.name,
        count: a.count,
        selfSize: a.self,
        retainedSize: a.maxRet,
        distance: a.distance,
      },
      classKey,
    ),
  )
  classes.sort(byThenName('retainedSize'))
  return {
    nodeCount: snapshot.nodeCount,
    edgeCount: snapshot.containmentEdges.length / snapshot.edgeFieldsCount,
    totalSize: snapshot.totalSize,
    classes,
  }
}

/** The Summary view of a .heapsnapshot file. */
export async function summary(file, options) {
  return summarize(await loadSnapshot(file, options))
}

/** The Comparison view of TARGET against BASE, as HeapSnapshotDiffDataGrid.setBaseDataSource computes it. */
export async function diff(baseFile, targetFile, options) {
  // In DevTools each snapshot lives in its own worker and only these plain-data aggregates travel
  // between them, so the base snapshot can be dropped as soon as they are computed.
  const target = await loadSnapshot(targetFile, options)
  const interfaceDefinitions = target.interfaceDefinitions()
  const baseAggregates = (await loadSnapshot(baseFile, options)).aggregatesForDiff(interfaceDefinitions)
  const byClassKey = target.calculateSnapshotDiff(/* baseSnapshotId= */ 1, baseAggregates)
  const classes = Object.entries(byClassKey).map(([classKey, d]) =>
    withKey(
      {
        name: d.name,
        addedCount: d.addedCount,
        removedCount: d.removedCount,
        countDelta: d.countDelta,
        addedSize: d.addedSize,
        removedSize: d.removedSize,
        sizeDelta: d.sizeDelta,
      },
      classKey,
    ),
  )
  classes.sort(byThenName('sizeDelta'))
  return { classes }
}

/** JSON with one class per line. */
export function format(result) {
  const { classes, ...rest } = result
  const head = JSON.stringify(rest).slice(0, -1)
  return `${head}${head.length > 1 ? ',' : ''}"classes":[\n${classes.map((c) => JSON.stringify(c)).join(',\n')}\n]}\n`
}

async function main(argv) {
  const singleThread = argv.includes('--single-thread')
  const args = argv.filter((a) => a !== '--single-thread')
  const [command, ...files] = args
  let result
  if (command === 'summary' && files.length === 1) result = await summary(files[0], { singleThread })
  else if (command === 'diff' && files.length === 2) result = await diff(files[0], files[1], { singleThread })
  else if (command === 'build' && files.length === 0) {
    process.stdout.write(`${ensureBuilt()}\n`)
    return
  } else {
    process.stderr.write(
      'usage: node scripts/devtools-model.mjs summary FILE.heapsnapshot [--single-thread]\n' +
        '       node scripts/devtools-model.mjs diff BASE.heapsnapshot TARGET.heapsnapshot [--single-thread]\n' +
        '       node scripts/devtools-model.mjs build   (transpile into .cache/devtools-model only)\n',
    )
    process.exitCode = 2
    return
  }
  await new Promise((resolve, reject) => process.stdout.write(format(result), (e) => (e ? reject(e) : resolve())))
}

if (process.argv[1] && path.resolve(process.argv[1]) === SCRIPT) {
  main(process.argv.slice(2)).catch((e) => {
    process.stderr.write(`devtools-model: ${e?.stack ?? e}\n`)
    process.exitCode = 1
  })
}
