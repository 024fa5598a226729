//! What happens when V8 runs out of heap: V8 calls the shim's handler, which calls [`on_oom`] on the
//! dying thread. First the cheap artifacts (`diagnosis.rs`: the sampling heap profile and the
//! report), then, if the estimated cost fits in the memory left (or `forceSnapshot`), the snapshot:
//! taken here (only V8 can walk its heap), streamed to the helper process, or, if the helper cannot
//! take it, written from this process with the same atomic rules. Then the process exits with
//! status 1, as the original package's did.

mod helper;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use oom_heapdump_capture::protocol::{Ack, Request};
use oom_heapdump_capture::{
    partial_path, sweep_stale_partials, CaptureError, Landing, SnapshotWriter,
};
use serde_json::json;

use self::helper::{Helper, HelperError};
use crate::containers::cgroup;
use crate::diagnosis::{self, Estimate, Report};
use crate::options::SnapshotTarget;
use crate::shim::{self, HeapSnapshot, OomEvent};
use crate::units::{say, Secs, Size};

/// Bytes V8 hands over at a time.
const CHUNK_BYTES: usize = 256 * 1024;

/// What the OOM handler needs to know, set (and reset) by `install`.
#[derive(Debug, Clone)]
pub struct OomConfig {
    pub target: SnapshotTarget,
    pub force_snapshot: bool,
    pub heap_profile_interval: Option<u64>,
    pub node_version: String,
    /// Ask the helper to print what fills the heap once this process has exited.
    pub analyze_on_oom: bool,
}

struct Installed {
    config: Mutex<Option<OomConfig>>,
    helper: Mutex<Result<Helper, String>>,
}

static INSTALLED: OnceLock<Installed> = OnceLock::new();

#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("the OOM hook can only be installed from a thread that runs JavaScript")]
    NoIsolate,
}

/// What `install` did, for the JS side.
pub struct InstallReport {
    pub helper_pid: Option<u32>,
    pub helper_error: Option<String>,
}

/// Installs the hook (first call) or retargets it (later calls: the JS module registry may be reset,
/// as test runners do). `config` None installs nothing, or, once installed (V8 has no way to
/// uninstall), turns snapshots off.
pub fn install(
    config: Option<OomConfig>,
    helper_exe: &Path,
    analyzer_exe: &Path,
) -> Result<InstallReport, InstallError> {
    match &config {
        Some(c) => report_stale_partials(&c.target.dir),
        None if INSTALLED.get().is_none() => {
            return Ok(InstallReport {
                helper_pid: None,
                helper_error: None,
            })
        }
        None => {}
    }
    let first = INSTALLED.get().is_none();
    let installed = INSTALLED.get_or_init(|| Installed {
        config: Mutex::new(None),
        helper: Mutex::new(
            Helper::spawn(helper_exe, analyzer_exe)
                .map_err(|e| format!("cannot start {}: {e}", helper_exe.display())),
        ),
    });
    if first {
        if !shim::install_oom_handler(on_oom) {
            return Err(InstallError::NoIsolate);
        }
        if let Some(interval) = config.as_ref().and_then(|c| c.heap_profile_interval) {
            shim::start_sampling_heap_profiler(interval);
        }
    }
    *installed.config.lock().unwrap_or_else(|e| e.into_inner()) = config;
    let helper = installed.helper.lock().unwrap_or_else(|e| e.into_inner());
    Ok(match &*helper {
        Ok(h) => InstallReport {
            helper_pid: Some(h.pid()),
            helper_error: None,
        },
        Err(e) => InstallReport {
            helper_pid: None,
            helper_error: Some(e.clone()),
        },
    })
}

/// The configuration in force, if the hook is installed and on.
pub fn config() -> Option<OomConfig> {
    INSTALLED
        .get()?
        .config
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
}

/// Removes temporaries that captures killed mid-write left in `dir`, and says so.
fn report_stale_partials(dir: &Path) {
    // A zombie is dead: in containers PID 1 often never reaps, and a killed writer stays a zombie.
    let alive = |pid: u32| match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !matches!(
            stat.rsplit_once(") ").map(|(_, rest)| rest.as_bytes()[0]),
            Some(b'Z' | b'X')
        ),
        Err(_) => false,
    };
    if let Ok(removed) = sweep_stale_partials(dir, alive) {
        for p in removed {
            say!(
                "node-oom-heapdump: removed {} ({}), an incomplete capture left by pid {} which was killed while writing it",
                p.path.display(),
                Size(p.bytes),
                p.pid
            );
        }
    }
}

