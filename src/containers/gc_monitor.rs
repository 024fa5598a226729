//! GC_MONITORING: after garbage collections, decide whether to take a heap snapshot while the process
//! keeps running. Triggers when the used heap passes `threshold` percent of the heap limit, or, in a
//! container, when the snapshot's estimated cost passes half the memory left ("snapshot while you
//! still can"); never takes one that is estimated not to fit; at most `limit` snapshots, each after
//! the heap grew by a tenth since the last.

use oom_heapdump_capture::Landed;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread;
use std::time::{Instant, SystemTime};

use crate::containers::cgroup::{self, MemoryLimit};
use crate::diagnosis::{Estimate, SNAPSHOT_COST_RATIO};
use crate::export::{self, Kind};
use crate::on_request::in_process::{self, InProcessError};
use crate::options::SnapshotTarget;
use crate::shim;
use crate::units::{say, Size};

#[derive(Debug)]
pub struct GcMonitor {
    pub target: SnapshotTarget,
    pub threshold: f64,
    pub limit: u32,
    taken: u32,
    last_used: u64,
    told_wont_fit: bool,
    told_limit: bool,
}

/// What to do after a GC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Nothing,
    /// Take a snapshot; the reason is for the log.
    Take(String),
    /// Say so once, then stay quiet.
    Tell(String),
}

impl GcMonitor {
    pub fn new(target: SnapshotTarget, threshold: f64, limit: u32) -> GcMonitor {
        GcMonitor {
            target,
            threshold,
            limit,
            taken: 0,
            last_used: 0,
            told_wont_fit: false,
            told_limit: false,
        }
    }

    pub fn check(&mut self, used: u64, heap_limit: u64, memory: &MemoryLimit) -> Verdict {
        if self.taken >= self.limit {
            if self.told_limit {
                return Verdict::Nothing;
            }
            self.told_limit = true;
            return Verdict::Tell(format!(
                "GC_MONITORING: limit of {} heap snapshots reached; no more will be taken",
                self.limit
            ));
        }
        if self.taken > 0 && used < self.last_used + self.last_used / 10 {
            return Verdict::Nothing;
        }
        let estimate = Estimate::new(used, memory);
        let percent = used as f64 * 100.0 / heap_limit.max(1) as f64;
        let reason = if percent >= self.threshold {
            format!(
                "used heap {} is {percent:.0}% of the {} heap limit (threshold {}%)",
                Size(used),
                Size(heap_limit),
                self.threshold
            )
        } else if memory.is_container() && estimate.needed.saturating_mul(2) >= estimate.headroom {
            format!(
                "a heap snapshot's estimated cost {} ({SNAPSHOT_COST_RATIO}x the {} used heap) passed half of the {} left under the {} limit of {}",
                Size(estimate.needed),
                Size(used),
                Size(estimate.headroom),
                Size(memory.limit),
                memory.source
            )
        } else {
            return Verdict::Nothing;
        };
        if !estimate.fits {
            if self.told_wont_fit {
                return Verdict::Nothing;
            }
            self.told_wont_fit = true;
            return Verdict::Tell(format!(
                "GC_MONITORING: {reason}, and it no longer fits; not taking it (the OOM handler still writes the heap profile and the report)"
            ));
        }
        self.taken += 1;
        self.last_used = used;
        let when = if percent >= self.threshold {
            ""
        } else {
            "; taking it while it still fits"
        };
        Verdict::Take(format!(
            "GC_MONITORING snapshot {} of {}: {reason}{when}",
            self.taken, self.limit
        ))
    }
}

/// The monitor of this process, once installed.
static MONITOR: Mutex<Option<GcMonitor>> = Mutex::new(None);
/// Queues [`after_gc`] on the JS thread; set once.
static WAKE: OnceLock<Box<dyn Fn() + Send + Sync>> = OnceLock::new();
/// A check is queued and has not run yet: GCs in between queue nothing more.
static QUEUED: AtomicBool = AtomicBool::new(false);
/// A snapshot is being taken or written: no checks until it has landed.
static SNAPSHOTTING: AtomicBool = AtomicBool::new(false);

/// Starts monitoring on the calling (JS) thread's isolate. `wake` must run [`after_gc`] on the JS
/// thread; it is called from V8's GC epilogue, so it must not call into V8. False when the thread
/// has no isolate.
pub fn start(monitor: GcMonitor, wake: impl Fn() + Send + Sync + 'static) -> bool {
    *MONITOR.lock().unwrap_or_else(|e| e.into_inner()) = Some(monitor);
    let _ = WAKE.set(Box::new(wake));
    shim::on_every_gc(on_gc)
}

extern "C" fn on_gc() {
    if !QUEUED.swap(true, Ordering::AcqRel) {
        if let Some(wake) = WAKE.get() {
            wake();
        }
    }
}

