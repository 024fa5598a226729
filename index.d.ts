/**
 * node-oom-heapdump: a V8 heap snapshot when Node.js runs out of memory, written by an off-process
 * helper to a temporary file, checked, fsynced and renamed, so that a capture is complete or absent.
 */

declare namespace nodeOomHeapdump {
  /**
   * A path as `fs` takes it: a string, a Buffer holding UTF-8 text (anything else is rejected, as
   * paths travel as strings), or a `file:` URL (other URLs are rejected). Names may not hold NUL
   * bytes or lone surrogates, and every name written must fit NAME_MAX (255 bytes, with the 26
   * bytes of the temporary name's additions) and PATH_MAX (4096 bytes).
   */
  type PathLike = string | Buffer | URL

  /** Options of the factory; all optional. Unknown keys are ignored, as in the original package. */
  interface Options {
    /** Write a heap snapshot when V8 runs out of heap. Default `true`. */
    heapdumpOnOOM?: boolean
    /**
     * How the OOM is caught. `"NATIVE_HOOK"` (the default): V8's OOM error handler; at OOM it writes
     * `<path>.heapprofile` and `<path>.oom.json` first, then the snapshot if it fits in the memory
     * left. `"GC_MONITORING"`: in addition, after garbage collections, take a snapshot while the
     * process keeps running when the used heap passes `threshold` percent of the heap limit or, in a
     * container, while the snapshot still fits in the memory left; at most `limit` times.
     */
    OOMImplementation?: 'NATIVE_HOOK' | 'GC_MONITORING'
    /**
     * Where the OOM snapshot goes; `.heapsnapshot` is appended when missing. Relative paths are
     * resolved against the working directory at the time of the call. Default: `OoM-pid-<pid>` in the
     * `--diagnostic-dir` folder when Node runs with that flag, else in the working directory. With
     * `heapdumpOnOOM` (the default), every file written there (`.heapsnapshot`, `.heapprofile`,
     * `.oom.json`, the timestamp, their temporaries) must fit NAME_MAX and PATH_MAX; a folder that is
     * missing or not writable at start-up is said on stderr, not thrown (it may be there at OOM).
     * `null` and `""` are the default. With `heapdumpOnOOM: false` nothing on disk is checked.
     */
    path?: PathLike
    /**
     * Add a UTC timestamp (`-YYYYMMDDTHHMMSS.mmmZ`) to the OOM snapshot's name, and never replace an
     * existing file, so that several crashes each leave their own snapshot. Default `false`.
     */
    addTimestamp?: boolean
    /**
     * The DevTools (`--inspect`) port, 1-65535. Default `9229`. At load the module checks once that
     * this process's inspector answers (on its own port when it has one) and warns once if not.
     * Captures use this process's own inspector, found through `inspector.url()`; only 127.0.0.1 is
     * ever contacted.
     */
    port?: number
    /** GC_MONITORING: percent (0-100) of the heap limit at which a snapshot is taken. Default `70`. */
    threshold?: number
    /** GC_MONITORING: at most this many snapshots (a positive integer). Default `3`. */
    limit?: number
    /**
     * Run V8's sampling heap profiler from start-up, so that an OOM leaves `<path>.heapprofile` (opens in
     * Chrome DevTools' Memory tab) and the report names the allocation sites that filled the heap.
     * Default `true`.
     */
    heapProfile?: boolean
    /** Average bytes allocated between two samples of the sampling heap profiler. Default `524288`. */
    heapProfileInterval?: number
    /**
     * Take the OOM snapshot even when its estimated cost (20x the used heap) exceeds the memory left
     * under the container's (or machine's) limit. Default `false`: such a snapshot would get the
     * process killed mid-write, so it is skipped, and the report says so.
     */
    forceSnapshot?: boolean
    /**
     * In a memory cgroup: when the container's working set passes this percent (0-100) of its limit,
     * write the heap profile and a report with `process.memoryUsage()` before the kernel kills the
     * process (memory outside the V8 heap, such as Buffers, causes no V8 OOM). Once per episode.
     * Default `90`.
     */
    rssThreshold?: number
    /**
     * After an OOM snapshot is written, print what filled the heap to stderr: the top classes by
     * retained size and the largest objects with their retainer paths (`node-oom-heapdump analyze`).
     * The helper process does this once the dying process has exited, so the exit is not delayed.
     * Default `true`.
     */
    analyzeOnOOM?: boolean
    /**
     * After an OOM, also write the sampling heap profile as pprof: `<name>.heap.pb.gz` (gzipped
     * profile.proto, sample types `objects/count` and `space/bytes`) beside the `.heapprofile`, for
     * `go tool pprof`, Pyroscope and Grafana. The helper process converts it once the app has exited
     * (so the dying process does no more work), before `exportCommand`, which gets it too. Needs
     * `heapProfile`. `npx node-oom-heapdump convert` does the same for any `.heapprofile` or
     * `.cpuprofile`. Default `false`.
     */
    pprof?: boolean
    /**
     * `[file, ...args]`: a program run after every capture, with the paths of the files written
     * appended as arguments, to take them off the machine (an OOM-killed pod restarts with a fresh
     * filesystem). No shell is involved. It runs after the OOM (the snapshot if written, the
     * `.heapprofile` and the `.oom.json`: every file that exists) from the helper process once the
     * app has exited, after GC_MONITORING snapshots, on-request captures and the memory report from
     * a thread of the app. Always with the app's credentials. Its environment is the app's plus
     * `NODE_OOM_HEAPDUMP_KIND` (`oom` | `gc-monitoring` | `on-request` | `memory-near-limit`),
     * `NODE_OOM_HEAPDUMP_PID` (the app's pid) and `NODE_OOM_HEAPDUMP_REASON` (a short text). Its
     * output goes to stderr, each line prefixed `node-oom-heapdump: export: `; its failure is
     * reported there and never changes the app's exit status. Default: none.
     */
    exportCommand?: string[]
    /**
     * Milliseconds `exportCommand` may run before its process group is killed (and stderr says so).
     * Default `300000`.
     */
    exportTimeoutMs?: number
    /**
     * `s3://bucket/prefix`: after an OOM, once the app has exited, the helper process uploads the
     * snapshot, the heap profile, the analyzer's summary and the report (with an `upload` section)
     * to `<prefix>/<host>/<time>-<pid>/`, streamed in multipart parts, with retries. Credentials,
     * region and endpoint come from `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
     * `AWS_SESSION_TOKEN`, `AWS_REGION` and `AWS_ENDPOINT_URL` (S3-compatible servers). The local
     * files stay; when the upload fails, stderr and the report's `upload.error` say why. A bad URL
     * throws. Default: none.
     */
    upload?: string
    /** `'gzip'` compresses every uploaded object on the way (`.gz` appended to its key). Default `'none'`. */
    uploadCompression?: 'none' | 'gzip'
  }

