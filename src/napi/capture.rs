//! The napi boundary of on-request captures: one entry, `capture`, that checks every argument
//! (bad ones reject with `InvalidArg`), picks the transport (`on_request::plan`) and returns a
//! promise of the landed file. Over DevTools the capture runs on our runtime's thread
//! (`on_request::runtime`, started when first needed; a thread that cannot start rejects the
//! capture); in-process, V8 works on the JS thread and the file is landed off it. A landed file is
//! handed to `exportCommand` (crate::export), in the background.

use std::collections::VecDeque;
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use napi::bindgen_prelude::{BigInt, Function, JsValue, Object, PromiseRaw, ToNapiValue, Unknown};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Env, Result, Status, Task, ValueType};
use napi_derive::napi;
use oom_heapdump_capture::{FileId, Landed, SnapshotSummary};

use super::context::{defaults, to_prop, Context};
use super::errors::{failure, invalid};
use crate::export::{self, Kind};
use crate::on_request::devtools::{self, DevtoolsError};
use crate::on_request::in_process::{self, PendingWrite};
use crate::on_request::transport::{Endpoint, Transport};
use crate::on_request::{self, cpu_profile_file, runtime, Plan, Request};
use crate::options::{CaptureKind, OptionError, Prop, DEFAULT_PORT};

/// Heap snapshot progress, as V8 reports it.
#[napi(object)]
pub struct Progress {
    pub done: u32,
    pub total: u32,
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
    /// Which file landed, read from the writer's descriptor before the rename (absent where
    /// `statx(2)` is not available).
    pub file: Option<LandedFile>,
}

/// Which file a capture wrote (`statx(2)`: device, inode, birth time): what `deleteHeapSnapshot`
/// compares with `fileId(path)` before it removes anything.
#[napi(object)]
pub struct LandedFile {
    pub dev: BigInt,
    pub ino: BigInt,
    pub birthtime_ns: BigInt,
}

impl From<FileId> for LandedFile {
    fn from(id: FileId) -> Self {
        LandedFile {
            dev: id.dev.into(),
            ino: id.ino.into(),
            birthtime_ns: id.birth_ns.into(),
        }
    }
}

/// Which file `path` names now (a final symbolic link not followed), read as a capture's `file`
/// is; null when nothing is there or it cannot be read.
#[napi]
pub fn file_id(path: String) -> Option<LandedFile> {
    FileId::of_path(std::path::Path::new(&path)).map(LandedFile::from)
}

impl CaptureResult {
    fn snapshot(transport: &str, landed: Landed, s: SnapshotSummary) -> CaptureResult {
        CaptureResult {
            node_count: Some(s.node_count as f64),
            edge_count: Some(s.edge_count as f64),
            ..CaptureResult::profile(transport, landed, s.bytes)
        }
    }

    fn profile(transport: &str, landed: Landed, bytes: u64) -> CaptureResult {
        CaptureResult {
            path: landed.path.to_string_lossy().into_owned(),
            transport: transport.into(),
            bytes: bytes as f64,
            node_count: None,
            edge_count: None,
            file: landed.id.map(LandedFile::from),
        }
    }

    /// Starts `exportCommand` (if set) on the landed file, in the background; the result as it is.
    fn exported(self) -> CaptureResult {
        let reason = if self.node_count.is_some() {
            "heap snapshot requested (createHeapSnapshot)"
        } else {
            "CPU profile requested (createCpuProfile)"
        };
        export::in_background(
            Kind::OnRequest,
            vec![PathBuf::from(&self.path)],
            reason.into(),
        );
        self
    }
}

