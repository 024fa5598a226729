//! Captures the app asks for: the request checked into a [`Plan`] (`transport.rs` picks the way),
//! then carried out over this process's DevTools inspector (`devtools.rs`, over the
//! `oom-heapdump-devtools` crate) or in-process
//! (`in_process.rs`); every capture lands with the same atomic rules. `runtime.rs` is the one thread
//! the asynchronous work runs on, started when first needed.

pub mod devtools;
pub mod in_process;
pub mod runtime;
pub mod transport;

pub use oom_heapdump_devtools::cpu_profile_file;

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crate::options::{self, CaptureKind, Defaults, OptionError, Prop};
use transport::{OwnInspector, Requested, Transport};

/// A capture's arguments as the caller gave them.
pub struct Request<'a> {
    pub kind: CaptureKind,
    pub path: &'a Prop,
    pub duration_ms: &'a Prop,
    pub sampling_interval_us: &'a Prop,
    pub transport: &'a Prop,
    /// `inspector.url()` of this process, if it has an inspector.
    pub inspector_url: Option<&'a str>,
    /// The configured inspector port, for "devtools" when this process has no inspector.
    pub port: u16,
}

/// A checked capture: what to write, where, and which way.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub kind: CaptureKind,
    /// Absolute path of the file to write, extension included.
    pub path: PathBuf,
    /// CPU profiles only.
    pub duration: Duration,
    pub sampling_interval_us: u32,
    pub transport: Transport,
}

/// Checks every argument (errors name the argument and the value) and picks the transport.
pub fn plan(req: &Request, defaults: &Defaults, now: SystemTime) -> Result<Plan, OptionError> {
    let requested = Requested::parse(req.transport)?;
    let path = options::capture_path(req.path, req.kind, defaults, now)?;
    let duration = options::cpu_profile_duration(req.duration_ms)?;
    let sampling_interval_us = options::sampling_interval_us(req.sampling_interval_us)?;
    let own = req.inspector_url.and_then(OwnInspector::parse);
    Ok(Plan {
        kind: req.kind,
        path,
        duration,
        sampling_interval_us,
        transport: transport::choose(requested, own.as_ref(), req.port)?,
    })
}
