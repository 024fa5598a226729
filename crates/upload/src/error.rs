use std::io;
use std::path::PathBuf;

use oom_heapdump_capture::CheckError;

/// Why an upload failed. The message names the object and says what to check.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("cannot start the upload: {0}")]
    Setup(String),
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("s3://{bucket}/{key}: {message}")]
    Store {
        bucket: String,
        key: String,
        message: String,
    },
    #[error("the snapshot streamed is incomplete, its upload aborted: {0}")]
    Incomplete(CheckError),
}
