//! Error types of this crate. Messages are lower-case and quote the path or value at fault.

use std::io;
use std::path::PathBuf;

/// A heap snapshot stream that is not a complete, well-formed snapshot.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CheckError {
    #[error("snapshot is empty")]
    Empty,
    #[error("snapshot is truncated after {bytes} bytes")]
    Truncated { bytes: u64 },
    #[error("snapshot is malformed at byte {offset}: {what}")]
    Malformed { offset: u64, what: &'static str },
    #[error("snapshot has no {0}")]
    Missing(&'static str),
    #[error("snapshot goes past {limit} bytes, more than a heap snapshot of that process can be ({why})")]
    TooLarge { limit: u64, why: &'static str },
    #[error("snapshot section {section:?} holds {found} values, header says {expected}")]
    CountMismatch {
        section: &'static str,
        expected: u64,
        found: u64,
    },
}

/// A broken or unexpected frame on the addon-to-helper pipe.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    #[error("stream ended before the capture was complete ({bytes} bytes received)")]
    Truncated { bytes: u64 },
    #[error("bad magic {0:?} at start of request")]
    BadMagic([u8; 4]),
    #[error("request path is not valid: {0}")]
    BadPath(String),
    #[error("export message is not valid: {0}")]
    BadExport(String),
    #[error("sender says {sent} bytes were sent, {received} arrived")]
    LengthMismatch { sent: u64, received: u64 },
    #[error("unreadable reply from helper: {0:?}")]
    BadAck(String),
    #[error("pipe i/o failed: {0}")]
    Io(#[from] io::Error),
}

/// Anything that can stop a capture from landing under its final name.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("cannot create temporary file {path:?}: {source}")]
    Create { path: PathBuf, source: io::Error },
    #[error("cannot write {path:?}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("cannot fsync {path:?}: {source}")]
    Sync { path: PathBuf, source: io::Error },
    #[error("cannot rename {from:?} to {to:?}: {source}")]
    Rename {
        from: PathBuf,
        to: PathBuf,
        source: io::Error,
    },
    #[error("{0:?} was replaced by another writer's capture of the same name right after this one landed; the file there is not this capture")]
    Replaced(PathBuf),
    #[error("target {0:?} has no file name")]
    NoFileName(PathBuf),
    #[error(transparent)]
    Check(#[from] CheckError),
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
}

impl CaptureError {
    /// The file system is full, or the writer's quota is: a write failed for want of room.
    pub fn is_out_of_space(&self) -> bool {
        match self {
            CaptureError::Write { source, .. } | CaptureError::Sync { source, .. } => matches!(
                source.raw_os_error(),
                Some(libc::ENOSPC) | Some(libc::EDQUOT)
            ),
            _ => false,
        }
    }
}
