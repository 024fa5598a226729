//! Memory outside the V8 heap (Buffers, native memory) can push a process over its container limit
//! with no V8 OOM at all; the kernel then kills it without a word. A thread polls the container's
//! working set every 50 ms; when it passes `rssThreshold` percent of the limit it writes a first
//! report at once (from this thread: container and process figures) and asks the JS thread for the
//! full one (heap profile, V8 heap, `process.memoryUsage()`). Once per episode: it re-arms when usage
//! falls 10 points below the threshold.

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use napi::bindgen_prelude::Function;
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi::{Error, Result, Status};
use napi_derive::napi;
use serde_json::Value;

use crate::containers::cgroup::{self, MemoryLimit};
use crate::diagnosis::near_limit;
use crate::diagnosis::report::NearLimitTrigger;
use crate::oom;
use crate::units::{say, Size};

const POLL: Duration = Duration::from_millis(50);
static WATCHING: AtomicBool = AtomicBool::new(false);

/// Handed to the JS callback when the container's memory passes the threshold.
#[napi(object)]
pub struct NearLimit {
    pub working_set: f64,
    pub limit: f64,
    pub percent: f64,
    pub threshold: f64,
    pub source: String,
}

/// Starts the watch (once per process) when a container limit applies; false when none does.
#[napi]
pub fn watch_container_memory(
    threshold: f64,
    on_near_limit: Function<NearLimit, ()>,
) -> Result<bool> {
    if !cgroup::read().is_container() || WATCHING.swap(true, Ordering::SeqCst) {
        return Ok(false);
    }
    // Weak: the watch must not keep the event loop alive.
    let notify = on_near_limit
        .build_threadsafe_function()
        .weak::<true>()
        .callee_handled::<false>()
        .build()?;
    thread::Builder::new()
        .name("ohd-memory-watch".into())
        .spawn(move || {
            let mut in_episode = false;
            loop {
                thread::sleep(POLL);
                let m = cgroup::read();
                let percent = m.working_set as f64 * 100.0 / m.limit.max(1) as f64;
                if !in_episode && percent >= threshold {
                    in_episode = true;
                    first_report(&m, threshold);
                    notify.call(
                        NearLimit {
                            working_set: m.working_set as f64,
                            limit: m.limit as f64,
                            percent,
                            threshold,
                            source: m.source.clone(),
                        },
                        ThreadsafeFunctionCallMode::NonBlocking,
                    );
                } else if in_episode && percent < threshold - 10.0 {
                    in_episode = false;
                }
            }
        })
        .map_err(|e| {
            Error::new(
                Status::GenericFailure,
                format!("cannot start the memory watch: {e}"),
            )
        })?;
    Ok(true)
}

/// The report this thread can write by itself, at once, in case the kernel is quicker than JS.
fn first_report(m: &MemoryLimit, threshold: f64) {
    if let Some(config) = oom::config() {
        let _ = near_limit::first_report(&config, m, threshold);
    }
}

/// The full report, on the JS thread: `memory_usage` is `process.memoryUsage()` as JSON.
#[napi]
pub fn write_memory_report(near: NearLimit, memory_usage: String) -> Result<String> {
    let config = oom::config()
        .ok_or_else(|| Error::new(Status::GenericFailure, "the OOM hook is not installed"))?;
    let usage: Value = serde_json::from_str(&memory_usage).unwrap_or(Value::Null);
    let trigger = NearLimitTrigger {
        working_set_bytes: near.working_set as u64,
        limit_bytes: near.limit as u64,
        percent: near.percent,
        threshold_percent: near.threshold,
    };
    let path = near_limit::full_report(&config, trigger, &usage)
        .map_err(|e| Error::new(Status::GenericFailure, e.to_string()))?;
    let figure = |k: &str| {
        usage
            .get(k)
            .and_then(Value::as_u64)
            .map(|b| Size(b).to_string())
            .unwrap_or_else(|| "?".into())
    };
    say!(
        "node-oom-heapdump: memory at {:.0}% of the {} limit of {} (threshold {}%): rss {}, V8 heap used {}, external {}, array buffers {}; report {}",
        near.percent,
        Size(near.limit as u64),
        near.source,
        near.threshold,
        figure("rss"),
        figure("heapUsed"),
        figure("external"),
        figure("arrayBuffers"),
        path.display()
    );
    Ok(path.to_string_lossy().into_owned())
}
