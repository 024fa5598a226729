//! What can go wrong converting a profile; every message names the file.

use std::path::PathBuf;

use oom_heapdump_capture::CaptureError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path:?}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path:?} is {bytes} bytes, over the limit of {limit} bytes for a profile")]
    TooLarge {
        path: PathBuf,
        bytes: u64,
        limit: u64,
    },
    #[error("{path:?} is not JSON: {source}")]
    NotJson {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{path:?} is neither a V8 heap profile (.heapprofile, with \"head\") nor a V8 CPU profile (.cpuprofile, with \"nodes\")")]
    NotAProfile { path: PathBuf },
    #[error("{path:?} is a heap snapshot, not a profile (`node-oom-heapdump analyze` reads it)")]
    HeapSnapshot { path: PathBuf },
    #[error("{path:?} is not a valid {kind}: {why}")]
    Malformed {
        path: PathBuf,
        kind: &'static str,
        why: String,
    },
    #[error("refusing to write the output over the input {0:?}")]
    SameFile(PathBuf),
    #[error("cannot write {path:?}: {source}")]
    Write { path: PathBuf, source: CaptureError },
}
