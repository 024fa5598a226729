//! The napi boundary of on-request captures: argument checks (errors become `InvalidArg`), then the
//! DevTools path (`devtools/`) or the in-process path (`in_process.rs`); failures become one JS
//! error each, saying what failed and where.

use napi::bindgen_prelude::{AsyncTask, Function, Unknown};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use std::path::PathBuf;

use napi::{Env, Error, Result, Status, Task};
use napi_derive::napi;
use oom_heapdump_capture::SnapshotSummary;

use super::install::{defaults, to_prop, InstallContext};
use crate::on_request::devtools::{self, Probe};
use crate::on_request::in_process::{self, PendingWrite};
use crate::options::{self, CaptureKind, OptionError};

/// Heap snapshot progress, as V8 reports it.
#[napi(object)]
pub struct Progress {
    pub done: u32,
    pub total: u32,
}

type ProgressFn = ThreadsafeFunction<Progress, (), Progress, Status, false>;

/// A capture's checked arguments.
#[napi(object)]
pub struct PreparedCapture {
    /// Absolute path of the file to write, extension included.
    pub path: String,
    pub duration_ms: f64,
    pub sampling_interval_us: u32,
}

/// A capture that landed.
#[napi(object)]
pub struct CaptureResult {
    /// Absolute path of the file.
    pub path: String,
    /// "devtools" (over the inspector websocket) or "in-process".
    pub transport: String,
    pub bytes: f64,
    /// Heap snapshots only.
    pub node_count: Option<f64>,
    pub edge_count: Option<f64>,
}

impl CaptureResult {
    fn snapshot(transport: &str, path: PathBuf, s: SnapshotSummary) -> CaptureResult {
        CaptureResult {
            path: path.to_string_lossy().into_owned(),
            transport: transport.into(),
            bytes: s.bytes as f64,
            node_count: Some(s.node_count as f64),
            edge_count: Some(s.edge_count as f64),
        }
    }

    fn profile(transport: &str, path: PathBuf, bytes: u64) -> CaptureResult {
        CaptureResult {
            path: path.to_string_lossy().into_owned(),
            transport: transport.into(),
            bytes: bytes as f64,
            node_count: None,
            edge_count: None,
        }
    }
}

fn failure(e: impl std::fmt::Display) -> Error {
    Error::new(Status::GenericFailure, e.to_string())
}

fn invalid(e: OptionError) -> Error {
    Error::new(Status::InvalidArg, e.to_string())
}

/// Checks a capture's arguments: `kind` is "heapsnapshot" or "cpuprofile"; `path` may be undefined
/// (a default name in the default folder); duration and sampling interval apply to CPU profiles.
#[napi]
pub fn prepare_capture(
    kind: String,
    path: Unknown,
    duration_ms: Unknown,
    sampling_interval_us: Unknown,
    context: InstallContext,
) -> Result<PreparedCapture> {
    let kind = match kind.as_str() {
        "heapsnapshot" => CaptureKind::HeapSnapshot,
        "cpuprofile" => CaptureKind::CpuProfile,
        other => {
            return Err(Error::new(
                Status::InvalidArg,
                format!("unknown capture kind {other:?}"),
            ))
        }
    };
    let defaults = defaults(&context)?;
    let path = options::capture_path(
        &to_prop(&path)?,
        kind,
        &defaults,
        std::time::SystemTime::now(),
    )
    .map_err(invalid)?;
    let duration = options::cpu_profile_duration(&to_prop(&duration_ms)?).map_err(invalid)?;
    let interval =
        options::sampling_interval_us(&to_prop(&sampling_interval_us)?).map_err(invalid)?;
    Ok(PreparedCapture {
        path: path.to_string_lossy().into_owned(),
        duration_ms: duration.as_secs_f64() * 1000.0,
        sampling_interval_us: interval,
    })
}

/// Who answers on `port`: "ours" (this process's inspector, target `own_id`), "other", or
/// "none: <reason>". Loopback only.
#[napi]
pub async fn probe_inspector(port: u32, own_id: Option<String>) -> Result<String> {
    Ok(
        match devtools::probe(port_of(port)?, own_id.as_deref()).await {
            Probe::Ours => "ours".into(),
            Probe::Other => "other".into(),
            Probe::Nothing(why) => format!("none: {why}"),
        },
    )
}