/// Captures a heap snapshot (`kind` "heapsnapshot") or a CPU profile ("cpuprofile") to `path`
/// (undefined: a default name in the default folder). `durationMs` applies to CPU profiles;
/// `options` holds `onProgress`, `samplingIntervalUs` and `transport`; `port` is the inspector port
/// to try when this process has no inspector of its own. Throws `InvalidArg` for a bad argument;
/// the promise rejects when the capture fails, leaving no file.
#[napi(ts_return_type = "Promise<CaptureResult>")]
pub fn capture<'env>(
    env: &'env Env,
    kind: String,
    path: Unknown,
    duration_ms: Unknown,
    options: Option<Object>,
    port: Option<u32>,
    context: Context,
) -> Result<PromiseRaw<'env, CaptureResult>> {
    let kind = match kind.as_str() {
        "heapsnapshot" => CaptureKind::HeapSnapshot,
        "cpuprofile" => CaptureKind::CpuProfile,
        other => return Err(failure(format!("unknown capture kind {other:?}"))),
    };
    let option = |name: &str| -> Result<Option<Unknown>> {
        match &options {
            Some(o) => o.get::<Unknown>(name),
            None => Ok(None),
        }
    };
    let on_progress = match option("onProgress")? {
        Some(v) if v.get_type()? == ValueType::Function => {
            Some(unsafe { v.cast::<Function<Progress, ()>>() }?)
        }
        Some(v) if v.get_type()? != ValueType::Undefined => {
            return Err(invalid(OptionError::Type {
                name: "option `onProgress`",
                expected: "a function",
                got: to_prop(&v)?.describe(),
            }))
        }
        _ => None,
    };
    let prop = |v: Option<Unknown>| v.map_or(Ok(Prop::Undefined), |v| to_prop(&v));
    let transport = prop(option("transport")?)?;
    let interval = prop(option("samplingIntervalUs")?)?;
    let request = Request {
        kind,
        path: &to_prop(&path)?,
        duration_ms: &to_prop(&duration_ms)?,
        sampling_interval_us: &interval,
        transport: &transport,
        inspector_url: context.inspector_url.as_deref(),
        port: port
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p > 0)
            .unwrap_or(DEFAULT_PORT),
    };
    let plan =
        on_request::plan(&request, &defaults(&context)?, SystemTime::now()).map_err(invalid)?;
    match (plan.kind, plan.transport.clone()) {
        (CaptureKind::HeapSnapshot, Transport::Devtools { endpoint, id }) => {
            let reporter = Reporter::new(env, on_progress)?;
            settle_on_runtime(env, async move {
                let result = devtools_heap_snapshot(plan, endpoint, id, reporter).await?;
                Ok(resolved(result))
            })
        }
        (CaptureKind::HeapSnapshot, Transport::InProcess) => {
            // V8 is asked for progress only for an onProgress (it costs a pass over the heap).
            let mut seen = Vec::new();
            let mut collect = |done, total| seen.push(Progress { done, total });
            let progress = on_progress
                .is_some()
                .then_some(&mut collect as &mut dyn FnMut(u32, u32));
            let snapshot = in_process::take(progress).map_err(failure)?;
            if let Some(f) = &on_progress {
                for p in seen {
                    f.call(p)?;
                }
            }
            let pending = in_process::write(snapshot, &plan.path).map_err(failure)?;
            Ok(env.spawn(FinishSnapshot(Some(pending)))?.promise_object())
        }
        (CaptureKind::CpuProfile, Transport::Devtools { endpoint, id }) => {
            settle_on_runtime(env, async move {
                let (landed, bytes) = devtools::cpu_profile::record(
                    endpoint,
                    id.as_deref(),
                    &plan.path,
                    plan.duration,
                    plan.sampling_interval_us,
                )
                .await
                .map_err(failure)?;
                Ok(resolved(
                    CaptureResult::profile("devtools", landed, bytes).exported(),
                ))
            })
        }
        (CaptureKind::CpuProfile, Transport::InProcess) => {
            let duration = plan.duration;
            // Started before the profile, so that a runtime that cannot start leaves nothing running.
            let handle = runtime::handle(RUNTIME_WORK).map_err(failure)?;
            let run = JsThreadOnly(
                in_process::start_cpu_profile(plan.sampling_interval_us).map_err(failure)?,
            );
            let (deferred, promise) =
                env.create_deferred::<PromiseRaw<'static, CaptureResult>, Resolver<_>>()?;
            handle.spawn(async move {
                tokio::time::sleep(duration).await;
                // On the JS thread, where the profile was started: stop it, then write it on a libuv
                // worker. A promise resolved with a promise takes on its outcome.
                deferred.resolve(Box::new(move |env: Env| {
                    let json = in_process::stop_cpu_profile(run.into_inner()).map_err(failure)?;
                    let written = env
                        .spawn(WriteCpuProfile {
                            path: plan.path,
                            json,
                        })?
                        .promise_object();
                    Ok(PromiseRaw::new(env.raw(), written.raw()))
                }));
            });
            Ok(PromiseRaw::new(env.raw(), promise.raw()))
        }
    }
}

/// A value that travels through another thread untouched and is only used again on the JS thread
/// that made it (a deferred's resolver runs there).
struct JsThreadOnly<T>(T);

// SAFETY: the value is only moved (never used) off the JS thread, and used again on it.
unsafe impl<T> Send for JsThreadOnly<T> {}

impl<T> JsThreadOnly<T> {
    /// On the JS thread that made it.
    fn into_inner(self) -> T {
        self.0
    }
}

/// What the runtime is started for, in the error when it cannot be.
const RUNTIME_WORK: &str = "the capture";

/// Settles a promise on the JS thread: `Env` -> the value.
type Resolver<T> = Box<dyn FnOnce(Env) -> Result<T> + Send>;

fn resolved<T: Send + 'static>(value: T) -> Resolver<T> {
    Box::new(move |_| Ok(value))
}

/// A promise settled with what `work` gives, run on our runtime's thread. A runtime that cannot
/// start throws here, before anything starts (the caller's async function then rejects).
fn settle_on_runtime<'env, T: ToNapiValue + 'static>(
    env: &'env Env,
    work: impl Future<Output = Result<Resolver<T>>> + Send + 'static,
) -> Result<PromiseRaw<'env, T>> {
    let handle = runtime::handle(RUNTIME_WORK).map_err(failure)?;
    let (deferred, promise) = env.create_deferred::<T, Resolver<T>>()?;
    handle.spawn(async move {
        match work.await {
            Ok(resolve) => deferred.resolve(resolve),
            Err(e) => deferred.reject(e),
        }
    });
    Ok(PromiseRaw::new(env.raw(), promise.raw()))
}

