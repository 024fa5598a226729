//! The `.oom.json` report as types: one struct per part, so that its keys are written down once and
//! a rename fails the tests below. The README documents the format; people's scripts read it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use oom_heapdump_capture::CaptureError;
use serde::{Serialize, Serializer};
use serde_json::Value;

use super::heap_profile::Site;
use super::{process_rss, write_file, Estimate, SNAPSHOT_COST_RATIO};
use crate::containers::cgroup::MemoryLimit;
use crate::options::iso_time;
use crate::shim::{self, HeapSpace, HeapStats};

/// The `.oom.json` report, rewritten as the handling goes on. A public format, like the analyzer's
/// `--json`: fields may be added, never renamed or removed.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub kind: Kind,
    /// ISO 8601, UTC.
    pub time: String,
    pub pid: u32,
    pub node_version: String,
    pub process_rss_bytes: u64,
    /// null when V8's figures cannot be read (off the JS thread).
    pub heap_statistics: Option<HeapStats>,
    /// Only with `heapStatistics`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heap_spaces: Option<Vec<HeapSpace>>,
    pub container: MemoryLimit,
    pub trigger: Trigger,
    /// `process.memoryUsage()` as JS gave it (null if unreadable); near-limit reports from the JS
    /// thread only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_usage: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heap_profile: Option<HeapProfileOutcome>,
    /// With `heapProfile`; empty when there is no profile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_allocation_sites: Option<Vec<Site>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<SnapshotOutcome>,
    /// With the `upload` option: added by the helper once the upload ended, after this process
    /// exited (the objects uploaded, or the error). The uploaded copy of the report lists the
    /// objects before it; the local one, all of them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload: Option<oom_heapdump_upload::UploadOutcome>,
}

/// `kind`: what set the report off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Kind {
    #[serde(rename = "v8-heap-oom")]
    V8HeapOom,
    #[serde(rename = "container-memory-near-limit")]
    ContainerMemoryNearLimit,
}

/// `trigger`: the figures of what set the report off, by kind.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Trigger {
    V8HeapOom(OomTrigger),
    NearLimit(NearLimitTrigger),
}

/// `trigger` of a "v8-heap-oom" report: where V8 gave up.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OomTrigger {
    pub location: String,
    /// null when V8 gave none.
    pub detail: Option<String>,
    /// false when a native allocation inside V8 failed.
    pub is_heap_oom: bool,
}

/// `trigger` of a "container-memory-near-limit" report: the container's figures when the threshold
/// was passed.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NearLimitTrigger {
    pub working_set_bytes: u64,
    pub limit_bytes: u64,
    pub percent: f64,
    pub threshold_percent: f64,
}

/// `heapProfile`: where the `.heapprofile` went, or why there is none.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HeapProfileOutcome {
    written: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sampled_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    interval_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

/// `snapshot`: what was done about the heap snapshot, with the estimate it was decided on. Goes
/// from in progress (written first, in case the kernel kills the process meanwhile) to written or
/// failed; or is not attempted, with the reason.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotOutcome {
    /// `usedHeapBytes`, `costRatio`, `estimatedBytes`, `headroomBytes`, `fits`; absent where no
    /// estimate applies (memory outside the V8 heap).
    #[serde(flatten)]
    estimate: Option<Estimate>,
    attempted: bool,
    /// Why it was not attempted.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    outcome: Option<Outcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bytes: Option<u64>,
    /// From the start of the handling to the end of the snapshot.
    #[serde(skip_serializing_if = "Option::is_none")]
    seconds: Option<f64>,
}

/// `snapshot.outcome`, a string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    InProgress,
    Written,
    Failed(String),
}

impl Report {
    /// A report with what is known at once: time, process, V8 heap (`stats`, read on the JS thread;
    /// the spaces are read with them), container.
    pub fn new(
        trigger: Trigger,
        node_version: &str,
        memory: &MemoryLimit,
        stats: Option<HeapStats>,
    ) -> Report {
        Report {
            kind: trigger.kind(),
            time: iso_time(SystemTime::now()),
            pid: std::process::id(),
            node_version: node_version.to_owned(),
            process_rss_bytes: process_rss(),
            heap_statistics: stats,
            heap_spaces: stats.map(|_| shim::heap_spaces()),
            container: memory.clone(),
            trigger,
            memory_usage: None,
            heap_profile: None,
            top_allocation_sites: None,
            snapshot: None,
            upload: None,
        }
    }

