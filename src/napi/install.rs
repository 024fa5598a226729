//! The napi boundary of the factory: reads the JS options object, installs the OOM hook, and
//! starts what the options ask for on the main thread (GC_MONITORING, the memory watch, the
//! inspector check), each carried out in Rust below the boundary.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use napi::bindgen_prelude::JsObjectValue;
use napi::bindgen_prelude::{Function, Object};
use napi::{Env, Result, Unknown};
use napi_derive::napi;

use super::context::{defaults, to_prop, Context};
use super::errors::failure;
use super::js_thread::Wake;
use crate::containers::gc_monitor::{self, GcMonitor};
use crate::containers::memory_watch;
use crate::export::{self, ExportConfig};
use crate::on_request::devtools::check_at_load;
use crate::on_request::runtime;
use crate::on_request::transport::{Endpoint, OwnInspector};
use crate::oom::{self, InstallError, OomConfig, UploadConfig};
use crate::options::{Implementation, Options, Prop, RawOptions, Reported};
use crate::units::say;

/// Checks `options` and installs the OOM hook on the calling thread's isolate. Returns the options
/// in force (index.d.ts's `InstalledOptions`): what `Options::report` gives, then `helperPid` (the
/// helper process that will write the OOM snapshot, when it runs) or `helperError` (why there is
/// none; snapshots are then written from the process itself).
/// Then, on the main thread: GC_MONITORING's watch on garbage collections, the watch on the
/// container's memory, and the check that this process's inspector answers (warning once if not).
#[napi(ts_return_type = "Record<string, boolean | number | string | string[]>")]
pub fn install<'env>(
    env: &'env Env,
    options: Option<Object>,
    context: Context,
) -> Result<Object<'env>> {
    install_raw(env, read_options(options.as_ref())?, context)
}

/// `install` once the options are read, from JS or from the environment (`register.rs`).
pub(super) fn install_raw<'env>(
    env: &'env Env,
    raw: RawOptions,
    context: Context,
) -> Result<Object<'env>> {
    let defaults = defaults(&context)?;
    let opts = Options::parse(&raw, &defaults)?;
    if let (true, Some(u)) = (opts.heapdump_on_oom, &opts.path.unusable) {
        say!(
            "node-oom-heapdump: {}: installed all the same; at OOM nothing can be written there \
             until it can (the top allocation sites still go to stderr)",
            u.why
        );
    }
    let target = opts.target();
    let export = opts.export_command.clone().map(|command| ExportConfig {
        command,
        timeout: Duration::from_millis(opts.export_timeout_ms),
    });
    export::configure(export.clone());
    let config = opts.heapdump_on_oom.then(|| OomConfig {
        target: target.clone(),
        force_snapshot: opts.force_snapshot,
        heap_profile_interval: opts.heap_profile_sampling(),
        node_version: context.node_version.clone(),
        analyze_on_oom: opts.analyze_on_oom,
        pprof: opts.pprof,
        export,
        upload: opts.upload.clone().map(|url| UploadConfig {
            url,
            compression: opts.upload_compression,
        }),
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
        if opts.oom_implementation == Implementation::GcMonitoring {
            let wake = Wake::new(env, "nodeOomHeapdumpAfterGc", |_| {
                gc_monitor::after_gc();
                Ok(())
            })?;
            let monitor = GcMonitor::new(target, opts.threshold, opts.limit);
            if !gc_monitor::start(monitor, move || wake.wake()) {
                return Err(failure("GC_MONITORING needs a thread that runs JavaScript"));
            }
        }
    }
    let mut installed = Object::new(env)?;
    for (name, value) in opts.report() {
        match value {
            Reported::Bool(b) => installed.set(name, b)?,
            Reported::Number(n) => installed.set(name, n)?,
            Reported::String(s) => installed.set(name, s)?,
            Reported::List(l) => installed.set(name, l)?,
        }
    }
    if let Some(pid) = report.helper_pid {
        installed.set("helperPid", pid)?;
    }
    if let Some(why) = report.helper_error {
        installed.set("helperError", why)?;
    }
    Ok(installed)
}

/// Starts the load-time inspector check on our runtime's thread (`on_request::runtime`), without
/// holding the event loop (the check's own time limits are in `devtools`). Its warning is printed
/// from the JS thread, in order with what the app itself prints. When no thread can start (a tight
/// `pids.max`), the check is skipped with a debug note (`NODE_DEBUG=node-oom-heapdump`).
fn check_inspector(env: &Env, context: &Context, port: u16) -> Result<()> {
    let own = context
        .inspector_url
        .as_deref()
        .and_then(OwnInspector::parse);
    let (endpoint, id) = match own {
        Some(own) => (own.endpoint, Some(own.id)),
        None => (Endpoint::v4(port), None),
    };
    let warning = Arc::new(Mutex::new(None));
    let shown = warning.clone();
    let wake = Wake::new(env, "nodeOomHeapdumpInspectorCheck", move |_| {
        if let Some(w) = shown.lock().unwrap_or_else(|e| e.into_inner()).take() {
            say!("{w}");
        }
        Ok(())
    })?;
    let check = async move {
        if let Some(w) = check_at_load(endpoint, id.as_deref()).await {
            *warning.lock().unwrap_or_else(|e| e.into_inner()) = Some(w);
            wake.wake();
        }
    };
    if let Err(e) = runtime::spawn("the inspector check at load", check) {
        debug(&format!("inspector check skipped: {e}"));
    }
    Ok(())
}

/// A line for `NODE_DEBUG=node-oom-heapdump`, in the format of Node's `util.debuglog`.
fn debug(message: &str) {
    let on = std::env::var("NODE_DEBUG").is_ok_and(|v| {
        v.split(',')
            .map(str::trim)
            .any(|s| s == "*" || s.eq_ignore_ascii_case("node-oom-heapdump"))
    });
    if on {
        say!("NODE-OOM-HEAPDUMP {}: {message}", std::process::id());
    }
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

/// The declared options' properties of the JS options object (all `Undefined` without one).
fn read_options(options: Option<&Object>) -> Result<RawOptions> {
    RawOptions::from_js(
        |name| match options.map(|o| o.get::<Unknown>(name)).transpose()? {
            Some(Some(v)) => to_prop(&v),
            _ => Ok(Prop::Undefined),
        },
    )
}
