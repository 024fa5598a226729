//! Heap snapshot analysis, first step: a streaming reader of V8 `.heapsnapshot` files into flat
//! `u32` columns (never the JSON text, never a `serde_json::Value` of it), with errors that say
//! where in the file they occurred. Field layouts are read from the snapshot's `meta` by name,
//! because they differ across Node versions.
#![deny(clippy::all)]

pub mod dominators;
mod error;
mod json;
mod reader;
mod snapshot;
pub mod summary;

pub use error::ParseError;
pub use reader::{read_snapshot, read_snapshot_from};
pub use snapshot::{Meta, Snapshot};
