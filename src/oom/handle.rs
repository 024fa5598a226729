//! What happens at OOM, on the dying thread, as a list of steps (`handle`): each one below, in the
//! order it runs. The last one hands the list of files written to the helper, which converts the
//! heap profile to pprof (`pprof`) and runs `exportCommand` on them once this process has exited.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use oom_heapdump_capture::protocol::{Ack, ExportFiles};
use oom_heapdump_capture::CaptureError;

use super::install::{Installed, OomConfig, INSTALLED};
use super::snapshot::take_and_land;
use crate::containers::cgroup::{self, MemoryLimit};
use crate::diagnosis::report::{OomTrigger, SnapshotOutcome, Trigger};
use crate::diagnosis::{self, Estimate, Report};
use crate::shim::{self, OomEvent};
use crate::units::{say, Secs, Size};

/// V8's OOM handler (through the shim). Never returns.
pub extern "C" fn on_oom(event: *const OomEvent) {
    let _ = std::panic::catch_unwind(|| handle(unsafe { &*event }));
    unsafe { libc::_exit(1) }
}

/// The steps, in order. Returning ends the handling; `on_oom` then exits.
fn handle(event: &OomEvent) {
    announce(event);
    let Some((installed, config)) = armed(event) else {
        return;
    };
    let started = Instant::now();
    let mut oom = cheap_artifacts(event, &config);
    let estimate = Estimate::new(oom.report.used_heap(), &oom.report.container);
    if let Err(reason) = decide(event, &config, &estimate, &oom.report.container) {
        skip(&mut oom, estimate, &reason);
        export(installed, &config, event, &oom, None);
        return;
    }
    let mut snapshot = SnapshotOutcome::in_progress(estimate, &oom.snapshot_path);
    // Written before the snapshot is taken, in case the kernel kills the process meanwhile.
    let _ = oom.write_report(snapshot.clone());
    let landed = take_and_land(
        installed,
        &oom.snapshot_path,
        config.target.add_timestamp,
        config.analyze_on_oom,
    );
    let snapshot_file = record_landing(&mut snapshot, landed, started);
    let written = oom.write_report(snapshot);
    oom.say_written(&written);
    export(installed, &config, event, &oom, snapshot_file);
}

/// With `exportCommand` or `pprof`: tells the helper which of this OOM's files exist (the snapshot
/// if it was written, the heap profile, the report), for it to convert the heap profile to pprof
/// and run the command on them once this process has exited. Without a helper nothing is spawned
/// from this dying process; stderr says so.
fn export(
    installed: &Installed,
    config: &OomConfig,
    event: &OomEvent,
    oom: &Artifacts,
    snapshot: Option<PathBuf>,
) {
    if config.export.is_none() && config.upload.is_none() && !config.pprof {
        return;
    }
    let profile = oom.report.heap_profile.as_ref().and_then(|p| p.path());
    let files: Vec<PathBuf> = snapshot
        .into_iter()
        .chain(profile.map(|p| p.to_owned()))
        .chain(Some(oom.report_path.clone()))
        .filter(|f| f.exists())
        .collect();
    let message = ExportFiles {
        reason: format!("{} {}", event.location(), what_ran_out(event)),
        files,
    };
    let sent = match installed.helper.try_lock().as_deref_mut() {
        Ok(Ok(h)) if h.takes_files() => h.send_export(&message).map_err(|e| e.to_string()),
        Ok(Ok(_)) => Err("the helper was started without it".into()),
        Ok(Err(spawn_error)) => Err(spawn_error.clone()),
        Err(_) => Err("the helper is busy".into()),
    };
    let jobs = |all: bool| {
        [
            ("export", config.export.is_some()),
            ("upload", config.upload.is_some()),
            ("pprof", all && config.pprof),
        ]
        .iter()
        .filter(|(_, on)| *on)
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(" and ")
    };
    match sent {
        Ok(()) if config.export.is_some() || config.upload.is_some() => say!(
            "node-oom-heapdump: export: {} file(s) to {} once this process has exited, by the helper process",
            message.files.len(),
            jobs(false)
        ),
        Ok(()) => {}
        Err(why) => say!(
            "node-oom-heapdump: {}: not run, the helper process cannot run it ({why})",
            jobs(true)
        ),
    }
}

/// What V8 ran out of, in Node's own words.
fn what_ran_out(event: &OomEvent) -> &'static str {
    if event.is_heap_oom() {
        "Allocation failed - JavaScript heap out of memory"
    } else {
        "Allocation failed - process out of memory"
    }
}

/// This OOM's files, and its report as it stands.
struct Artifacts {
    snapshot_path: PathBuf,
    report_path: PathBuf,
    report: Report,
}

impl Artifacts {
    /// Writes (or rewrites) the report, with `snapshot` as it now stands.
    fn write_report(&mut self, snapshot: SnapshotOutcome) -> Result<PathBuf, CaptureError> {
        self.report.snapshot = Some(snapshot);
        self.report.write(&self.report_path)
    }

