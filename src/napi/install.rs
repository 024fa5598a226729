//! The napi boundary of the factory: reads the JS options object, and maps our typed errors to JS
//! errors in one place (`InvalidArg` for bad options, naming the option and the value).

use std::path::PathBuf;

use napi::bindgen_prelude::Object;
use napi::Unknown;
use napi::{Error, Result, Status, ValueType};
use napi_derive::napi;

use crate::containers::gc_monitor::{self, GcMonitor};
use crate::oom::{self, InstallError, OomConfig};
use crate::options::{Defaults, Implementation, OptionError, Options, Prop, RawOptions};

/// What the process provides to `install`, filled in by index.js.
#[napi(object)]
pub struct InstallContext {
    /// Folder for the default file name: `--diagnostic-dir` when given, else the working directory.
    pub default_dir: String,
    /// True when `default_dir` came from `--diagnostic-dir`.
    pub default_dir_is_diagnostic_dir: bool,
    /// Absolute path of the helper executable.
    pub helper_path: String,
    /// Absolute path of the analyzer executable (for the summary after an OOM snapshot).
    pub analyzer_path: String,
    /// `process.version`, for reports.
    pub node_version: String,
}

/// The options in force after `install`.
#[napi(object)]
pub struct Installed {
    #[napi(js_name = "heapdumpOnOOM")]
    pub heapdump_on_oom: bool,
    #[napi(js_name = "OOMImplementation")]
    pub oom_implementation: String,
    /// Absolute path of the OOM snapshot, without the timestamp `addTimestamp` adds.
    pub path: String,
    pub add_timestamp: bool,
    pub port: u32,
    /// GC_MONITORING: percent of the heap limit that triggers a snapshot.
    pub threshold: f64,
    /// GC_MONITORING: at most this many snapshots.
    pub limit: u32,
    /// Bytes between samples of the sampling heap profiler; absent when it is off.
    pub heap_profile_interval: Option<f64>,
    pub force_snapshot: bool,
    /// Percent of the container memory limit at which a report is written.
    pub rss_threshold: f64,
    /// Print what fills the heap to stderr after an OOM snapshot is written.
    #[napi(js_name = "analyzeOnOOM")]
    pub analyze_on_oom: bool,
    /// Pid of the helper process that will write the OOM snapshot, when it is running.
    pub helper_pid: Option<u32>,
    /// Why there is no helper (snapshots are then written from the process itself).
    pub helper_error: Option<String>,
}

/// Checks `options` and installs the OOM hook on the calling thread's isolate.
#[napi]
pub fn install(options: Option<Object>, context: InstallContext) -> Result<Installed> {
    let raw = read_options(options.as_ref())?;
    let defaults = defaults(&context)?;
    let opts = Options::parse(&raw, &defaults).map_err(invalid_arg)?;
    let path = opts.target.dir.join(format!(
        "{}{}",
        opts.target.stem,
        crate::options::SNAPSHOT_EXT
    ));
    let config = opts.heapdump_on_oom.then(|| OomConfig {
        target: opts.target.clone(),
        force_snapshot: opts.force_snapshot,
        heap_profile_interval: opts.heap_profile_interval,
        node_version: context.node_version.clone(),
        analyze_on_oom: opts.analyze_on_oom,
    });
    let report = oom::install(
        config,
        &PathBuf::from(&context.helper_path),
        &PathBuf::from(&context.analyzer_path),
    )
    .map_err(|e: InstallError| Error::new(Status::GenericFailure, e.to_string()))?;
    if opts.heapdump_on_oom && opts.implementation == Implementation::GcMonitoring {
        gc_monitor::start(GcMonitor::new(
            opts.target.clone(),
            opts.threshold,
            opts.limit,
        ));
    }
    Ok(Installed {
        heapdump_on_oom: opts.heapdump_on_oom,
        oom_implementation: opts.implementation.name().into(),
        threshold: opts.threshold,
        limit: opts.limit,
        heap_profile_interval: opts.heap_profile_interval.map(|i| i as f64),
        force_snapshot: opts.force_snapshot,
        rss_threshold: opts.rss_threshold,
        analyze_on_oom: opts.analyze_on_oom,
        path: path.to_string_lossy().into_owned(),
        add_timestamp: opts.target.add_timestamp,
        port: u32::from(opts.port),
        helper_pid: report.helper_pid,
        helper_error: report.helper_error,
    })
}

/// Where default file names go, from what index.js found out about the process.
pub(crate) fn defaults(context: &InstallContext) -> Result<Defaults> {
    let cwd = std::env::current_dir()
        .map_err(|e| Error::from_reason(format!("no working directory: {e}")))?;
    Ok(Defaults {
        dir: cwd.join(&context.default_dir),
        dir_source: if context.default_dir_is_diagnostic_dir {
            "--diagnostic-dir"
        } else {
            "the working directory"
        },
        pid: std::process::id(),
        cwd,
    })
}

fn invalid_arg(e: OptionError) -> Error {
    Error::new(Status::InvalidArg, e.to_string())
}

fn read_options(options: Option<&Object>) -> Result<RawOptions> {
    let get = |name: &str| -> Result<Prop> {
        match options {
            Some(o) => match o.get::<Unknown>(name)? {
                Some(v) => to_prop(&v),
                None => Ok(Prop::Undefined),
            },
            None => Ok(Prop::Undefined),
        }
    };
    Ok(RawOptions {
        heapdump_on_oom: get("heapdumpOnOOM")?,
        oom_implementation: get("OOMImplementation")?,
        path: get("path")?,
        add_timestamp: get("addTimestamp")?,
        port: get("port")?,
        threshold: get("threshold")?,
        limit: get("limit")?,
        heap_profile: get("heapProfile")?,
        heap_profile_interval: get("heapProfileInterval")?,
        force_snapshot: get("forceSnapshot")?,
        rss_threshold: get("rssThreshold")?,
        analyze_on_oom: get("analyzeOnOOM")?,
    })
}

pub(crate) fn to_prop(v: &Unknown) -> Result<Prop> {
    Ok(match v.get_type()? {
        ValueType::Undefined => Prop::Undefined,
        ValueType::Null => Prop::Null,
        ValueType::Boolean => Prop::Bool(unsafe { v.cast::<bool>() }?),
        ValueType::Number => Prop::Number(unsafe { v.cast::<f64>() }?),
        ValueType::String => Prop::String(unsafe { v.cast::<String>() }?),
        ValueType::Object => Prop::Other("object"),
        ValueType::Function => Prop::Other("function"),
        ValueType::Symbol => Prop::Other("symbol"),
        ValueType::BigInt => Prop::Other("bigint"),
        _ => Prop::Other("unknown"),
    })
}