    /// Records the heap profile step: its outcome and the top sites.
    pub fn set_heap_profile(&mut self, outcome: HeapProfileOutcome, sites: Vec<Site>) {
        self.heap_profile = Some(outcome);
        self.top_allocation_sites = Some(sites);
    }

    /// The used V8 heap, 0 when unknown.
    pub fn used_heap(&self) -> u64 {
        self.heap_statistics.map_or(0, |s| s.used_heap_size)
    }

    /// The report as written: pretty JSON and a newline.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Paths come from JS strings, so they are UTF-8 and serializing cannot fail.
        let mut text = serde_json::to_vec_pretty(self).expect("JSON of plain values");
        text.push(b'\n');
        text
    }

    /// Writes (or rewrites) the report at `path` atomically.
    pub fn write(&self, path: &Path) -> Result<PathBuf, CaptureError> {
        write_file(path, &self.to_bytes())
    }
}

impl Trigger {
    fn kind(&self) -> Kind {
        match self {
            Trigger::V8HeapOom(_) => Kind::V8HeapOom,
            Trigger::NearLimit(_) => Kind::ContainerMemoryNearLimit,
        }
    }
}

impl NearLimitTrigger {
    /// The figures of `memory` against `threshold_percent`.
    pub fn new(memory: &MemoryLimit, threshold_percent: f64) -> NearLimitTrigger {
        NearLimitTrigger {
            working_set_bytes: memory.working_set,
            limit_bytes: memory.limit,
            percent: memory.working_set as f64 * 100.0 / memory.limit.max(1) as f64,
            threshold_percent,
        }
    }
}

impl HeapProfileOutcome {
    pub fn written(path: PathBuf, sampled_bytes: u64, interval_bytes: u64) -> HeapProfileOutcome {
        HeapProfileOutcome {
            written: true,
            path: Some(path),
            sampled_bytes: Some(sampled_bytes),
            interval_bytes: Some(interval_bytes),
            reason: None,
        }
    }

    pub fn not_written(reason: impl Into<String>) -> HeapProfileOutcome {
        HeapProfileOutcome {
            written: false,
            path: None,
            sampled_bytes: None,
            interval_bytes: None,
            reason: Some(reason.into()),
        }
    }

    /// Where the profile was written, if it was.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }
}

impl SnapshotOutcome {
    /// No snapshot, and why; with the estimate when the decision was made on it.
    pub fn not_attempted(estimate: Option<Estimate>, reason: impl Into<String>) -> SnapshotOutcome {
        SnapshotOutcome {
            estimate,
            attempted: false,
            reason: Some(reason.into()),
            path: None,
            outcome: None,
            bytes: None,
            seconds: None,
        }
    }

    /// Being taken, to `path`: what the report says until the snapshot is written or has failed.
    pub fn in_progress(estimate: Estimate, path: &Path) -> SnapshotOutcome {
        SnapshotOutcome {
            estimate: Some(estimate),
            attempted: true,
            reason: None,
            path: Some(path.to_owned()),
            outcome: Some(Outcome::InProgress),
            bytes: None,
            seconds: None,
        }
    }

    /// Written to `path` (which may differ from the one asked for: `addTimestamp` never replaces).
    pub fn written(&mut self, path: &Path, bytes: u64, seconds: f64) {
        self.path = Some(path.to_owned());
        self.outcome = Some(Outcome::Written);
        self.bytes = Some(bytes);
        self.seconds = Some(seconds);
    }

    /// Not written, for `reason`.
    pub fn failed(&mut self, reason: impl fmt::Display, seconds: f64) {
        self.outcome = Some(Outcome::Failed(reason.to_string()));
        self.seconds = Some(seconds);
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::InProgress => {
                f.write_str("in progress (if this stays, the process was killed while writing it)")
            }
            Outcome::Written => f.write_str("written"),
            Outcome::Failed(reason) => write!(f, "failed: {reason}"),
        }
    }
}

