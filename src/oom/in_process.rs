//! The fallback when the helper process cannot land the snapshot: written from this process, with
//! the same temporary name, completeness check, fsync and rename.

use oom_heapdump_capture::protocol::{Ack, Request};
use oom_heapdump_capture::{CaptureError, SnapshotWriter};

use super::snapshot::CHUNK_BYTES;
use crate::shim::HeapSnapshot;

/// Writes `snapshot` to `req.final_path` from this process.
pub(super) fn write_in_process(
    snapshot: &HeapSnapshot,
    req: &Request,
) -> Result<Ack, CaptureError> {
    let mut writer = SnapshotWriter::create(&req.final_path)?;
    let mut error = None;
    // Whether V8 reached the end is judged by the completeness check in `finish`.
    snapshot.serialize(CHUNK_BYTES, &mut |chunk| match writer.write(chunk) {
        Ok(()) => true,
        Err(e) => {
            error = Some(e);
            false
        }
    });
    if let Some(e) = error {
        return Err(e);
    }
    let (landed, summary) = writer.finish(req.landing)?;
    Ok(Ack::Written {
        path: landed.path,
        bytes: summary.bytes,
        node_count: summary.node_count,
        edge_count: summary.edge_count,
    })
}
