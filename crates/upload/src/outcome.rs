//! The `upload` section of the `.oom.json` report: the objects written, or why not. A public
//! format: fields may be added, never renamed or removed.

use std::path::PathBuf;

use serde::Serialize;

/// `uploadCompression`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// Objects as the files are.
    None,
    /// Each object gzipped on the way (`.gz` appended to its key).
    Gzip,
}

impl Compression {
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
        }
    }

    pub fn parse(text: &str) -> Option<Compression> {
        match text {
            "none" => Some(Compression::None),
            "gzip" => Some(Compression::Gzip),
            _ => None,
        }
    }
}

/// `upload`: written into the report by the helper once the upload ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadOutcome {
    /// The option's `s3://bucket/prefix`.
    pub url: String,
    pub bucket: String,
    /// The folder of this OOM's objects: `<prefix>/<host>/<time>-<pid>`.
    pub folder: String,
    pub compression: Compression,
    /// The objects completed, in the order uploaded (the report itself last, when it succeeded).
    pub objects: Vec<UploadObject>,
    /// null when every file was uploaded; else why not (the files not uploaded stay on disk).
    pub error: Option<String>,
    pub seconds: f64,
}

/// One object uploaded.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadObject {
    pub key: String,
    /// The local file it came from; null for the analyzer's summary and a streamed snapshot.
    pub file: Option<PathBuf>,
    /// Bytes read from the file (or the stream).
    pub bytes: u64,
    /// Bytes of the object (smaller when gzipped).
    pub object_bytes: u64,
}