impl Serialize for Outcome {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The estimate's figures in `snapshot`.
impl Serialize for Estimate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Figures {
            used_heap_bytes: u64,
            cost_ratio: u64,
            estimated_bytes: u64,
            headroom_bytes: u64,
            fits: bool,
        }
        Figures {
            used_heap_bytes: self.used_heap,
            cost_ratio: SNAPSHOT_COST_RATIO,
            estimated_bytes: self.needed,
            headroom_bytes: self.headroom,
            fits: self.fits,
        }
        .serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memory() -> MemoryLimit {
        MemoryLimit {
            source: "cgroup v2 /test".into(),
            limit: 256 << 20,
            usage: 200 << 20,
            inactive_file: 0,
            working_set: 200 << 20,
        }
    }

    fn stats() -> HeapStats {
        HeapStats {
            used_heap_size: 60 << 20,
            ..HeapStats::default()
        }
    }

    /// A report as [`Report::new`] makes it, with fixed time, pid and RSS, and one heap space
    /// standing for those the shim reads from V8.
    fn report(trigger: Trigger, stats: Option<HeapStats>) -> Report {
        Report {
            time: "2024-01-02T03:04:05.678Z".into(),
            pid: 42,
            process_rss_bytes: 1 << 20,
            heap_statistics: stats,
            heap_spaces: stats.map(|_| {
                vec![HeapSpace {
                    name: "old_space".into(),
                    size: 1,
                    used_size: 1,
                    available_size: 0,
                    physical_size: 1,
                }]
            }),
            ..Report::new(trigger, "v20.0.0", &memory(), None)
        }
    }

    fn oom_report() -> Report {
        let mut r = report(
            Trigger::V8HeapOom(OomTrigger {
                location: "Reached heap limit".into(),
                detail: None,
                is_heap_oom: true,
            }),
            Some(stats()),
        );
        r.set_heap_profile(
            HeapProfileOutcome::written("/d/crash.heapprofile".into(), 1000, 512 * 1024),
            vec![Site {
                function_name: "leak".into(),
                url: "file:///app/leak.js".into(),
                line_number: 3,
                column_number: 7,
                bytes: 1000,
            }],
        );
        r
    }

    fn estimate() -> Estimate {
        Estimate::new(60 << 20, &memory())
    }

    fn json(r: &Report) -> Value {
        serde_json::from_slice(&r.to_bytes()).unwrap()
    }

    /// The OOM report with this snapshot outcome, as JSON.
    fn oom_json(snapshot: SnapshotOutcome) -> Value {
        let mut r = oom_report();
        r.snapshot = Some(snapshot);
        json(&r)
    }

    /// The keys of `v`, sorted, each with its JSON type.
    fn keys(v: &Value) -> Vec<String> {
        let mut keys: Vec<String> = v
            .as_object()
            .expect("an object")
            .iter()
            .map(|(k, v)| {
                let t = match v {
                    Value::Null => "null",
                    Value::Bool(_) => "bool",
                    Value::Number(n) if n.is_f64() => "float",
                    Value::Number(_) => "int",
                    Value::String(_) => "string",
                    Value::Array(_) => "array",
                    Value::Object(_) => "object",
                };
                format!("{k}:{t}")
            })
            .collect();
        keys.sort();
        keys
    }

    const COMMON: [&str; 7] = [
        "container:object",
        "kind:string",
        "nodeVersion:string",
        "pid:int",
        "processRssBytes:int",
        "time:string",
        "trigger:object",
    ];

    /// The keys every report has, and `more`, sorted as [`keys`] lists them.
    fn with_common(more: &[&str]) -> Vec<String> {
        sorted(&COMMON, more)
    }

    const ESTIMATE: [&str; 5] = [
        "costRatio:int",
        "estimatedBytes:int",
        "fits:bool",
        "headroomBytes:int",
        "usedHeapBytes:int",
    ];

