//! The "container-memory-near-limit" reports of the memory watch (containers/memory_watch.rs), built
//! here without napi: the first one from the watch thread, the full one from the JS thread.

use std::path::PathBuf;
use std::time::SystemTime;

use oom_heapdump_capture::CaptureError;
use serde_json::Value;

use super::report::{NearLimitTrigger, Report, SnapshotOutcome, Trigger};
use super::{artifact_paths, write_heap_profile};
use crate::containers::cgroup::{self, MemoryLimit};
use crate::oom::OomConfig;
use crate::shim;

/// The report the watch thread can write by itself, at once, in case the kernel is quicker than JS:
/// container and process figures, no V8 ones.
pub fn first_report(
    config: &OomConfig,
    memory: &MemoryLimit,
    threshold_percent: f64,
) -> Result<PathBuf, CaptureError> {
    let (_, report_path) = artifact_paths(&config.target.final_path(SystemTime::now()));
    let trigger = Trigger::NearLimit(NearLimitTrigger::new(memory, threshold_percent));
    Report::new(trigger, &config.node_version, memory, None).write(&report_path)
}

/// The full report, on the JS thread: the figures of `trigger` (those the watch thread saw), the
/// container now, V8's heap, `memory_usage` (`process.memoryUsage()`, or null) and the heap profile,
/// which is written too. No snapshot: it would only add to the memory.
pub fn full_report(
    config: &OomConfig,
    trigger: NearLimitTrigger,
    memory_usage: &Value,
) -> Result<PathBuf, CaptureError> {
    let (profile_path, report_path) = artifact_paths(&config.target.final_path(SystemTime::now()));
    let mut report = Report::new(
        Trigger::NearLimit(trigger),
        &config.node_version,
        &cgroup::read(),
        shim::heap_statistics(),
    );
    report.memory_usage = Some(memory_usage.clone());
    let profile = write_heap_profile(&profile_path, false, config.heap_profile_interval);
    report.set_heap_profile(profile.outcome, profile.top_sites);
    report.snapshot = Some(SnapshotOutcome::not_attempted(
        None,
        "the memory is outside the V8 heap; a heap snapshot would add to it",
    ));
    report.write(&report_path)
}
