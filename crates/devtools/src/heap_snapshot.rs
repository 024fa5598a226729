//! A snapshot of this process taken without progress reports goes through a pipe V8's own writer
//! fills ([`crate::snapshot_pipe`], started by `Runtime.evaluate`); with them, or if that cannot
//! start, `HeapProfiler.takeHeapSnapshot` over the websocket: each `addHeapSnapshotChunk` event is decoded
//! and written to the temporary file as it arrives (never gathered in memory) and fed through the
//! completeness check; `reportHeapSnapshotProgress` events go to a [`ProgressSink`]. A sink that
//! failed (the app's callback threw) stops the capture, and nothing lands.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use oom_heapdump_capture::{Landed, Landing, SnapshotSummary, SnapshotWriter};
use serde::Deserialize;
use serde_json::json;

use crate::client::{Limits, Session, Wait, ANSWER_SILENCE};
use crate::snapshot_pipe::{self, PipeError};
use crate::{json_string, DevtoolsError, Endpoint};
use oom_heapdump_capture::CaptureError;

/// Largest message of a snapshot session: V8's inspector sends the snapshot as a stream of small
/// chunks of JSON text (each escaped once more inside its event), far below this.
pub const MAX_MESSAGE_BYTES: usize = 64 << 20;
/// Silence allowed between two of its chunks or progress reports while a snapshot is taken. V8 first collects garbage
/// (no message), then builds the snapshot (reporting progress every few thousand objects when
/// asked to), then streams its chunks; only the collection of a very large heap is silent for long.
pub const SNAPSHOT_SILENCE: Duration = Duration::from_secs(120);
/// The events of a snapshot being taken: only these hold the command's deadline off.
const CHUNK_EVENT: &str = "HeapProfiler.addHeapSnapshotChunk";
const PROGRESS_EVENT: &str = "HeapProfiler.reportHeapSnapshotProgress";
/// Without progress reports (nobody asked for them: V8 would count the heap's objects first, one
/// more pass over the heap on the app's thread), V8 is silent until the whole snapshot is built, so
/// the first message may take longer on a large heap: [`SNAPSHOT_SILENCE`] plus one second per
/// [`BUILD_BYTES_PER_SEC`] of the process's resident memory (V8 builds a snapshot far faster:
/// about 90 MB of heap in 3 s on a slow machine, so this is several times what it needs).
pub const BUILD_BYTES_PER_SEC: u64 = 8 << 20;

/// The silence allowed before the first message of a snapshot taken without progress reports.
pub fn first_chunk_silence(resident_bytes: u64) -> Duration {
    SNAPSHOT_SILENCE + Duration::from_secs(resident_bytes / BUILD_BYTES_PER_SEC)
}

/// What a snapshot session accepts.
pub const LIMITS: Limits = Limits {
    max_message_bytes: MAX_MESSAGE_BYTES,
};

/// The resident memory of process `pid` ("self" for this one), 0 where /proc cannot say.
pub fn resident_bytes(pid: &str) -> u64 {
    let pages = std::fs::read_to_string(format!("/proc/{pid}/statm"))
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages.saturating_mul(u64::try_from(page).unwrap_or(4096))
}

