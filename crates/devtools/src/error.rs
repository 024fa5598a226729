//! Errors of the DevTools path; each says what failed and where (address, bytes received).

use oom_heapdump_capture::CaptureError;

use crate::Endpoint;

#[derive(Debug, thiserror::Error)]
pub enum DevtoolsError {
    #[error("nothing is listening on {at} and this process has no inspector (start node with --inspect={}, or capture in-process)", .at.port)]
    NothingListening { at: Endpoint },
    #[error("the inspector on {at} belongs to another process, not this one (pid {pid})")]
    NotThisProcess { at: Endpoint, pid: u32 },
    #[error("inspector HTTP endpoint http://{at}/json/list failed: {reason}")]
    Discovery { at: Endpoint, reason: String },
    #[error("inspector websocket {url} failed: {reason}")]
    WebSocket { url: String, reason: String },
    #[error(
        "inspector connection {url} closed in the middle of the capture ({bytes} bytes received)"
    )]
    Closed { url: String, bytes: u64 },
    #[error("inspector {url} did not answer {what} within {secs} s")]
    Silent {
        url: String,
        what: String,
        secs: u64,
    },
    #[error("inspector answered {method} with an error: {message}")]
    Protocol { method: String, message: String },
    #[error("inspector sent an unreadable message: {0}")]
    BadMessage(String),
    #[error("the onProgress callback threw")]
    ProgressFailed,
    #[error(transparent)]
    Capture(#[from] CaptureError),
    #[error(transparent)]
    CpuProfile(#[from] crate::cpu_profile_file::CpuProfileError),
    #[error(transparent)]
    HeapProfile(#[from] crate::heap_profile::HeapProfileError),
}
