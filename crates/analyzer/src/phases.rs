//! Where the analysis spends its time and memory, for the scale bench (README, Analyzer): with
//! `NODE_OOM_HEAPDUMP_PHASES=1` in the environment, each phase prints to stderr when it ends, with
//! the seconds since the previous mark, the resident memory now, and the peak resident memory
//! since the previous mark (Linux: `VmRSS` and `VmHWM` of `/proc/self/status`, the peak reset at
//! each mark through `/proc/self/clear_refs`). Phases that run on two threads overlap; the peak of
//! a mark is then that of both. Without the variable a mark costs one load of a flag.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;
use std::time::Instant;

static ENABLED: AtomicU8 = AtomicU8::new(UNKNOWN);
const UNKNOWN: u8 = 2;
static LAST: Mutex<Option<Instant>> = Mutex::new(None);

fn enabled() -> bool {
    match ENABLED.load(Ordering::Relaxed) {
        UNKNOWN => {
            let on = std::env::var_os("NODE_OOM_HEAPDUMP_PHASES").is_some_and(|v| v == "1");
            ENABLED.store(u8::from(on), Ordering::Relaxed);
            on
        }
        v => v == 1,
    }
}

/// Ends the phase `name` (prints nothing unless enabled).
pub(crate) fn mark(name: &str) {
    if !enabled() {
        return;
    }
    let now = Instant::now();
    let seconds = {
        let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
        let s = last.map_or(0.0, |t| now.duration_since(t).as_secs_f64());
        *last = Some(now);
        s
    };
    let (rss, peak) = memory_kb();
    eprintln!(
        "phase {name:<24} {seconds:>7.2} s  rss {:>6} MB  peak {:>6} MB",
        rss / 1000,
        peak / 1000
    );
    // Resets the peak (VmHWM) to the current resident size.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// `VmRSS` and `VmHWM` in kB (0 where unknown).
fn memory_kb() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}