/// V8's OOM handler (through the shim). Never returns.
pub extern "C" fn on_oom(event: *const OomEvent) {
    let _ = std::panic::catch_unwind(|| handle(unsafe { &*event }));
    unsafe { libc::_exit(1) }
}

fn handle(event: &OomEvent) {
    let what = if event.is_heap_oom() {
        "Allocation failed - JavaScript heap out of memory"
    } else {
        "Allocation failed - process out of memory"
    };
    // Node's own wording, so that log alerts written for it keep matching.
    match event.detail() {
        Some(detail) => say!("FATAL ERROR: {} {what} ({detail})", event.location()),
        None => say!("FATAL ERROR: {} {what}", event.location()),
    }
    let Some(installed) = INSTALLED.get() else {
        return;
    };
    let config = match installed.config.try_lock() {
        Ok(c) => c.clone(),
        Err(_) => None,
    };
    let Some(config) = config else {
        say!("node-oom-heapdump: heapdumpOnOOM is off; no heap snapshot");
        return;
    };
    if !event.on_watched_thread() {
        say!("node-oom-heapdump: out of memory outside the main thread's heap; no heap snapshot");
        return;
    }
    let started = Instant::now();
    let final_path = config.target.final_path(SystemTime::now());
    let (profile_path, report_path) = diagnosis::artifact_paths(&final_path);

    // The cheap artifacts first: they survive even if what follows gets the process killed.
    let memory = cgroup::read();
    let stats = shim::heap_statistics();
    let mut report = Report::new(
        report_path,
        "v8-heap-oom",
        &config.node_version,
        &memory,
        stats,
    );
    report.set(
        "trigger",
        json!({ "location": event.location(), "detail": event.detail(), "isHeapOom": event.is_heap_oom() }),
    );
    let profile = diagnosis::write_heap_profile(&profile_path, true, config.heap_profile_interval);
    report
        .set("heapProfile", profile.json.clone())
        .set_sites(&profile.top_sites);
    if !profile.top_sites.is_empty() {
        say!(
            "node-oom-heapdump: where the heap was allocated (live sampled bytes by allocation site):{}",
            diagnosis::describe_sites(&profile.top_sites, 5)
        );
    }

    let estimate = Estimate::new(stats.map_or(0, |s| s.used_heap_size), &memory);
    let skip = if !event.is_heap_oom() {
        Some("V8 could not allocate native memory; a heap snapshot needs more of it".to_owned())
    } else if !estimate.fits && !config.force_snapshot {
        Some(format!(
            "a heap snapshot would need about {} ({}x the {} used heap) but only {} is left under the {} limit of {} (set forceSnapshot to take it anyway)",
            Size(estimate.needed),
            diagnosis::SNAPSHOT_COST_RATIO,
            Size(estimate.used_heap),
            Size(estimate.headroom),
            Size(memory.limit),
            memory.source,
        ))
    } else {
        None
    };
    let mut snapshot_json = estimate.to_json();
    if let Some(reason) = &skip {
        snapshot_json["attempted"] = json!(false);
        snapshot_json["reason"] = json!(reason);
        report.set("snapshot", snapshot_json);
        let written = report.write();
        say!("node-oom-heapdump: no heap snapshot: {reason}");
        say_written(&written, profile.json.get("path"));
        return;
    }
    snapshot_json["attempted"] = json!(true);
    snapshot_json["path"] = json!(final_path);
    snapshot_json["outcome"] =
        json!("in progress (if this stays, the process was killed while writing it)");
    report.set("snapshot", snapshot_json.clone());
    let _ = report.write();

    let outcome = write_snapshot(
        installed,
        &final_path,
        config.target.add_timestamp,
        config.analyze_on_oom,
    );
    match &outcome {
        Ok((
            Ack::Written {
                path,
                bytes,
                node_count,
                edge_count,
            },
            via,
            taken,
        )) => {
            say!(
                "node-oom-heapdump: wrote {} ({}, {node_count} nodes, {edge_count} edges) in {} (snapshot {}, writing {}) via {via}",
                path.display(),
                Size(*bytes),
                Secs(started.elapsed()),
                Secs(*taken),
                Secs(started.elapsed().saturating_sub(*taken)),
            );
            snapshot_json["outcome"] = json!("written");
            snapshot_json["path"] = json!(path);
            snapshot_json["bytes"] = json!(bytes);
        }
        Ok((Ack::Failed(msg), _, _)) => {
            say!("node-oom-heapdump: no heap snapshot written: {msg}");
            snapshot_json["outcome"] = json!(format!("failed: {msg}"));
        }
        Err(err) => {
            say!("node-oom-heapdump: no heap snapshot written: {err}");
            snapshot_json["outcome"] = json!(format!("failed: {err}"));
        }
    }
    snapshot_json["seconds"] = json!(started.elapsed().as_secs_f64());
    report.set("snapshot", snapshot_json);
    say_written(&report.write(), profile.json.get("path"));
}

