//! Everything needed to land a capture (heap snapshot, CPU profile, report) on disk safely, shared by
//! the Node addon (which streams from the dying process) and the off-process helper (which writes).
//!
//! - [`atomic_file`]: temporary name in the target folder, mode 0600, fsync, rename; never a partial
//!   file under the final name, and a sweep for leftovers of captures that were killed.
//! - [`protocol`]: the framed byte stream on the pipe between the addon and the helper.
//! - [`check`]: a streaming check that a heap snapshot is complete (counts match its header).
//! - [`snapshot_writer`]: an atomic file fed through the check, as both writers use it.
//! - [`export`]: the export command run after a capture (`exportCommand`), by both sides.
//! - [`utc`]: the UTC calendar time that capture file names and reports print.
#![deny(clippy::all)]

pub mod atomic_file;
pub mod check;
pub mod error;
pub mod export;
pub mod protocol;
pub mod snapshot_writer;
pub mod utc;

pub use atomic_file::{
    parse_temp_name, sweep_stale_partials, temp_name, AtomicFile, FileId, Landed, Landing,
    ReadBack, StalePartial, TEMP_NAME_EXTRA,
};
pub use check::{SnapshotCheck, SnapshotSummary};
pub use error::{CaptureError, CheckError, ProtocolError};
pub use snapshot_writer::SnapshotWriter;
pub use utc::UtcTime;