  /** The options in force, as the addon resolved them. */
  interface InstalledOptions {
    heapdumpOnOOM: boolean
    OOMImplementation: 'NATIVE_HOOK' | 'GC_MONITORING'
    /** Absolute path of the OOM snapshot (before `addTimestamp` adds its timestamp). */
    path: string
    addTimestamp: boolean
    port: number
    threshold: number
    limit: number
    /** Absent when the sampling heap profiler is off. */
    heapProfileInterval?: number
    forceSnapshot: boolean
    rssThreshold: number
    analyzeOnOOM: boolean
    pprof: boolean
    /** Absent when none is set. */
    exportCommand?: string[]
    exportTimeoutMs: number
    /** Absent when none is set. */
    upload?: string
    uploadCompression: 'none' | 'gzip'
    /** Pid of the helper process waiting to write the OOM snapshot. */
    helperPid?: number
    /** Why no helper runs; the snapshot is then written from the dying process itself. */
    helperError?: string
  }

  /** Heap snapshot progress, as V8 reports it (objects walked so far, and in all). */
  interface Progress {
    done: number
    total: number
  }

  /** Options of a capture; pass as the last argument. */
  interface CaptureOptions {
    /**
     * Called with V8's progress while a heap snapshot is built. Over DevTools the calls arrive while
     * V8 works; in-process no JS can run meanwhile, so they arrive right after V8 built the snapshot.
     */
    onProgress?: (progress: Progress) => void
    /** CPU profiles: the sampling interval in microseconds, 1-1000000. Default 1000. */
    samplingIntervalUs?: number
    /**
     * `"auto"` (default): over this process's own DevTools inspector when it runs with `--inspect`
     * (reachable on 127.0.0.1), else in-process. `"devtools"`: only over the inspector (rejects when
     * this process has none, or when it listens elsewhere than on the loopback). `"in-process"`: V8's heap profiler and CPU profiler directly; no
     * inspector port needed. A bad value of any capture option or argument rejects with an `Error`
     * of code `InvalidArg` naming it.
     */
    transport?: 'auto' | 'devtools' | 'in-process'
  }

  /** What the last on-request capture did. */
  interface CaptureInfo {
    kind: 'heapsnapshot' | 'cpuprofile'
    /** Absolute path of the file written. */
    path: string
    /** How it was captured. */
    transport: 'devtools' | 'in-process'
    /** Size of the file. */
    bytes: number
    /** Heap snapshots: node and edge counts, checked against the file's header. */
    nodeCount?: number
    edgeCount?: number
    /** Wall time of the capture. */
    ms: number
  }

