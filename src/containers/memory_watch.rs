//! Memory outside the V8 heap (Buffers, native memory) can push a process over its container limit
//! with no V8 OOM at all; the kernel then kills it without a word. A thread polls the container's
//! working set every 50 ms; when it passes `rssThreshold` percent of the limit it writes a first
//! report at once (from this thread: container and process figures) and wakes the JS thread for the
//! full one (heap profile, V8 heap, `process.memoryUsage()`, which only that thread can read). Once
//! per episode: it re-arms when usage falls 10 points below the threshold. `exportCommand` runs on
//! the full report and the heap profile, from a thread of its own.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::Duration;

use serde_json::Value;

use crate::containers::cgroup::{self, MemoryLimit};
use crate::diagnosis::near_limit;
use crate::diagnosis::report::NearLimitTrigger;
use crate::export::{self, Kind};
use crate::oom;
use crate::units::{say, Size};

const POLL: Duration = Duration::from_millis(50);
static WATCHING: AtomicBool = AtomicBool::new(false);
/// The latest crossing, for the full report on the JS thread.
static NEAR: Mutex<Option<NearLimit>> = Mutex::new(None);

/// The container's memory when it passed the threshold.
#[derive(Debug, Clone)]
pub struct NearLimit {
    pub working_set: f64,
    pub limit: f64,
    pub percent: f64,
    pub threshold: f64,
    pub source: String,
}

/// Starts the watch (once per process) when a container limit applies; false when none does.
/// `wake` must run [`on_js_thread`] on the JS thread.
pub fn start(threshold: f64, wake: impl Fn() + Send + 'static) -> std::io::Result<bool> {
    if !cgroup::read().is_container() || WATCHING.swap(true, Ordering::SeqCst) {
        return Ok(false);
    }
    let spawned = thread::Builder::new()
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
                    *NEAR.lock().unwrap_or_else(|e| e.into_inner()) = Some(NearLimit {
                        working_set: m.working_set as f64,
                        limit: m.limit as f64,
                        percent,
                        threshold,
                        source: m.source.clone(),
                    });
                    wake();
                } else if in_episode && percent < threshold - 10.0 {
                    in_episode = false;
                }
            }
        });
    if let Err(e) = spawned {
        WATCHING.store(false, Ordering::SeqCst);
        return Err(e);
    }
    Ok(true)
}

/// On the JS thread, woken by the watch: the full report. `memory_usage` is
/// `process.memoryUsage()`, read by the caller (the napi layer) on this thread.
pub fn on_js_thread(memory_usage: Value) {
    let Some(near) = NEAR.lock().unwrap_or_else(|e| e.into_inner()).take() else {
        return;
    };
    if let Err(e) = write_memory_report(&near, memory_usage) {
        say!("node-oom-heapdump: cannot write the memory report: {e}");
    }
}

/// The report this thread can write by itself, at once, in case the kernel is quicker than JS.
fn first_report(m: &MemoryLimit, threshold: f64) {
    if let Some(config) = oom::config() {
        let _ = near_limit::first_report(&config, m, threshold);
    }
}

/// The full report, on the JS thread: `usage` is `process.memoryUsage()`.
fn write_memory_report(near: &NearLimit, usage: Value) -> Result<PathBuf, String> {
    let config = oom::config().ok_or("the OOM hook is not installed")?;
    let trigger = NearLimitTrigger {
        working_set_bytes: near.working_set as u64,
        limit_bytes: near.limit as u64,
        percent: near.percent,
        threshold_percent: near.threshold,
    };
    let path = near_limit::full_report(&config, trigger, &usage).map_err(|e| e.to_string())?;
    let figure = |k: &str| {
        usage
            .get(k)
            .and_then(Value::as_u64)
            .map(|b| Size(b).to_string())
            .unwrap_or_else(|| "?".into())
    };
    let reason = format!(
        "memory at {:.0}% of the {} limit of {} (threshold {}%)",
        near.percent,
        Size(near.limit as u64),
        near.source,
        near.threshold
    );
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
    let profile = path
        .to_str()
        .and_then(|p| p.strip_suffix(".oom.json"))
        .map(|stem| PathBuf::from(format!("{stem}.heapprofile")));
    let files = profile.into_iter().chain(Some(path.clone())).collect();
    export::in_background(Kind::MemoryNearLimit, files, reason);
    Ok(path)
}
