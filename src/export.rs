//! `exportCommand` in the app: after GC_MONITORING snapshots, on-request captures and the memory
//! report, the command runs on the files written, from a thread of ours (never the JS thread, and
//! no libuv handle, so it neither blocks JavaScript nor keeps the event loop alive), with the app's
//! own credentials (it is the app's child). After an OOM the helper process runs it instead, once
//! the app has exited (oom/). The running itself, its output and its time limit are
//! [`oom_heapdump_capture::export`]'s, shared with the helper.
//!
//! If the app exits while the command runs, the command lives on in its own process group; only
//! its remaining output and the report of how it ended are lost.

use std::path::PathBuf;
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use oom_heapdump_capture::export::{self, Export};

use crate::units::{say, Secs};

/// The command and its time limit, from the options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportConfig {
    /// The file to run, then its arguments.
    pub command: Vec<String>,
    pub timeout: Duration,
}

/// What was captured, as `NODE_OOM_HEAPDUMP_KIND` says it (after an OOM the helper says `oom`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    GcMonitoring,
    OnRequest,
    MemoryNearLimit,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::GcMonitoring => "gc-monitoring",
            Kind::OnRequest => "on-request",
            Kind::MemoryNearLimit => "memory-near-limit",
        }
    }
}

static CONFIG: Mutex<Option<ExportConfig>> = Mutex::new(None);

/// Sets (or, with None, clears) the command in force; `install` calls it with the options.
pub fn configure(config: Option<ExportConfig>) {
    *CONFIG.lock().unwrap_or_else(|e| e.into_inner()) = config;
}

fn config() -> Option<ExportConfig> {
    CONFIG.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// The export of `files` (those that exist), None when no command is set or no file exists.
fn export_of(kind: Kind, files: Vec<PathBuf>, reason: &str) -> Option<Export> {
    let config = config()?;
    let files: Vec<PathBuf> = files.into_iter().filter(|f| f.exists()).collect();
    if files.is_empty() {
        return None;
    }
    Some(Export {
        command: config.command.into_iter().map(Into::into).collect(),
        files,
        kind: kind.as_str().into(),
        pid: std::process::id(),
        reason: reason.into(),
        timeout: config.timeout,
    })
}

/// Runs the command on `files` on this thread, which must not be the JS thread, and says how it
/// ended. Nothing when no command is set.
pub fn run_here(kind: Kind, files: Vec<PathBuf>, reason: &str) {
    if let Some(export) = export_of(kind, files, reason) {
        run_and_say(&export);
    }
}

/// Runs the command on `files` from a new thread of ours. Nothing when no command is set; where no
/// thread can be started (`pids.max`), stderr says the export was not run.
pub fn in_background(kind: Kind, files: Vec<PathBuf>, reason: String) {
    let Some(export) = export_of(kind, files, &reason) else {
        return;
    };
    let started = thread::Builder::new()
        .name("ohd-export".into())
        .spawn(move || run_and_say(&export));
    if let Err(e) = started {
        say!(
            "{}not run: cannot start a thread for it: {e}",
            export::PREFIX
        );
    }
}

/// Runs `export`, its output on stderr, then says how it ended.
fn run_and_say(export: &Export) {
    let started = Instant::now();
    match export::run(export, &mut std::io::stderr()) {
        Ok(()) => say!(
            "{}done: {} file(s) of the {} capture exported in {}",
            export::PREFIX,
            export.files.len(),
            export.kind,
            Secs(started.elapsed())
        ),
        Err(e) => say!("{}{e}", export::PREFIX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_read_as_the_environment_says_them() {
        let all = [Kind::GcMonitoring, Kind::OnRequest, Kind::MemoryNearLimit];
        let names: Vec<&str> = all.iter().map(|k| k.as_str()).collect();
        assert_eq!(names, ["gc-monitoring", "on-request", "memory-near-limit"]);
    }
}