  /**
   * The object the factory returns; one per process.
   *
   * Captures write to a temporary name in the target folder (mode 0600), check the capture is
   * complete, fsync and rename; a failed capture leaves nothing under the final name. One capture
   * runs at a time: another one requested meanwhile rejects at once. While V8 builds a heap snapshot
   * it pauses JavaScript in this process (unavoidable, whatever the tool); in-process, V8 also
   * serializes it on the JS thread, as `v8.writeHeapSnapshot()` does, while the file is written and
   * fsynced on another thread.
   */
  interface NodeOomHeapdumpAPI {
    /**
     * The options in force. `null` in a worker thread: there the factory installs nothing, because a
     * worker's OOM does not kill the process (Node reports it as an error on the `Worker`); the hook
     * installed from the main thread covers the process. Captures requested in a worker capture the
     * worker's heap, in-process.
     */
    readonly options: Readonly<InstalledOptions> | null

    /** What the last successful on-request capture did (also logged with NODE_DEBUG=node-oom-heapdump). */
    readonly lastCapture: Readonly<CaptureInfo> | null

    /**
     * Writes a heap snapshot of this process and resolves to its absolute path. `.heapsnapshot` is
     * appended when missing; without a path, `heapsnapshot-<ms since epoch>.heapsnapshot` in the
     * working directory (or `--diagnostic-dir`). Rejects if the folder does not exist or is not
     * writable (checked now, so an unwritable working directory only matters to captures without a
     * path), if another capture runs, or if the capture fails (nothing is left under the final name).
     */
    createHeapSnapshot(path?: PathLike, options?: CaptureOptions): Promise<string>
    createHeapSnapshot(options: CaptureOptions): Promise<string>

    /**
     * Records a CPU profile of this process for `durationMs` (default 30000, at most 3600000) and
     * resolves to its absolute path. `.cpuprofile` is appended when missing; without a path,
     * `cpuprofile-<ms since epoch>.cpuprofile` in the working directory (or `--diagnostic-dir`).
     */
    createCpuProfile(path?: PathLike, durationMs?: number, options?: CaptureOptions): Promise<string>
    createCpuProfile(path: PathLike | undefined, options: CaptureOptions): Promise<string>
    createCpuProfile(options: CaptureOptions): Promise<string>

    /**
     * Deletes a heap snapshot this instance created; resolves to its path. Rejects ("File not found")
     * for any other path, and for a file put in its place since (its device and inode are not the
     * ones this instance created: "it was replaced since").
     */
    deleteHeapSnapshot(path: PathLike): Promise<string>
    /** Deletes a CPU profile this instance created, as `deleteHeapSnapshot` does. */
    deleteCpuProfile(path: PathLike): Promise<string>
    /**
     * Deletes every heap snapshot this instance created. Files already gone are skipped, and so is
     * anything put in one's place since (a directory, another process's file); the others are still
     * deleted. Throws at the end, naming them, only if some of ours could not be deleted.
     */
    deleteAllHeapSnapshots(): void
    /** Deletes every CPU profile this instance created, as `deleteAllHeapSnapshots` does. */
    deleteAllCpuProfiles(): void
  }

  /** Options of `analyzeHeapSnapshot`. */
  interface AnalyzeOptions {
    /** How many classes to return, by retained size. Default 10. */
    top?: number
  }

  /** One class (constructor) of the Summary view, as Chrome DevTools counts it. */
  interface ClassSummary {
    /** DevTools' class name: the constructor's name, `Function` for closures, `(string)`, `(compiled code)`, `{a, b}` for plain objects, ... */
    name: string
    /** Objects of the class (with a non-zero shallow size). */
    count: number
    /** Their shallow sizes, in bytes (with hidden and array parts moved onto their single owner, as DevTools does). */
    selfSize: number
    /** What would be freed if they all went: the retained sizes of members not dominated by another member. */
    retainedSize: number
    /** Where the constructor is defined, for classes DevTools splits by location (line and column count from 0). */
    location?: { scriptId: number; line: number; column: number }
  }

  /** An object that retains much of the heap. */
  interface LargeObject {
    /** The node id, `@id` in DevTools. */
    id: number
    /** Its class, as in `classes`. */
    name: string
    /** V8's node type: `object`, `closure`, `string`, `native`, ... */
    type: string
    selfSize: number
    retainedSize: number
    /** Its shortest path from a root, e.g. `global.logs (Array) -> [123] (LogEntry)`. */
    retainerPath: string
  }

