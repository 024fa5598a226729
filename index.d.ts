/**
 * node-oom-heapdump: a V8 heap snapshot when Node.js runs out of memory, written by an off-process
 * helper to a temporary file, checked, fsynced and renamed, so that a capture is complete or absent.
 */

/** Options of the factory; all optional. Unknown keys are ignored, as in the original package. */
export interface Options {
  /** Write a heap snapshot when V8 runs out of heap. Default `true`. */
  heapdumpOnOOM?: boolean
  /**
   * How the OOM is caught. `"NATIVE_HOOK"` (the default): V8's OOM error handler, snapshot at the
   * moment of OOM. `"GC_MONITORING"` is not available in this version yet and is rejected.
   */
  OOMImplementation?: 'NATIVE_HOOK'
  /**
   * Where the OOM snapshot goes; `.heapsnapshot` is appended when missing. Relative paths are
   * resolved against the working directory at the time of the call. Default: `OoM-pid-<pid>` in the
   * `--diagnostic-dir` folder when Node runs with that flag, else in the working directory. The
   * folder must exist and be writable.
   */
  path?: string
  /**
   * Add a UTC timestamp (`-YYYYMMDDTHHMMSS.mmmZ`) to the OOM snapshot's name, and never replace an
   * existing file, so that several crashes each leave their own snapshot. Default `false`.
   */
  addTimestamp?: boolean
  /** The DevTools (`--inspect`) port for on-request captures, 1-65535. Default `9229`. */
  port?: number
}

/** The options in force, as the addon resolved them. */
export interface InstalledOptions {
  heapdumpOnOOM: boolean
  OOMImplementation: 'NATIVE_HOOK'
  /** Absolute path of the OOM snapshot (before `addTimestamp` adds its timestamp). */
  path: string
  addTimestamp: boolean
  port: number
  /** Pid of the helper process waiting to write the OOM snapshot. */
  helperPid?: number
  /** Why no helper runs; the snapshot is then written from the dying process itself. */
  helperError?: string
}

/** The object the factory returns; one per process. */
export interface NodeOomHeapdumpAPI {
  /**
   * The options in force. `null` in a worker thread: there the factory installs nothing, because a
   * worker's OOM does not kill the process (Node reports it as an error on the `Worker`); the hook
   * installed from the main thread covers the process.
   */
  readonly options: Readonly<InstalledOptions> | null
}

/**
 * Installs the OOM hook (unless `heapdumpOnOOM` is `false`) and returns the API object. A string is
 * short for `{ path }`. Later calls return the first call's object. Bad options throw an `Error`
 * (code `InvalidArg`) naming the option and the value, and nothing is installed.
 *
 * On OOM, stderr says where the snapshot goes, then its size and how long it took, and the process
 * exits with status 1.
 */
declare function nodeOomHeapdump(options?: Options | string): NodeOomHeapdumpAPI

export = nodeOomHeapdump