/// Where progress reports go (the app's `onProgress`, called on the JS thread).
pub trait ProgressSink: Sync {
    /// True when someone receives reports (V8 is then asked for them).
    fn wanted(&self) -> bool;
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

/// Takes a snapshot of target `own_id` at `at` (this process) into `final_path`.
pub async fn take(
    at: Endpoint,
    own_id: Option<&str>,
    final_path: &Path,
    progress: &dyn ProgressSink,
) -> Result<(Landed, SnapshotSummary), DevtoolsError> {
    let mut session = Session::connect(at, own_id, LIMITS).await?;
    let mut writer = SnapshotWriter::create(final_path)?;
    let resident = resident_bytes("self");
    // Without progress reports, V8's own writer fills a pipe of ours (snapshot_pipe): the bytes
    // skip the inspector's re-encoding on the JS thread. Otherwise, or if that cannot start, the
    // chunks come in protocol messages with V8's progress.
    let piped = if progress.wanted() {
        None
    } else {
        through_own_pipe(&mut session, &mut |chunk| writer.write(chunk), resident).await?
    };
    if piped.is_none() {
        stream(
            &mut session,
            &mut |chunk| writer.write(chunk),
            progress,
            resident,
        )
        .await?;
    }
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

/// The snapshot of this process through an anonymous pipe that V8's writer reaches as
/// `/proc/self/fd/<n>`; None when the pipe path could not start (nothing was written).
async fn through_own_pipe(
    session: &mut Session,
    sink: &mut (dyn FnMut(&[u8]) -> Result<(), CaptureError> + Send),
    resident: u64,
) -> Result<Option<u64>, DevtoolsError> {
    let Ok((read, write)) = pipe() else {
        return Ok(None);
    };
    let Ok(mut receiver) = tokio::net::unix::pipe::Receiver::from_owned_fd(read) else {
        return Ok(None);
    };
    let target = format!("/proc/self/fd/{}", write.as_raw_fd());
    let mut ignore = |_: &str, _: &str| Ok(());
    let none = || 0;
    // A command V8 answers at once first, as on the chunk path: a peer that does not answer fails
    // within ANSWER_SILENCE, not the silence allowed for building a snapshot. Also frees V8's
    // object ids after (`disable`), as the chunk path does.
    session
        .call(
            "HeapProfiler.enable",
            json!({}),
            ANSWER_SILENCE,
            &mut ignore,
            &none,
        )
        .await?;
    // `write` stays open until the answer (no end of file before V8 opens the pipe), then closes.
    let streamed = snapshot_pipe::stream(session, &target, &mut receiver, sink, resident).await;
    drop(write);
    if streamed.is_ok() {
        session
            .call(
                "HeapProfiler.disable",
                json!({}),
                ANSWER_SILENCE,
                &mut ignore,
                &none,
            )
            .await?;
    }
    match streamed {
        Ok(bytes) => Ok(Some(bytes)),
        Err(PipeError::Refused(_)) => Ok(None),
        Err(PipeError::Devtools(e)) => Err(e),
    }
}

/// A pipe, the reading end non-blocking, with a 1 MiB buffer where the system allows.
fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two descriptors, which are then owned once.
    unsafe {
        if libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let (read, write) = (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1]));
        libc::fcntl(fds[0], libc::F_SETFL, libc::O_NONBLOCK);
        libc::fcntl(fds[0], libc::F_SETPIPE_SZ, 1 << 20);
        Ok((read, write))
    }
}

/// Takes a snapshot over an open session (opened with [`LIMITS`]), handing the decoded snapshot
/// text to `sink` chunk by chunk as it arrives; returns the bytes handed over. `resident_bytes` of
/// the target bounds the silence before the first chunk ([`first_chunk_silence`]).
pub async fn stream(
    session: &mut Session,
    sink: &mut (dyn FnMut(&[u8]) -> Result<(), CaptureError> + Send),
    progress: &dyn ProgressSink,
    resident_bytes: u64,
) -> Result<u64, DevtoolsError> {
    let bytes = AtomicU64::new(0);
    let mut decoded = Vec::with_capacity(1 << 20);
    let mut on_event = |method: &str, params: &str| -> Result<(), DevtoolsError> {
        match method {
            CHUNK_EVENT => {
                let body = params
                    .strip_prefix("{\"chunk\":\"")
                    .and_then(|p| p.strip_suffix("\"}"))
                    .ok_or_else(|| {
                        DevtoolsError::BadMessage(format!("unexpected chunk event {params:.80}"))
                    })?;
                decoded.clear();
                json_string::unescape_into(body.as_bytes(), &mut decoded)
                    .map_err(|e| DevtoolsError::BadMessage(format!("snapshot chunk: {e}")))?;
                sink(&decoded)?;
                bytes.fetch_add(decoded.len() as u64, Ordering::Relaxed);
            }
            PROGRESS_EVENT => {
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
    let report_progress = progress.wanted();
    let first_silence = if report_progress {
        SNAPSHOT_SILENCE
    } else {
        first_chunk_silence(resident_bytes)
    };
    session
        .call_with(
            "HeapProfiler.takeHeapSnapshot",
            json!({ "reportProgress": report_progress, "captureNumericValue": false }),
            Wait {
                first: first_silence,
                then: SNAPSHOT_SILENCE,
                progress: &[CHUNK_EVENT, PROGRESS_EVENT],
            },
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
    Ok(bytes.load(Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_progress_the_first_chunk_may_wait_longer_on_a_larger_process() {
        assert_eq!(first_chunk_silence(0), SNAPSHOT_SILENCE);
        assert_eq!(
            first_chunk_silence(4 << 30),
            SNAPSHOT_SILENCE + Duration::from_secs(512)
        );
        assert!(resident_bytes("self") > 0);
    }
}
