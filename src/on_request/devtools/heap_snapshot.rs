//! `HeapProfiler.takeHeapSnapshot` over the websocket: each `addHeapSnapshotChunk` event is decoded
//! and written to the temporary file as it arrives (never gathered in memory) and fed through the
//! completeness check; `reportHeapSnapshotProgress` events go to a [`ProgressSink`]. A sink that
//! failed (the app's callback threw) stops the capture, and nothing lands.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use oom_heapdump_capture::{Landing, SnapshotSummary, SnapshotWriter};
use serde::Deserialize;
use serde_json::json;

use super::client::{Limits, Session, ANSWER_SILENCE};
use super::json_string;
use super::DevtoolsError;
use crate::on_request::transport::Endpoint;

/// Largest message of a snapshot session: V8's inspector sends the snapshot as a stream of small
/// chunks of JSON text (each escaped once more inside its event), far below this.
pub const MAX_MESSAGE_BYTES: usize = 64 << 20;
/// Silence allowed between two messages while a snapshot is taken. V8 first collects garbage
/// (no message), then builds the snapshot reporting progress every few thousand objects, then
/// streams its chunks; only the collection of a very large heap is silent for long.
pub const SNAPSHOT_SILENCE: Duration = Duration::from_secs(120);

/// Where progress reports go (the app's `onProgress`, called on the JS thread).
pub trait ProgressSink: Sync {
    /// Queues a report; false once the receiver has failed (the capture then stops).
    fn report(&self, done: u32, total: u32) -> bool;
    /// True while queued reports have not been received yet.
    fn pending(&self) -> bool;
    /// True once the receiver has failed.
    fn failed(&self) -> bool;
}

#[derive(Deserialize)]
struct Progress {
    done: u32,
    total: u32,
}

pub async fn take(
    at: Endpoint,
    own_id: Option<&str>,
    final_path: &Path,
    progress: &dyn ProgressSink,
) -> Result<(PathBuf, SnapshotSummary), DevtoolsError> {
    let limits = Limits {
        max_message_bytes: MAX_MESSAGE_BYTES,
    };
    let mut session = Session::connect(at, own_id, limits).await?;
    let mut writer = SnapshotWriter::create(final_path)?;
    let bytes = AtomicU64::new(0);
    let mut decoded = Vec::with_capacity(1 << 20);
    let mut on_event = |method: &str, params: &str| -> Result<(), DevtoolsError> {
        match method {
            "HeapProfiler.addHeapSnapshotChunk" => {
                let body = params
                    .strip_prefix("{\"chunk\":\"")
                    .and_then(|p| p.strip_suffix("\"}"))
                    .ok_or_else(|| {
                        DevtoolsError::BadMessage(format!("unexpected chunk event {params:.80}"))
                    })?;
                decoded.clear();
                json_string::unescape_into(body.as_bytes(), &mut decoded)
                    .map_err(|e| DevtoolsError::BadMessage(format!("snapshot chunk: {e}")))?;
                writer.write(&decoded)?;
                bytes.fetch_add(decoded.len() as u64, Ordering::Relaxed);
            }
            "HeapProfiler.reportHeapSnapshotProgress" => {
                if let Ok(p) = serde_json::from_str::<Progress>(params) {
                    if !progress.report(p.done, p.total) {
                        return Err(DevtoolsError::ProgressFailed);
                    }
                }
            }
            _ => {}
        }
        Ok(())
    };
    let received = || bytes.load(Ordering::Relaxed);
    session
        .call(
            "HeapProfiler.enable",
            json!({}),
            ANSWER_SILENCE,
            &mut on_event,
            &received,
        )
        .await?;
    session
        .call(
            "HeapProfiler.takeHeapSnapshot",
            json!({ "reportProgress": true, "captureNumericValue": false }),
            SNAPSHOT_SILENCE,
            &mut on_event,
            &received,
        )
        .await?;
    session
        .call(
            "HeapProfiler.disable",
            json!({}),
            ANSWER_SILENCE,
            &mut on_event,
            &received,
        )
        .await?;
    session.close().await;
    // The reports reach the JS thread after the snapshot (it is busy serializing it): the file
    // lands only once they all did, and none failed.
    let waited = tokio::time::Instant::now();
    while progress.pending() && waited.elapsed() < ANSWER_SILENCE {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    if progress.failed() {
        return Err(DevtoolsError::ProgressFailed);
    }
    Ok(writer.finish(Landing::Replace)?)
}
