//! Installing the OOM hook: V8's handler (through the shim), the helper process started ahead of
//! time, and the configuration the handler reads when the time comes.

use std::path::Path;
use std::sync::{Mutex, OnceLock};

use oom_heapdump_capture::sweep_stale_partials;

use super::handle::on_oom;
use super::helper::Helper;
use crate::export::ExportConfig;
use crate::options::SnapshotTarget;
use crate::shim;
use crate::units::{say, Size};

/// What the OOM handler needs to know, set (and reset) by `install`.
#[derive(Debug, Clone)]
pub struct OomConfig {
    pub target: SnapshotTarget,
    pub force_snapshot: bool,
    pub heap_profile_interval: Option<u64>,
    pub node_version: String,
    /// Ask the helper to print what fills the heap once this process has exited.
    pub analyze_on_oom: bool,
    /// The helper converts the heap profile to pprof once this process has exited.
    pub pprof: bool,
    /// The command the helper runs on the OOM's files once this process has exited.
    pub export: Option<ExportConfig>,
    /// Where the helper uploads the OOM's files once this process has exited.
    pub upload: Option<UploadConfig>,
}

/// The `upload` and `uploadCompression` options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadConfig {
    pub url: oom_heapdump_upload::S3Url,
    pub compression: oom_heapdump_upload::Compression,
}

/// What the handler finds: the configuration (None: snapshots off) and the helper, or why it could
/// not be started.
pub(super) struct Installed {
    pub(super) config: Mutex<Option<OomConfig>>,
    pub(super) helper: Mutex<Result<Helper, String>>,
}

pub(super) static INSTALLED: OnceLock<Installed> = OnceLock::new();

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
    let spawn = |c: &OomConfig| {
        Helper::spawn(
            helper_exe,
            analyzer_exe,
            &c.target.dir,
            &c.target.stem,
            c.export.as_ref(),
            c.pprof,
            c.upload.as_ref(),
        )
        .map_err(|e| format!("cannot start {}: {e}", helper_exe.display()))
    };
    let installed = INSTALLED.get_or_init(|| Installed {
        config: Mutex::new(None),
        helper: Mutex::new(match &config {
            Some(c) => spawn(c),
            None => Err("heapdumpOnOOM is off".into()),
        }),
    });
    if first {
        if !shim::install_oom_handler(on_oom) {
            return Err(InstallError::NoIsolate);
        }
        if let Some(interval) = config.as_ref().and_then(|c| c.heap_profile_interval) {
            shim::start_sampling_heap_profiler(interval);
        }
    }
    let mut helper = installed.helper.lock().unwrap_or_else(|e| e.into_inner());
    // The helper writes only the target it was started for, and runs the export command it was
    // started with: a new target or command needs a new helper (the old one exits when its pipe is
    // closed).
    if let Some(c) = &config {
        if !matches!(&*helper, Ok(h) if h.serves(&c.target.dir, &c.target.stem, c.export.as_ref(), c.pprof, c.upload.as_ref()))
        {
            *helper = spawn(c);
        }
    }
    *installed.config.lock().unwrap_or_else(|e| e.into_inner()) = config;
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

/// Removes temporaries that captures killed mid-write left in `dir`, and says so. Only ours (by
/// name) and only dead ones (by lock, whatever PID namespace their writer was in).
fn report_stale_partials(dir: &Path) {
    if let Ok(removed) = sweep_stale_partials(dir, None) {
        for p in removed {
            say!(
                "node-oom-heapdump: removed {} ({}), an incomplete capture whose writer was killed while writing it",
                p.path.display(),
                Size(p.bytes),
            );
        }
    }
}
