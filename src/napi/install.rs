//! The napi boundary of the factory: reads the JS options object, installs the OOM hook, and
//! starts what the options ask for on the main thread (GC_MONITORING, the memory watch, the
//! inspector check), each carried out in Rust below the boundary.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::JsObjectValue;
use napi::bindgen_prelude::{Function, Object};
use napi::{Env, Result, Unknown};
use napi_derive::napi;

use super::context::{defaults, to_prop, Context};
use super::errors::{failure, invalid};
use super::js_thread::Wake;
use crate::containers::gc_monitor::{self, GcMonitor};
use crate::containers::memory_watch;
use crate::on_request::devtools::check_at_load;
use crate::on_request::transport::OwnInspector;
use crate::oom::{self, InstallError, OomConfig};
use crate::options::{Implementation, Options, Prop, RawOptions};
use crate::units::say;

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
/// Then, on the main thread: GC_MONITORING's watch on garbage collections, the watch on the
/// container's memory, and the check that this process's inspector answers (warning once if not).
#[napi]
pub fn install(env: &Env, options: Option<Object>, context: Context) -> Result<Installed> {
    let raw = read_options(options.as_ref())?;
    let defaults = defaults(&context)?;
    let opts = Options::parse(&raw, &defaults).map_err(invalid)?;
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
    .map_err(|e: InstallError| failure(e))?;
    check_inspector(env, &context, opts.port)?;
    if opts.heapdump_on_oom {
        watch_memory(env, opts.rss_threshold)?;
        if opts.implementation == Implementation::GcMonitoring {
            let wake = Wake::new(env, "nodeOomHeapdumpAfterGc", |_| {
                gc_monitor::after_gc();
                Ok(())
            })?;
            let monitor = GcMonitor::new(opts.target.clone(), opts.threshold, opts.limit);
            if !gc_monitor::start(monitor, move || wake.wake()) {
                return Err(failure("GC_MONITORING needs a thread that runs JavaScript"));
            }
        }
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

/// Starts the load-time inspector check on the tokio runtime, without holding the event loop. Its
/// warning is printed from the JS thread, in order with what the app itself prints.
fn check_inspector(env: &Env, context: &Context, port: u16) -> Result<()> {
    let own = context
        .inspector_url
        .as_deref()
        .and_then(OwnInspector::parse);
    let (port, id) = match own {
        Some(own) => (own.port, Some(own.id)),
        None => (port, None),
    };
    let warning = Arc::new(Mutex::new(None));
    let shown = warning.clone();
    let wake = Wake::new(env, "nodeOomHeapdumpInspectorCheck", move |_| {
        if let Some(w) = shown.lock().unwrap_or_else(|e| e.into_inner()).take() {
            say!("{w}");
        }
        Ok(())
    })?;
    napi::bindgen_prelude::spawn(async move {
        if let Some(w) = check_at_load(port, id.as_deref()).await {
            *warning.lock().unwrap_or_else(|e| e.into_inner()) = Some(w);
            wake.wake();
        }
    });
    Ok(())
}

/// In a memory cgroup: the watch on the container's memory, whose full report is written on the
/// JS thread (it holds `process.memoryUsage()`).
fn watch_memory(env: &Env, threshold: f64) -> Result<()> {
    let wake = Wake::new(env, "nodeOomHeapdumpMemoryNearLimit", |env| {
        memory_watch::on_js_thread(memory_usage(env)?);
        Ok(())
    })?;
    memory_watch::start(threshold, move || wake.wake())
        .map_err(|e| failure(format!("cannot start the memory watch: {e}")))?;
    Ok(())
}

/// `process.memoryUsage()`, as the report holds it.
fn memory_usage(env: &Env) -> Result<serde_json::Value> {
    let process: Object = env.get_global()?.get_named_property("process")?;
    let read: Function<(), Object> = process.get_named_property("memoryUsage")?;
    let usage = read.apply(process, ())?;
    let mut out = serde_json::Map::new();
    for key in ["rss", "heapTotal", "heapUsed", "external", "arrayBuffers"] {
        if let Some(n) = usage.get::<f64>(key)? {
            out.insert(key.into(), serde_json::json!(n as u64));
        }
    }
    Ok(serde_json::Value::Object(out))
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