    /// Says where the report (and the heap profile) went.
    fn say_written(&self, written: &Result<PathBuf, CaptureError>) {
        let profile = self.report.heap_profile.as_ref().and_then(|p| p.path());
        match written {
            Ok(p) => say!(
                "node-oom-heapdump: report {}{}",
                p.display(),
                profile
                    .map(|p| format!(
                        "; heap profile {} (opens in Chrome DevTools' Memory tab)",
                        p.display()
                    ))
                    .unwrap_or_default()
            ),
            Err(e) => say!("node-oom-heapdump: cannot write the report: {e}"),
        }
    }
}

/// Says what V8 ran out of, in Node's own wording, so that log alerts written for it keep matching.
fn announce(event: &OomEvent) {
    let what = what_ran_out(event);
    match event.detail() {
        Some(detail) => say!("FATAL ERROR: {} {what} ({detail})", event.location()),
        None => say!("FATAL ERROR: {} {what}", event.location()),
    }
}

/// The hook and its configuration, if this OOM is one to handle (installed, heapdumpOnOOM on, the
/// heap of the thread that installed it); None, having said why, if not.
fn armed(event: &OomEvent) -> Option<(&'static Installed, OomConfig)> {
    let installed = INSTALLED.get()?;
    let Some(config) = installed.config.try_lock().ok().and_then(|c| c.clone()) else {
        say!("node-oom-heapdump: heapdumpOnOOM is off; no heap snapshot");
        return None;
    };
    if !event.on_watched_thread() {
        say!("node-oom-heapdump: out of memory outside the main thread's heap; no heap snapshot");
        return None;
    }
    Some((installed, config))
}

/// The cheap artifacts, before anything expensive so that they survive what follows: the report's
/// figures (written with the decision, next) and the heap profile, written, its top sites said.
fn cheap_artifacts(event: &OomEvent, config: &OomConfig) -> Artifacts {
    let snapshot_path = config.target.final_path(SystemTime::now());
    let (profile_path, report_path) = diagnosis::artifact_paths(&snapshot_path);
    let trigger = Trigger::V8HeapOom(OomTrigger {
        location: event.location(),
        detail: event.detail(),
        is_heap_oom: event.is_heap_oom(),
    });
    let mut report = Report::new(
        trigger,
        &config.node_version,
        &cgroup::read(),
        shim::heap_statistics(),
    );
    let profile = diagnosis::write_heap_profile(&profile_path, true, config.heap_profile_interval);
    if !profile.top_sites.is_empty() {
        say!(
            "node-oom-heapdump: where the heap was allocated (live sampled bytes by allocation site):{}",
            diagnosis::describe_sites(&profile.top_sites, 5)
        );
    }
    report.set_heap_profile(profile.outcome, profile.top_sites);
    Artifacts {
        snapshot_path,
        report_path,
        report,
    }
}

/// Whether to take the snapshot: not when V8 ran out of native memory (a snapshot needs more), nor
/// when its estimated cost exceeds the memory left, unless `forceSnapshot`. Err is the reason.
fn decide(
    event: &OomEvent,
    config: &OomConfig,
    estimate: &Estimate,
    memory: &MemoryLimit,
) -> Result<(), String> {
    if !event.is_heap_oom() {
        Err("V8 could not allocate native memory; a heap snapshot needs more of it".to_owned())
    } else if !estimate.fits && !config.force_snapshot {
        Err(format!(
            "a heap snapshot would need about {} ({}x the {} used heap) but only {} is left under the {} limit of {} (set forceSnapshot to take it anyway)",
            Size(estimate.needed),
            diagnosis::SNAPSHOT_COST_RATIO,
            Size(estimate.used_heap),
            Size(estimate.headroom),
            Size(memory.limit),
            memory.source,
        ))
    } else {
        Ok(())
    }
}

/// No snapshot: the final report says why, and so does stderr.
fn skip(oom: &mut Artifacts, estimate: Estimate, reason: &str) {
    let written = oom.write_report(SnapshotOutcome::not_attempted(Some(estimate), reason));
    say!("node-oom-heapdump: no heap snapshot: {reason}");
    oom.say_written(&written);
}

/// Says how the snapshot landed (or why it did not), and records it in `snapshot`; the file
/// written, if it was.
fn record_landing(
    snapshot: &mut SnapshotOutcome,
    landed: Result<(Ack, &str, Duration), CaptureError>,
    started: Instant,
) -> Option<PathBuf> {
    match landed {
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
                Size(bytes),
                Secs(started.elapsed()),
                Secs(taken),
                Secs(started.elapsed().saturating_sub(taken)),
            );
            snapshot.written(&path, bytes, started.elapsed().as_secs_f64());
            Some(path)
        }
        Ok((Ack::Replaced(msg), _, _)) => {
            say!("node-oom-heapdump: the heap snapshot was written, then taken over: {msg}");
            snapshot.failed(msg, started.elapsed().as_secs_f64());
            None
        }
        // Helper::capture turns an export's answer into an error: never seen here.
        Ok((Ack::Accepted, _, _)) => None,
        Ok((Ack::Failed(msg) | Ack::OutOfSpace(msg), _, _)) => {
            say!("node-oom-heapdump: no heap snapshot written: {msg}");
            snapshot.failed(msg, started.elapsed().as_secs_f64());
            None
        }
        Err(err) => {
            say!("node-oom-heapdump: no heap snapshot written: {err}");
            snapshot.failed(err, started.elapsed().as_secs_f64());
            None
        }
    }
}