/// Takes a heap snapshot over this process's inspector on `port` (target `own_id`), streaming the
/// chunks to `path`.
#[napi]
pub async fn devtools_heap_snapshot(
    port: u32,
    own_id: Option<String>,
    path: String,
    on_progress: Option<ProgressFn>,
) -> Result<CaptureResult> {
    let report = |done, total| {
        if let Some(f) = &on_progress {
            f.call(
                Progress { done, total },
                ThreadsafeFunctionCallMode::NonBlocking,
            );
        }
    };
    let (path, summary) =
        devtools::heap_snapshot::take(port_of(port)?, own_id.as_deref(), path.as_ref(), &report)
            .await
            .map_err(failure)?;
    Ok(CaptureResult::snapshot("devtools", path, summary))
}

/// Records a CPU profile over this process's inspector for `duration_ms`.
#[napi]
pub async fn devtools_cpu_profile(
    port: u32,
    own_id: Option<String>,
    path: String,
    duration_ms: f64,
    sampling_interval_us: u32,
) -> Result<CaptureResult> {
    let duration = std::time::Duration::from_secs_f64(duration_ms / 1000.0);
    let (path, bytes) = devtools::cpu_profile::record(
        port_of(port)?,
        own_id.as_deref(),
        path.as_ref(),
        duration,
        sampling_interval_us,
    )
    .await
    .map_err(failure)?;
    Ok(CaptureResult::profile("devtools", path, bytes))
}

/// Takes a heap snapshot in-process. V8 builds and serializes it on this (JS) thread; the returned
/// promise settles when the writer thread has checked, fsynced and renamed the file. No JS may run
/// while V8 builds the snapshot, so `on_progress` is called with V8's progress values right after.
#[napi]
pub fn in_process_heap_snapshot(
    path: String,
    on_progress: Option<Function<Progress, ()>>,
) -> Result<AsyncTask<FinishSnapshot>> {
    let mut seen = Vec::new();
    let snapshot = in_process::take(&mut |done, total| seen.push(Progress { done, total }))
        .map_err(failure)?;
    if let Some(f) = &on_progress {
        for p in seen {
            f.call(p)?;
        }
    }
    let pending = in_process::write(snapshot, path.as_ref()).map_err(failure)?;
    Ok(AsyncTask::new(FinishSnapshot(Some(pending))))
}

pub struct FinishSnapshot(Option<PendingWrite>);

impl Task for FinishSnapshot {
    type Output = CaptureResult;
    type JsValue = CaptureResult;

    fn compute(&mut self) -> Result<CaptureResult> {
        let pending = self
            .0
            .take()
            .ok_or_else(|| failure("snapshot already finished"))?;
        let (path, summary) = pending.wait().map_err(failure)?;
        Ok(CaptureResult::snapshot("in-process", path, summary))
    }

    fn resolve(&mut self, _: Env, output: CaptureResult) -> Result<CaptureResult> {
        Ok(output)
    }
}

/// Checks and writes a CPU profile recorded in-process (its JSON text), off the JS thread.
#[napi]
pub fn write_cpu_profile(path: String, json: String) -> AsyncTask<WriteCpuProfile> {
    AsyncTask::new(WriteCpuProfile { path, json })
}

pub struct WriteCpuProfile {
    path: String,
    json: String,
}

impl Task for WriteCpuProfile {
    type Output = CaptureResult;
    type JsValue = CaptureResult;

    fn compute(&mut self) -> Result<CaptureResult> {
        let (path, bytes) =
            crate::on_request::cpu_profile_file::write(self.path.as_ref(), self.json.as_bytes())
                .map_err(failure)?;
        Ok(CaptureResult::profile("in-process", path, bytes))
    }

    fn resolve(&mut self, _: Env, output: CaptureResult) -> Result<CaptureResult> {
        Ok(output)
    }
}

fn port_of(port: u32) -> Result<u16> {
    u16::try_from(port).ok().filter(|p| *p > 0).ok_or_else(|| {
        Error::new(
            Status::InvalidArg,
            format!("port must be from 1 to 65535, got {port}"),
        )
    })
}