    /// The keys of the snapshot estimate, and `more`, sorted as [`keys`] lists them.
    fn with_estimate(more: &[&str]) -> Vec<String> {
        sorted(&ESTIMATE, more)
    }

    fn sorted(base: &[&str], more: &[&str]) -> Vec<String> {
        let mut all: Vec<String> = base.iter().chain(more).map(|s| s.to_string()).collect();
        all.sort();
        all
    }

    const OOM_PARTS: [&str; 5] = [
        "heapStatistics:object",
        "heapProfile:object",
        "heapSpaces:array",
        "snapshot:object",
        "topAllocationSites:array",
    ];

    #[test]
    fn v8_heap_oom_report_parts() {
        let v = oom_json(SnapshotOutcome::not_attempted(Some(estimate()), "too big"));
        assert_eq!(keys(&v), with_common(&OOM_PARTS));
        assert_eq!(v["kind"], "v8-heap-oom");
        assert_eq!(
            keys(&v["trigger"]),
            ["detail:null", "isHeapOom:bool", "location:string"]
        );
        assert_eq!(
            keys(&v["container"]),
            [
                "inactiveFile:int",
                "limit:int",
                "source:string",
                "usage:int",
                "workingSet:int"
            ]
        );
        assert_eq!(
            keys(&v["heapStatistics"]),
            [
                "externalMemory:int",
                "heapSizeLimit:int",
                "mallocedMemory:int",
                "numberOfDetachedContexts:int",
                "numberOfNativeContexts:int",
                "totalAvailableSize:int",
                "totalHeapSize:int",
                "totalPhysicalSize:int",
                "usedHeapSize:int"
            ]
        );
        assert_eq!(
            keys(&v["heapSpaces"][0]),
            [
                "availableSize:int",
                "name:string",
                "physicalSize:int",
                "size:int",
                "usedSize:int"
            ]
        );
        assert_eq!(
            keys(&v["topAllocationSites"][0]),
            [
                "bytes:int",
                "columnNumber:int",
                "functionName:string",
                "lineNumber:int",
                "url:string"
            ]
        );
        assert_eq!(
            keys(&v["heapProfile"]),
            [
                "intervalBytes:int",
                "path:string",
                "sampledBytes:int",
                "written:bool"
            ]
        );
    }

    #[test]
    fn trigger_detail_is_a_string_when_v8_gives_one() {
        let mut r = oom_report();
        r.trigger = Trigger::V8HeapOom(OomTrigger {
            location: "CALL_AND_RETRY_LAST".into(),
            detail: Some("MarkCompactCollector: young object promotion failed".into()),
            is_heap_oom: false,
        });
        assert_eq!(
            keys(&json(&r)["trigger"]),
            ["detail:string", "isHeapOom:bool", "location:string"]
        );
    }

    #[test]
    fn heap_profile_not_written_gives_the_reason() {
        let mut r = oom_report();
        r.set_heap_profile(
            HeapProfileOutcome::not_written("the sampling heap profiler is off"),
            Vec::new(),
        );
        let v = json(&r);
        assert_eq!(keys(&v["heapProfile"]), ["reason:string", "written:bool"]);
        assert_eq!(v["heapProfile"]["written"], false);
        assert_eq!(v["topAllocationSites"], serde_json::json!([]));
    }

    #[test]
    fn snapshot_not_attempted_with_the_estimate() {
        let v = oom_json(SnapshotOutcome::not_attempted(
            Some(estimate()),
            "a heap snapshot would need about ...",
        ));
        assert_eq!(
            keys(&v["snapshot"]),
            with_estimate(&["attempted:bool", "reason:string"])
        );
        assert_eq!(v["snapshot"]["attempted"], false);
        assert_eq!(v["snapshot"]["costRatio"], SNAPSHOT_COST_RATIO);
        assert_eq!(v["snapshot"]["usedHeapBytes"], 60u64 << 20);
        assert_eq!(v["snapshot"]["estimatedBytes"], 1200u64 << 20);
        assert_eq!(v["snapshot"]["headroomBytes"], 56u64 << 20);
        assert_eq!(v["snapshot"]["fits"], false);
    }

