//! Uploading an OOM's files to S3-compatible object storage (the `upload` option): each file
//! streamed into a multipart upload a part at a time (never the whole file in memory), optionally
//! gzipped on the way, with retries and backoff; a snapshot can also be streamed straight from the
//! dying process, checked complete before the upload is completed ([`stream`]). Credentials,
//! region and endpoint come from the standard AWS environment ([`store`]).
//!
//! Without the default `store` feature only the `s3://` URL ([`url`]) and the report's section
//! ([`outcome`]) are built: what the addon needs to check the option and to type its report.

pub mod outcome;
pub mod url;

#[cfg(feature = "store")]
mod error;
#[cfg(feature = "store")]
mod files;
#[cfg(feature = "store")]
mod sink;
#[cfg(feature = "store")]
mod store;
#[cfg(feature = "store")]
pub mod stream;

#[cfg(feature = "store")]
pub use error::UploadError;
#[cfg(feature = "store")]
pub use files::Uploader;
pub use outcome::{Compression, UploadObject, UploadOutcome};
pub use url::{S3Url, UrlError};
