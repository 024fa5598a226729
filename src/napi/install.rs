//! The napi boundary of the factory: reads the JS options object (the properties the table in
//! src/options/defs.rs declares), returns the options in force as that table reports them, and maps
//! our typed errors to JS errors in one place (`InvalidArg` for bad options, naming the option and
//! the value).

use std::path::PathBuf;

use napi::bindgen_prelude::Object;
use napi::Unknown;
use napi::{Env, Error, Result, Status, ValueType};
use napi_derive::napi;

use crate::containers::gc_monitor::{self, GcMonitor};
use crate::oom::{self, InstallError, OomConfig};
use crate::options::{Defaults, Implementation, OptionError, Options, Prop, RawOptions, Reported};

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

/// Checks `options` and installs the OOM hook on the calling thread's isolate. Returns the options
/// in force (index.d.ts's `InstalledOptions`): what `Options::report` gives, then `helperPid` (the
/// helper process that will write the OOM snapshot, when it runs) or `helperError` (why there is
/// none; snapshots are then written from the process itself).
#[napi(ts_return_type = "InstalledOptions")]
pub fn install<'env>(
    env: &'env Env,
    options: Option<Object>,
    context: InstallContext,
) -> Result<Object<'env>> {
    let raw = read_options(options.as_ref())?;
    let defaults = defaults(&context)?;
    let opts = Options::parse(&raw, &defaults)?;
    let target = opts.target();
    let config = opts.heapdump_on_oom.then(|| OomConfig {
        target: target.clone(),
        force_snapshot: opts.force_snapshot,
        heap_profile_interval: opts.heap_profile_sampling(),
        node_version: context.node_version.clone(),
        analyze_on_oom: opts.analyze_on_oom,
    });
    let report = oom::install(
        config,
        &PathBuf::from(&context.helper_path),
        &PathBuf::from(&context.analyzer_path),
    )
    .map_err(|e: InstallError| Error::new(Status::GenericFailure, e.to_string()))?;
    if opts.heapdump_on_oom && opts.oom_implementation == Implementation::GcMonitoring {
        gc_monitor::start(GcMonitor::new(target, opts.threshold, opts.limit));
    }
    let mut installed = Object::new(env)?;
    for (name, value) in opts.report() {
        match value {
            Reported::Bool(b) => installed.set(name, b)?,
            Reported::Number(n) => installed.set(name, n)?,
            Reported::String(s) => installed.set(name, s)?,
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

/// Bad options and arguments become `InvalidArg` errors whose message names the option and the
/// value; `?` on an [`OptionError`] does it.
impl From<OptionError> for Error {
    fn from(e: OptionError) -> Error {
        Error::new(Status::InvalidArg, e.to_string())
    }
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