async fn devtools_heap_snapshot(
    plan: Plan,
    endpoint: Endpoint,
    id: Option<String>,
    reporter: Reporter,
) -> Result<CaptureResult> {
    match devtools::heap_snapshot::take(endpoint, id.as_deref(), &plan.path, &reporter).await {
        Ok((landed, summary)) => {
            Ok(CaptureResult::snapshot("devtools", landed, summary).exported())
        }
        // The callback's own error, as in-process (where it is thrown from `capture`).
        Err(e @ DevtoolsError::ProgressFailed) => {
            Err(reporter.thrown().unwrap_or_else(|| failure(e)))
        }
        Err(e) => Err(failure(e)),
    }
}

/// The app's `onProgress`, called on the JS thread from the capture's thread: reports are queued
/// here and a weak threadsafe function (our closure, not the app's function) makes the calls. The
/// first call that throws keeps its error (the capture rejects with it) and no call is made after it,
/// as in-process.
struct Reporter {
    wake: Option<ReporterTsfn>,
    state: Arc<ReporterState>,
}

type ReporterTsfn = ThreadsafeFunction<(), (), (), Status, false, true>;

#[derive(Default)]
struct ReporterState {
    /// Reports not yet given to the app.
    queue: Mutex<VecDeque<Progress>>,
    failed: AtomicBool,
    thrown: Mutex<Option<napi::Error>>,
}

impl ReporterState {
    fn queue(&self) -> std::sync::MutexGuard<'_, VecDeque<Progress>> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Reporter {
    /// On the JS thread.
    fn new(env: &Env, on_progress: Option<Function<Progress, ()>>) -> Result<Reporter> {
        let state = Arc::new(ReporterState::default());
        let Some(f) = on_progress else {
            return Ok(Reporter { wake: None, state });
        };
        let f = f.create_ref()?;
        let shared = state.clone();
        let call =
            env.create_function_from_closure::<(), (), _>("nodeOomHeapdumpProgress", move |ctx| {
                let f = f.borrow_back(ctx.env)?;
                while let Some(p) = shared.queue().pop_front() {
                    if shared.failed.load(Ordering::SeqCst) {
                        continue;
                    }
                    if let Err(thrown) = f.call(p) {
                        *shared.thrown.lock().unwrap_or_else(|e| e.into_inner()) = Some(thrown);
                        shared.failed.store(true, Ordering::SeqCst);
                    }
                }
                Ok(())
            })?;
        let wake = call
            .build_threadsafe_function::<()>()
            .weak::<true>()
            .callee_handled::<false>()
            .build()?;
        Ok(Reporter {
            wake: Some(wake),
            state,
        })
    }

    /// The callback's error, once it threw.
    fn thrown(&self) -> Option<napi::Error> {
        self.state
            .thrown
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }
}

impl devtools::heap_snapshot::ProgressSink for Reporter {
    fn wanted(&self) -> bool {
        self.wake.is_some()
    }

    fn report(&self, done: u32, total: u32) -> bool {
        if self.failed() {
            return false;
        }
        if let Some(wake) = &self.wake {
            self.state.queue().push_back(Progress { done, total });
            if wake.call((), ThreadsafeFunctionCallMode::NonBlocking) != Status::Ok {
                // The JS thread is going away: nobody will take these.
                self.state.queue().clear();
            }
        }
        true
    }

    fn pending(&self) -> bool {
        !self.state.queue().is_empty()
    }

    fn failed(&self) -> bool {
        self.state.failed.load(Ordering::SeqCst)
    }
}

/// Waits, on a libuv worker, for the writer thread of an in-process snapshot to land the file.
pub struct FinishSnapshot(Option<PendingWrite>);

impl Task for FinishSnapshot {
    type Output = CaptureResult;
    type JsValue = CaptureResult;

    fn compute(&mut self) -> Result<CaptureResult> {
        let pending = self
            .0
            .take()
            .ok_or_else(|| failure("snapshot already finished"))?;
        let (landed, summary) = pending.wait().map_err(failure)?;
        Ok(CaptureResult::snapshot("in-process", landed, summary).exported())
    }

    fn resolve(&mut self, _: Env, output: CaptureResult) -> Result<CaptureResult> {
        Ok(output)
    }
}

/// Checks and writes an in-process CPU profile (V8's JSON), on a libuv worker.
pub struct WriteCpuProfile {
    path: PathBuf,
    json: Vec<u8>,
}

impl Task for WriteCpuProfile {
    type Output = CaptureResult;
    type JsValue = CaptureResult;

    fn compute(&mut self) -> Result<CaptureResult> {
        let (landed, bytes) = cpu_profile_file::write(&self.path, &self.json).map_err(failure)?;
        Ok(CaptureResult::profile("in-process", landed, bytes).exported())
    }

    fn resolve(&mut self, _: Env, output: CaptureResult) -> Result<CaptureResult> {
        Ok(output)
    }
}