fn say_written(report: &Result<PathBuf, CaptureError>, profile: Option<&serde_json::Value>) {
    match report {
        Ok(p) => say!(
            "node-oom-heapdump: report {}{}",
            p.display(),
            profile
                .and_then(|p| p.as_str())
                .map(|p| format!("; heap profile {p} (opens in Chrome DevTools' Memory tab)"))
                .unwrap_or_default()
        ),
        Err(e) => say!("node-oom-heapdump: cannot write the report: {e}"),
    }
}

/// Takes the snapshot and lands it through the helper, or from this process if the helper cannot.
/// Returns the answer, who wrote it, and how long V8 took to build the snapshot.
fn write_snapshot(
    installed: &Installed,
    final_path: &Path,
    add_timestamp: bool,
    summarize: bool,
) -> Result<(Ack, &'static str, Duration), CaptureError> {
    let landing = if add_timestamp {
        Landing::KeepExisting
    } else {
        Landing::Replace
    };
    say!(
        "node-oom-heapdump: generating heap snapshot to {} now",
        final_path.display()
    );
    let started = Instant::now();
    let Some(snapshot) = HeapSnapshot::take_at_oom() else {
        return Ok((
            Ack::Failed("V8 returned no heap snapshot".into()),
            "nobody",
            started.elapsed(),
        ));
    };
    let taken = started.elapsed();
    let request = Request {
        final_path: final_path.to_owned(),
        landing,
        summarize,
    };
    let mut helper = installed.helper.try_lock();
    let via_helper = match helper.as_deref_mut() {
        Ok(Ok(h)) => {
            let pid = h.pid();
            let r = h.capture(&request, |sink| snapshot.serialize(CHUNK_BYTES, sink));
            if r.is_err() {
                // A helper that was killed leaves its temporary behind; it was for this capture.
                let _ = std::fs::remove_file(partial_path(final_path, pid));
            }
            r
        }
        Ok(Err(spawn_error)) => Err(HelperError::Failed(spawn_error.clone())),
        Err(_) => Err(HelperError::Failed("helper is busy".into())),
    };
    match via_helper {
        Ok(ack) => Ok((ack, "helper process", taken)),
        Err(err) => {
            say!("node-oom-heapdump: the helper could not write the snapshot ({err}); writing it from this process instead");
            write_in_process(&snapshot, &request).map(|ack| (ack, "this process", taken))
        }
    }
}

/// The fallback: the same temporary name, check, fsync and rename, from this process.
fn write_in_process(snapshot: &HeapSnapshot, req: &Request) -> Result<Ack, CaptureError> {
    let mut writer = SnapshotWriter::create(&req.final_path)?;
    let mut error = None;
    // Whether V8 reached the end is judged by the completeness check in `finish`.
    snapshot.serialize(CHUNK_BYTES, &mut |chunk| match writer.write(chunk) {
        Ok(()) => true,
        Err(e) => {
            error = Some(e);
            false
        }
    });
    if let Some(e) = error {
        return Err(e);
    }
    let (path, summary): (PathBuf, _) = writer.finish(req.landing)?;
    Ok(Ack::Written {
        path,
        bytes: summary.bytes,
        node_count: summary.node_count,
        edge_count: summary.edge_count,
    })
}
