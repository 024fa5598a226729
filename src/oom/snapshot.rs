//! Taking the snapshot at OOM (only V8 can walk its heap, on this thread) and landing it: streamed to
//! the helper process, or, if the helper cannot take it, written from this process.

use std::path::Path;
use std::time::{Duration, Instant};

use oom_heapdump_capture::protocol::{Ack, Request};
use oom_heapdump_capture::{sweep_stale_partials, CaptureError, Landing};

use super::helper::HelperError;
use super::in_process::write_in_process;
use super::install::Installed;
use crate::shim::HeapSnapshot;
use crate::units::say;

/// Bytes V8 hands over at a time.
pub(super) const CHUNK_BYTES: usize = 256 * 1024;

/// Takes the snapshot and lands it through the helper, or from this process if the helper cannot.
/// Returns the answer, who wrote it, and how long V8 took to build the snapshot.
pub(super) fn take_and_land(
    installed: &Installed,
    final_path: &Path,
    add_timestamp: bool,
    summarize: bool,
) -> Result<(Ack, &'static str, Duration), CaptureError> {
    let landing = if add_timestamp {
        Landing::KeepExisting
    } else {
        Landing::Replace
    };
    say!(
        "node-oom-heapdump: generating heap snapshot to {} now",
        final_path.display()
    );
    let started = Instant::now();
    let Some(snapshot) = HeapSnapshot::take_at_oom() else {
        return Ok((
            Ack::Failed("V8 returned no heap snapshot".into()),
            "nobody",
            started.elapsed(),
        ));
    };
    let taken = started.elapsed();
    let request = Request {
        final_path: final_path.to_owned(),
        landing,
        summarize,
    };
    let mut helper = installed.helper.try_lock();
    let via_helper = match helper.as_deref_mut() {
        Ok(Ok(h)) => {
            let r = h.capture(&request, |sink| snapshot.serialize(CHUNK_BYTES, sink));
            if let Err(HelperError::Stalled { .. }) = r {
                // Killed and reaped, so that the lock on its temporary is released.
                if let Err(why) = h.kill() {
                    say!(
                        "node-oom-heapdump: the stalled helper process (pid {}) {why}; left running",
                        h.pid()
                    );
                }
            }
            if r.is_err() {
                // A helper that was killed leaves its temporary behind, unlocked: remove it (a
                // live writer's, locked, stays).
                if let Some(dir) = final_path.parent() {
                    let _ = sweep_stale_partials(dir, Some(final_path));
                }
            }
            r
        }
        Ok(Err(spawn_error)) => Err(HelperError::Failed(spawn_error.clone())),
        Err(_) => Err(HelperError::Failed("helper is busy".into())),
    };
    match via_helper {
        Ok(ack) => Ok((ack, "helper process", taken)),
        // Written again from here, into the same folder, it would fill the same disk: the dying
        // process would serialize its heap a second time for nothing.
        Err(HelperError::OutOfSpace(msg)) => {
            say!("node-oom-heapdump: the helper could not write the snapshot (helper reported: {msg}); not written from this process either, into the same full disk");
            Ok((Ack::Failed(msg), "helper process", taken))
        }
        Err(err) => {
            say!("node-oom-heapdump: the helper could not write the snapshot ({err}); writing it from this process instead");
            write_in_process(&snapshot, &request).map(|ack| (ack, "this process", taken))
        }
    }
}
