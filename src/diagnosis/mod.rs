//! The cheap artifacts written before anything expensive: `<path>.heapprofile` (the sampling heap
//! profile) and `<path>.oom.json` (the report, `report.rs`; the near-limit ones, `near_limit.rs`),
//! both small and written atomically; and the estimate of what a full heap snapshot would cost,
//! against the memory left in the container.

pub mod heap_profile;
pub mod near_limit;
pub mod report;

use std::path::{Path, PathBuf};

use oom_heapdump_capture::{AtomicFile, CaptureError, Landing};

use self::heap_profile::{HeapProfile, Site};
use self::report::HeapProfileOutcome;
pub use self::report::Report;
use crate::containers::cgroup::MemoryLimit;

/// Peak extra RSS while V8 builds and writes a heap snapshot, per byte of used heap. Measured with
/// `node bench/snapshot-cost.js` on Node 20: 14x (maps of strings) to 20x (arrays of small
/// objects, the typical leak); we take the high end, so a snapshot we start does fit.
pub const SNAPSHOT_COST_RATIO: u64 = 20;

/// How many allocation sites the report and stderr name.
const TOP_SITES: usize = 10;

/// Whether a full snapshot fits, and why (or why not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Estimate {
    pub used_heap: u64,
    pub needed: u64,
    pub headroom: u64,
    pub fits: bool,
}

impl Estimate {
    pub fn new(used_heap: u64, memory: &MemoryLimit) -> Estimate {
        let needed = used_heap.saturating_mul(SNAPSHOT_COST_RATIO);
        let headroom = memory.headroom();
        Estimate {
            used_heap,
            needed,
            headroom,
            fits: needed <= headroom,
        }
    }
}

/// `<stem>.heapprofile` and `<stem>.oom.json` beside where the snapshot goes.
pub fn artifact_paths(snapshot_path: &Path) -> (PathBuf, PathBuf) {
    let s = snapshot_path.to_string_lossy();
    let stem = s.strip_suffix(crate::options::SNAPSHOT_EXT).unwrap_or(&s);
    (
        PathBuf::from(format!("{stem}.heapprofile")),
        PathBuf::from(format!("{stem}.oom.json")),
    )
}

/// What the heap profile step produced.
pub struct ProfileOutcome {
    pub outcome: HeapProfileOutcome,
    pub top_sites: Vec<Site>,
}

/// Reads the sampling heap profile (on the JS thread) and writes it to `path`.
pub fn write_heap_profile(path: &Path, at_oom: bool, interval: Option<u64>) -> ProfileOutcome {
    let not_written = |reason: &str| ProfileOutcome {
        outcome: HeapProfileOutcome::not_written(reason),
        top_sites: Vec::new(),
    };
    let Some(interval) = interval else {
        return not_written("the sampling heap profiler is off (heapProfile: false)");
    };
    let Some(profile) = HeapProfile::read(at_oom) else {
        return not_written("V8 returned no sampling heap profile");
    };
    let top_sites = profile.top_sites(TOP_SITES);
    let outcome = match write_file(path, &profile.to_json(interval)) {
        Ok(p) => HeapProfileOutcome::written(p, profile.total_bytes(), interval),
        Err(e) => HeapProfileOutcome::not_written(e.to_string()),
    };
    ProfileOutcome { outcome, top_sites }
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<PathBuf, CaptureError> {
    let mut f = AtomicFile::create(path)?;
    f.write_all(bytes)?;
    f.commit(Landing::Replace)
}

/// Resident set size of this process, from /proc/self/statm.
pub fn process_rss() -> u64 {
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as u64;
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * page)
}

/// Lines for stderr naming the top sites, as "  12.3 MB  fn (file:line:col)".
pub fn describe_sites(sites: &[Site], n: usize) -> String {
    sites
        .iter()
        .take(n)
        .map(|s| {
            format!(
                "\n  {:>9}  {}",
                crate::units::Size(s.bytes).to_string(),
                s.describe()
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memory(limit: u64, working_set: u64) -> MemoryLimit {
        MemoryLimit {
            source: "cgroup v1 /test".into(),
            limit,
            usage: working_set,
            inactive_file: 0,
            working_set,
        }
    }

    #[test]
    fn estimate_compares_twenty_times_the_heap_with_the_headroom() {
        let e = Estimate::new(64 << 20, &memory(256 << 20, 150 << 20));
        assert_eq!(
            (e.needed, e.headroom, e.fits),
            (1280 << 20, 106 << 20, false)
        );
        let e = Estimate::new(4 << 20, &memory(256 << 20, 150 << 20));
        assert!(e.fits);
    }

    #[test]
    fn artifacts_sit_beside_the_snapshot() {
        assert_eq!(
            artifact_paths(Path::new("/d/crash-1.heapsnapshot")),
            (
                PathBuf::from("/d/crash-1.heapprofile"),
                PathBuf::from("/d/crash-1.oom.json")
            )
        );
    }
}
