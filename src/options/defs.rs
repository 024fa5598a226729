//! Every option of the factory, declared once: JS name, environment variable, typed value and kind
//! (which holds the default), and one paragraph of doc. The typed [`Options`], the reading of the JS
//! object and of `NODE_OOM_HEAPDUMP_*` variables, what `install` reports to JS and README's table all
//! come from this table. To add an option, add an entry here, then a line to `Options` in
//! index.d.ts (and to `InstalledOptions` when it is reported); the tests say what else is stale.

use super::declare::declare_options;
use super::paths::{oom_files, FilePath, SnapshotPath, SnapshotTarget};
use super::values::{
    Boolean, Command, ExportCommand, Implementation, OneOf, Percent, Port, PositiveInteger,
    Reported, S3Location,
};
use super::OptionError;
use oom_heapdump_upload::{Compression, S3Url};

/// The DevTools port when none is given (Node's own default).
pub const DEFAULT_PORT: u16 = 9229;

declare_options! {
    /// Write a heap snapshot when V8 runs out of heap; `false` installs nothing.
    heapdump_on_oom: bool = Boolean { default: true },
        js "heapdumpOnOOM", env "NODE_OOM_HEAPDUMP_HEAPDUMP_ON_OOM";

    /// How the OOM is caught: `"NATIVE_HOOK"` is V8's OOM error handler; `"GC_MONITORING"` also
    /// snapshots while the process runs (see Containers).
    oom_implementation: Implementation = OneOf {
        choices: &[
            ("NATIVE_HOOK", Implementation::NativeHook),
            ("GC_MONITORING", Implementation::GcMonitoring),
        ],
        default: Implementation::NativeHook,
    },
        js "OOMImplementation", env "NODE_OOM_HEAPDUMP_OOM_IMPLEMENTATION";

    /// Where the snapshot goes (`.heapsnapshot` is appended when missing); relative to the working
    /// directory, or to `--diagnostic-dir` when that flag is given and no `path` is. Every name
    /// written there must fit NAME_MAX (255 bytes) and PATH_MAX (4096); a folder that is missing or
    /// not writable at start-up is said on stderr, not an error (it may be there at OOM).
    path: FilePath = SnapshotPath,
        js "path", env "NODE_OOM_HEAPDUMP_PATH";

    /// Add `-YYYYMMDDTHHMMSS.mmmZ` (UTC) to the name, and never replace an existing file.
    add_timestamp: bool = Boolean { default: false },
        js "addTimestamp", env "NODE_OOM_HEAPDUMP_ADD_TIMESTAMP";

    /// The DevTools port checked at load (see below).
    port: u16 = Port { default: DEFAULT_PORT },
        js "port", env "NODE_OOM_HEAPDUMP_PORT";

    /// GC_MONITORING: percent of the heap limit at which a snapshot is taken.
    threshold: f64 = Percent { default: 70.0 },
        js "threshold", env "NODE_OOM_HEAPDUMP_THRESHOLD";

    /// GC_MONITORING: at most this many snapshots.
    limit: u32 = PositiveInteger { default: 3 },
        js "limit", env "NODE_OOM_HEAPDUMP_LIMIT";

    /// Run V8's sampling heap profiler from start-up (about 1% overhead, see Benchmarks).
    heap_profile: bool = Boolean { default: true },
        js "heapProfile", env "NODE_OOM_HEAPDUMP_HEAP_PROFILE",
        // Reported as the presence of `heapProfileInterval`.
        installed |_| None;

    /// Bytes allocated between samples of the sampling heap profiler.
    heap_profile_interval: u64 = PositiveInteger { default: 512 * 1024 },
        js "heapProfileInterval", env "NODE_OOM_HEAPDUMP_HEAP_PROFILE_INTERVAL",
        installed |o| o.heap_profile_sampling().map(|i| Reported::Number(i as f64));

    /// Take the OOM snapshot even when it is estimated not to fit in memory.
    force_snapshot: bool = Boolean { default: false },
        js "forceSnapshot", env "NODE_OOM_HEAPDUMP_FORCE_SNAPSHOT";

    /// In a memory cgroup: percent of the limit at which the memory report is written.
    rss_threshold: f64 = Percent { default: 90.0 },
        js "rssThreshold", env "NODE_OOM_HEAPDUMP_RSS_THRESHOLD";

    /// After the OOM snapshot, print what filled the heap to stderr (see Analyzer).
    analyze_on_oom: bool = Boolean { default: true },
        js "analyzeOnOOM", env "NODE_OOM_HEAPDUMP_ANALYZE_ON_OOM";

    /// After an OOM, also write the heap profile as pprof (`<name>.heap.pb.gz`, gzipped
    /// profile.proto for `go tool pprof`, Pyroscope, Grafana) beside the `.heapprofile`; the
    /// helper converts it once the app has exited (see pprof). Needs `heapProfile`.
    pprof: bool = Boolean { default: false },
        js "pprof", env "NODE_OOM_HEAPDUMP_PPROF";

    /// `[file, ...args]`, run after every capture with the paths of the files written appended
    /// (the OOM's snapshot, heap profile and report; GC_MONITORING snapshots; on-request captures;
    /// the memory report), to take them off the machine (see Export). No shell. The variable holds
    /// a JSON array.
    export_command: Option<ExportCommand> = Command,
        js "exportCommand", env "NODE_OOM_HEAPDUMP_EXPORT_COMMAND",
        installed |o| o.export_command.clone().map(Reported::List);

    /// Milliseconds `exportCommand` may run; then its process group is killed, and stderr says so.
    export_timeout_ms: u64 = PositiveInteger { default: 300_000 },
        js "exportTimeoutMs", env "NODE_OOM_HEAPDUMP_EXPORT_TIMEOUT_MS";

    /// `s3://bucket/prefix`: after an OOM, once the app has exited, the helper uploads the
    /// snapshot, heap profile, analyzer summary and report to
    /// `<prefix>/<host>/<time>-<pid>/` (see Upload). Credentials, region and endpoint from the
    /// standard AWS variables (`AWS_ENDPOINT_URL` for S3-compatible servers).
    upload: Option<S3Url> = S3Location,
        js "upload", env "NODE_OOM_HEAPDUMP_UPLOAD",
        installed |o| o.upload.as_ref().map(|u| Reported::String(u.to_string()));

    /// `"gzip"` compresses every uploaded object on the way (`.gz` appended to its key);
    /// `"none"` uploads the files as they are.
    upload_compression: Compression = OneOf {
        choices: &[("none", Compression::None), ("gzip", Compression::Gzip)],
        default: Compression::None,
    },
        js "uploadCompression", env "NODE_OOM_HEAPDUMP_UPLOAD_COMPRESSION";
}

