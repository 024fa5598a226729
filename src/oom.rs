//! What happens when V8 runs out of heap: V8 calls the shim's handler, which calls [`on_oom`] on the
//! dying thread. We take the snapshot there (only V8 can walk its heap), stream it to the helper
//! process, or, if the helper cannot take it, write it from this process with the same atomic rules.
//! Then the process exits with status 1, as the original package's did.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use oom_heapdump_capture::protocol::{Ack, Request};
use oom_heapdump_capture::{
    partial_path, sweep_stale_partials, CaptureError, Landing, SnapshotWriter,
};

use crate::helper_process::{Helper, HelperError};
use crate::options::SnapshotTarget;
use crate::shim::{self, HeapSnapshot, OomEvent};

/// Bytes V8 hands over at a time.
const CHUNK_BYTES: usize = 256 * 1024;

struct Installed {
    target: Mutex<Option<SnapshotTarget>>,
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
/// as test runners do). `target` None installs nothing, or, once installed (V8 has no way to
/// uninstall), turns snapshots off.
pub fn install(
    target: Option<SnapshotTarget>,
    helper_exe: &Path,
) -> Result<InstallReport, InstallError> {
    match &target {
        Some(t) => report_stale_partials(&t.dir),
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
        target: Mutex::new(None),
        helper: Mutex::new(
            Helper::spawn(helper_exe)
                .map_err(|e| format!("cannot start {}: {e}", helper_exe.display())),
        ),
    });
    if first && !shim::install_oom_handler(on_oom) {
        return Err(InstallError::NoIsolate);
    }
    *installed.target.lock().unwrap_or_else(|e| e.into_inner()) = target;
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
            eprintln!(
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
        Some(detail) => eprintln!("FATAL ERROR: {} {what} ({detail})", event.location()),
        None => eprintln!("FATAL ERROR: {} {what}", event.location()),
    }
    let Some(installed) = INSTALLED.get() else {
        return;
    };
    let target = match installed.target.try_lock() {
        Ok(t) => t.clone(),
        Err(_) => None,
    };
    let Some(target) = target else {
        eprintln!("node-oom-heapdump: heapdumpOnOOM is off; no heap snapshot");
        return;
    };
    if !event.on_watched_thread() {
        eprintln!(
            "node-oom-heapdump: out of memory outside the main thread's heap; no heap snapshot"
        );
        return;
    }
    if !event.is_heap_oom() {
        eprintln!("node-oom-heapdump: V8 could not allocate native memory; a heap snapshot needs more of it, so none is taken");
        return;
    }
    let final_path = target.final_path(SystemTime::now());
    let landing = if target.add_timestamp {
        Landing::KeepExisting
    } else {
        Landing::Replace
    };
    eprintln!(
        "node-oom-heapdump: generating heap snapshot to {} now",
        final_path.display()
    );
    let started = Instant::now();
    let Some(snapshot) = HeapSnapshot::take_at_oom() else {
        eprintln!("node-oom-heapdump: V8 returned no heap snapshot");
        return;
    };
    let taken = started.elapsed();
    let request = Request {
        final_path: final_path.clone(),
        landing,
    };
    let mut helper = installed.helper.try_lock();
    let via_helper = match helper.as_deref_mut() {
        Ok(Ok(h)) => {
            let pid = h.pid();
            let r = h.capture(&request, |sink| snapshot.serialize(CHUNK_BYTES, sink));
            if r.is_err() {
                // A helper that was killed leaves its temporary behind; it was for this capture.
                let _ = std::fs::remove_file(partial_path(&final_path, pid));
            }
            r
        }
        Ok(Err(spawn_error)) => Err(HelperError::Failed(spawn_error.clone())),
        Err(_) => Err(HelperError::Failed("helper is busy".into())),
    };
    let outcome = match via_helper {
        Ok(ack) => Ok((ack, "helper process")),
        Err(err) => {
            eprintln!("node-oom-heapdump: the helper could not write the snapshot ({err}); writing it from this process instead");
            write_in_process(&snapshot, &request).map(|ack| (ack, "this process"))
        }
    };
    drop(snapshot);
    match outcome {
        Ok((
            Ack::Written {
                path,
                bytes,
                node_count,
                edge_count,
            },
            via,
        )) => eprintln!(
            "node-oom-heapdump: wrote {} ({}, {node_count} nodes, {edge_count} edges) in {} (snapshot {}, writing {}) via {via}",
            path.display(),
            Size(bytes),
            Secs(started.elapsed()),
            Secs(taken),
            Secs(started.elapsed() - taken),
        ),
        Ok((Ack::Failed(msg), _)) => eprintln!("node-oom-heapdump: no heap snapshot written: {msg}"),
        Err(err) => eprintln!("node-oom-heapdump: no heap snapshot written: {err}"),
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

/// A byte count as people read it.
pub struct Size(pub u64);

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0 as f64;
        match self.0 {
            n if n >= 1 << 30 => write!(f, "{:.2} GB", b / 1e9),
            n if n >= 1 << 20 => write!(f, "{:.1} MB", b / 1e6),
            n if n >= 1 << 10 => write!(f, "{:.1} kB", b / 1e3),
            n => write!(f, "{n} bytes"),
        }
    }
}

struct Secs(Duration);

impl fmt::Display for Secs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.1} s", self.0.as_secs_f64())
    }
}
