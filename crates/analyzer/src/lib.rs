//! Heap snapshot analysis with Chrome DevTools' numbers.
//!
//! Data flow: `reader` streams a `.heapsnapshot` into flat `u32` columns (`snapshot`; never the
//! JSON text, never a `serde_json::Value` of it; errors name the byte offset; layouts read from
//! `meta` by name, as they differ across Node versions; only the texts something reads,
//! `string_table`) → `graph` sees them as nodes and edges →
//! `summary` builds DevTools' model (adjusted sizes, `dominators`, `classes`, `distances`) →
//! `report` answers `analyze` (leak suspects from `suspects`, top classes, largest objects and
//! their retainer paths), `diff` answers the Comparison view.
#![deny(clippy::all)]

mod classes;
pub mod diff;
mod distances;
pub mod dominators;
mod error;
mod graph;
mod json;
pub mod leaks;
mod phases;
mod reader;
pub mod report;
mod sizes;
mod snapshot;
mod string_table;
pub mod strings;
pub mod summary;
pub mod suspects;

pub use error::ParseError;
pub use json::MAX_STRING_BYTES;
pub use reader::{read_snapshot, read_snapshot_from, read_snapshot_stdin};
pub use snapshot::{Location, Meta, Snapshot};
pub use string_table::Strings;