  /** One class of what a leak suspect holds. */
  interface SuspectElement {
    /** Its class, as in `classes`; closures count by their function: `onConfig()`, `(anonymous function)`. */
    name: string
    /** How many of them the suspect holds (in its dominator subtree). */
    count: number
    /** What they retain (members not held by another member of the class). */
    retainedSize: number
  }

  /**
   * A leak suspect: an object of the app that holds at least 10% of the heap, at its accumulation
   * point (the collection where the memory piles up, below any wrapper that passes it on).
   */
  interface LeakSuspect {
    /** The node id, `@id` in DevTools. */
    id: number
    /** Its class, as in `classes`. */
    name: string
    /** V8's node type: `object`, `concatenated string`, ... */
    type: string
    retainedSize: number
    /** `retainedSize` as a fraction of `totalSize` (0.1 or more). */
    share: number
    /**
     * How the app reaches it, as its code would: `global.audit.entries (Array)`, `sessionCache (Map)
     * in the closure of handleRequest`, `tracker.seen (Set) in a module's scope`.
     */
    retainerPath: string
    /** The classes of what it holds, by retained size, descending (at most 5). */
    elements: SuspectElement[]
  }

  /** What `analyzeHeapSnapshot` and `node-oom-heapdump analyze --json` answer. */
  interface HeapSnapshotAnalysis {
    nodeCount: number
    edgeCount: number
    /** Every object's shallow size (the root's retained size), plus V8's extra native bytes when the snapshot has them. */
    totalSize: number
    /** The leak suspects, largest first (none when no object of the app holds 10% of the heap). */
    suspects: LeakSuspect[]
    /** The top classes by retained size, descending. */
    classes: ClassSummary[]
    /**
     * The objects that retain the most (at most 5). An object gives way to one of another class it
     * dominates that retains at least half as much (`global` to `global.logs`); a linked list or a
     * tree is listed once, by its head.
     */
    largestObjects: LargeObject[]
    /** Strings of equal text held by separate string objects, and the bytes their copies waste. */
    duplicateStrings: DuplicateStrings
  }

  /** Duplicate strings (as Eclipse MAT and memlab report them), over the live flat strings. */
  interface DuplicateStrings {
    /** Texts held by more than one string. */
    values: number
    /** Strings holding those texts. */
    copies: number
    /** Their self sizes in all. */
    size: number
    /** All copies but one of each text: what sharing one copy would save. */
    wastedSize: number
    /** The texts that waste the most, most first (at most 10). */
    top: DuplicateString[]
  }

  interface DuplicateString {
    /** The text; only its start (at most 100 characters and 256 UTF-8 bytes) when `truncated`. */
    value: string
    truncated: boolean
    /** Strings holding it. */
    count: number
    /** The self size of one. */
    selfSize: number
    /** `(count - 1) * selfSize`. */
    wastedSize: number
  }

  /**
   * Reads a `.heapsnapshot` file (or `.heapsnapshot.gz`) and tells what fills the heap: totals, the leak suspects, the top
   * classes by retained size with Chrome DevTools' numbers, and the largest objects with their shortest retainer paths.
   * Runs off the JS thread. Rejects with code `InvalidArg` for a bad argument, and with an error
   * naming the file (and, for what is read wrong, the byte) when it is not a complete heap snapshot.
   */
  function analyzeHeapSnapshot(path: PathLike, options?: AnalyzeOptions): Promise<HeapSnapshotAnalysis>

  /**
   * Installs with the options that `NODE_OOM_HEAPDUMP_*` environment variables set, one per option
   * (`NODE_OOM_HEAPDUMP_PATH`, `NODE_OOM_HEAPDUMP_ADD_TIMESTAMP`, ...; booleans read `true`/`false`/
   * `1`/`0`), and returns the API object. This is what `node -r node-oom-heapdump/register` does.
   * It is the factory's singleton: whichever of the two runs first sets the options, and the other
   * returns that instance. A bad value throws an `Error` (code `InvalidArg`) naming the variable and
   * the value; the register module prints it instead and lets the app start, unless
   * `NODE_OOM_HEAPDUMP_STRICT=1`.
   */
  function fromEnvironment(): NodeOomHeapdumpAPI
}

/**
 * Installs the OOM hook (unless `heapdumpOnOOM` is `false`) and returns the API object. A path (a
 * string, Buffer or `file:` URL) is short for `{ path }`. Later calls return the first call's object. Bad options throw an `Error`
 * (code `InvalidArg`) naming the option and the value, and nothing is installed.
 *
 * On OOM, stderr says where the snapshot goes, then its size and how long it took, and the process
 * exits with status 1.
 */
declare function nodeOomHeapdump(options?: nodeOomHeapdump.Options | nodeOomHeapdump.PathLike): nodeOomHeapdump.NodeOomHeapdumpAPI

export = nodeOomHeapdump