/// What the rest of the crate reads off several options at once.
impl Options {
    /// The checks that depend on several options: the OOM path's folder and the names written in
    /// it are checked only when the OOM path will write there (`heapdumpOnOOM`), and with the
    /// timestamp `addTimestamp` adds; otherwise nothing on disk is looked at. With `upload` the
    /// folder need not be writable.
    fn check_together(mut self) -> Result<Options, OptionError> {
        self.path = if self.heapdump_on_oom {
            let written = oom_files(&self.path.stem, self.add_timestamp);
            let mut path = self.path.clone().writable_later(&written)?;
            // With `upload`, a folder that cannot be written (a read-only root filesystem) is as
            // planned: the helper streams the snapshot to the bucket instead. (A missing folder is
            // still said: a mistyped path would lose the heap profile and the report.)
            if self.upload.is_some() && path.unusable.as_ref().is_some_and(|u| u.only_not_writable)
            {
                path.unusable = None;
            }
            path
        } else {
            self.path.unchecked()
        };
        Ok(self)
    }

    /// Where OOM snapshots land.
    pub fn target(&self) -> SnapshotTarget {
        SnapshotTarget {
            dir: self.path.dir.clone(),
            stem: self.path.stem.clone(),
            add_timestamp: self.add_timestamp,
        }
    }

    /// Bytes between samples of the sampling heap profiler; `None` when it is off.
    pub fn heap_profile_sampling(&self) -> Option<u64> {
        self.heap_profile.then_some(self.heap_profile_interval)
    }
}