    #[test]
    fn snapshot_in_progress_then_written() {
        let mut s = SnapshotOutcome::in_progress(estimate(), Path::new("/d/crash.heapsnapshot"));
        let v = oom_json(s.clone());
        assert_eq!(
            keys(&v["snapshot"]),
            with_estimate(&["attempted:bool", "outcome:string", "path:string"])
        );
        assert_eq!(v["snapshot"]["attempted"], true);
        assert_eq!(
            v["snapshot"]["outcome"],
            "in progress (if this stays, the process was killed while writing it)"
        );
        assert_eq!(v["snapshot"]["path"], "/d/crash.heapsnapshot");

        s.written(Path::new("/d/crash-2.heapsnapshot"), 123, 4.5);
        let v = oom_json(s);
        assert_eq!(
            keys(&v["snapshot"]),
            with_estimate(&[
                "attempted:bool",
                "bytes:int",
                "outcome:string",
                "path:string",
                "seconds:float"
            ])
        );
        assert_eq!(v["snapshot"]["outcome"], "written");
        assert_eq!(v["snapshot"]["path"], "/d/crash-2.heapsnapshot");
        assert_eq!(v["snapshot"]["bytes"], 123);
    }

    #[test]
    fn snapshot_failed_keeps_the_path_asked_for() {
        let mut s = SnapshotOutcome::in_progress(estimate(), Path::new("/d/crash.heapsnapshot"));
        s.failed("cannot write: No space left on device", 1.0);
        let v = oom_json(s);
        assert_eq!(
            keys(&v["snapshot"]),
            with_estimate(&[
                "attempted:bool",
                "outcome:string",
                "path:string",
                "seconds:float"
            ])
        );
        assert_eq!(
            v["snapshot"]["outcome"],
            "failed: cannot write: No space left on device"
        );
    }

    #[test]
    fn near_limit_first_report_has_no_v8_figures() {
        let r = report(
            Trigger::NearLimit(NearLimitTrigger::new(&memory(), 80.0)),
            None,
        );
        let v = json(&r);
        assert_eq!(v["kind"], "container-memory-near-limit");
        assert_eq!(keys(&v), with_common(&["heapStatistics:null"]));
        assert_eq!(v["heapStatistics"], Value::Null);
        assert_eq!(
            keys(&v["trigger"]),
            [
                "limitBytes:int",
                "percent:float",
                "thresholdPercent:float",
                "workingSetBytes:int"
            ]
        );
        assert_eq!(v["trigger"]["percent"], 78.125);
    }

    #[test]
    fn near_limit_full_report() {
        let mut r = report(
            Trigger::NearLimit(NearLimitTrigger::new(&memory(), 80.0)),
            Some(stats()),
        );
        r.memory_usage = Some(serde_json::json!({ "rss": 1, "heapUsed": 2, "arrayBuffers": 3 }));
        r.set_heap_profile(
            HeapProfileOutcome::written("/d/crash.heapprofile".into(), 1000, 512 * 1024),
            Vec::new(),
        );
        r.snapshot = Some(SnapshotOutcome::not_attempted(
            None,
            "the memory is outside the V8 heap",
        ));
        let v = json(&r);
        assert_eq!(
            keys(&v),
            with_common(&[
                "heapStatistics:object",
                "memoryUsage:object",
                "heapProfile:object",
                "heapSpaces:array",
                "snapshot:object",
                "topAllocationSites:array"
            ])
        );
        assert_eq!(keys(&v["snapshot"]), ["attempted:bool", "reason:string"]);
        assert_eq!(v["memoryUsage"]["arrayBuffers"], 3);
    }

    #[test]
    fn unreadable_memory_usage_is_null() {
        let mut r = report(
            Trigger::NearLimit(NearLimitTrigger::new(&memory(), 80.0)),
            None,
        );
        r.memory_usage = Some(Value::Null);
        assert_eq!(
            keys(&json(&r)),
            with_common(&["heapStatistics:null", "memoryUsage:null"])
        );
    }
}