/// On the JS thread, after garbage collections: decides, says why, and takes the snapshot
/// in-process when it is time (V8 builds it here; a writer thread lands it).
pub fn after_gc() {
    QUEUED.store(false, Ordering::Release);
    if SNAPSHOTTING.load(Ordering::Acquire) {
        return;
    }
    let Some(stats) = shim::heap_statistics() else {
        return;
    };
    let memory = cgroup::read();
    let (verdict, path) = {
        let mut guard = MONITOR.lock().unwrap_or_else(|e| e.into_inner());
        let Some(monitor) = guard.as_mut() else {
            return;
        };
        let verdict = monitor.check(stats.used_heap_size, stats.heap_size_limit, &memory);
        (verdict, monitor.target.final_path(SystemTime::now()))
    };
    match verdict {
        Verdict::Nothing => {}
        Verdict::Tell(message) => say!("node-oom-heapdump: {message}"),
        Verdict::Take(message) => {
            say!("node-oom-heapdump: {message}");
            SNAPSHOTTING.store(true, Ordering::Release);
            if let Err(e) = snapshot(&path, message) {
                say!("node-oom-heapdump: GC_MONITORING snapshot failed: {e}");
                SNAPSHOTTING.store(false, Ordering::Release);
            }
        }
    }
}

/// Takes the snapshot on this thread and lands it from a writer thread, which says how it went;
/// then `exportCommand` runs on it from that thread (`reason`: why it was taken).
fn snapshot(path: &Path, reason: String) -> Result<(), InProcessError> {
    let started = Instant::now();
    let snapshot = in_process::take(None)?;
    let pending = in_process::write(snapshot, path)?;
    let waiter = thread::Builder::new()
        .name("ohd-gc-monitor".into())
        .spawn(move || {
            let landed = pending.wait();
            SNAPSHOTTING.store(false, Ordering::Release);
            match landed {
                Ok((Landed { path, .. }, s)) => {
                    say!(
                        "node-oom-heapdump: wrote {} ({:.1} MB, {} nodes) in {:.1} s",
                        path.display(),
                        s.bytes as f64 / 1e6,
                        s.node_count,
                        started.elapsed().as_secs_f64()
                    );
                    export::run_here(Kind::GcMonitoring, vec![path], &reason);
                }
                Err(e) => say!("node-oom-heapdump: GC_MONITORING snapshot failed: {e}"),
            }
        });
    if let Err(e) = waiter {
        // The writer thread still lands the file; only the message and the re-arming are lost.
        say!("node-oom-heapdump: GC_MONITORING cannot watch its snapshot's writer: {e}");
        SNAPSHOTTING.store(false, Ordering::Release);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    const MB: u64 = 1 << 20;

    fn monitor() -> GcMonitor {
        GcMonitor::new(
            SnapshotTarget {
                dir: PathBuf::from("/d"),
                stem: "s".into(),
                add_timestamp: false,
            },
            70.0,
            2,
        )
    }

    fn mem(source: &str, limit: u64, working_set: u64) -> MemoryLimit {
        MemoryLimit {
            source: source.into(),
            limit,
            usage: working_set,
            inactive_file: 0,
            working_set,
        }
    }

    #[test]
    fn threshold_of_the_heap_limit_triggers_up_to_the_limit() {
        let mut m = monitor();
        let machine = mem("machine", 16 << 30, 1 << 30);
        assert_eq!(m.check(60 * MB, 100 * MB, &machine), Verdict::Nothing);
        assert!(
            matches!(m.check(71 * MB, 100 * MB, &machine), Verdict::Take(r) if r.contains("snapshot 1 of 2: used heap 74.4 MB is 71% of the 104.9 MB heap limit (threshold 70%)"))
        );
        assert_eq!(
            m.check(75 * MB, 100 * MB, &machine),
            Verdict::Nothing,
            "grew less than a tenth"
        );
        assert!(matches!(
            m.check(80 * MB, 100 * MB, &machine),
            Verdict::Take(_)
        ));
        assert!(
            matches!(m.check(95 * MB, 100 * MB, &machine), Verdict::Tell(t) if t.contains("limit of 2"))
        );
        assert_eq!(m.check(99 * MB, 100 * MB, &machine), Verdict::Nothing);
    }

    #[test]
    fn in_a_container_it_triggers_while_the_snapshot_still_fits() {
        let mut m = monitor();
        let cg = |ws| mem("cgroup v1 /t", 256 * MB, ws);
        assert_eq!(
            m.check(2 * MB, 64 * MB, &cg(60 * MB)),
            Verdict::Nothing,
            "40 MB of 196 MB"
        );
        assert!(
            matches!(m.check(5 * MB, 64 * MB, &cg(70 * MB)), Verdict::Take(r) if r.contains("taking it while it still fits"))
        );
        assert!(
            matches!(m.check(40 * MB, 64 * MB, &cg(150 * MB)), Verdict::Tell(t) if t.contains("no longer fits; not taking it"))
        );
        assert_eq!(
            m.check(50 * MB, 64 * MB, &cg(160 * MB)),
            Verdict::Nothing,
            "said once"
        );
    }
}
