//! On-request captures without an inspector, through the shim on the JS thread.
//! Heap snapshots: V8 must build and serialize the snapshot there, as `v8.writeHeapSnapshot()`
//! does; chunks go through a bounded channel to a writer thread, which checks, fsyncs and renames,
//! so that disk writes overlap serialization and the final fsync happens off the JS thread.
//! CPU profiles: a V8 CPU profiler of our own is started and, after the duration, stopped on the
//! JS thread, which gets V8's `.cpuprofile` JSON; it is written like the DevTools path's.

use std::path::Path;
use std::sync::mpsc::sync_channel;
use std::thread::{self, JoinHandle};

use oom_heapdump_capture::{CaptureError, Landed, Landing, SnapshotSummary, SnapshotWriter};

use crate::shim::{CpuProfileRun, HeapSnapshot};

/// Chunk size asked of V8, and how many chunks may wait for the disk (16 MiB).
const CHUNK_BYTES: usize = 256 * 1024;
const QUEUE_CHUNKS: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum InProcessError {
    #[error("V8 returned no heap snapshot")]
    NoSnapshot,
    #[error("V8 could not start a CPU profile")]
    NoCpuProfiler,
    #[error("V8 returned no CPU profile")]
    NoCpuProfile,
    #[error("the snapshot writer thread failed")]
    WriterPanicked,
    #[error(transparent)]
    Capture(#[from] CaptureError),
}

/// A snapshot whose bytes are still being written; [`PendingWrite::wait`] blocks until it lands.
pub struct PendingWrite(JoinHandle<Result<(Landed, SnapshotSummary), CaptureError>>);

impl PendingWrite {
    pub fn wait(self) -> Result<(Landed, SnapshotSummary), InProcessError> {
        Ok(self
            .0
            .join()
            .map_err(|_| InProcessError::WriterPanicked)??)
    }
}

/// Takes a heap snapshot on the calling (JS) thread, reporting V8's progress as it goes to
/// `progress`, if any (asking for it costs V8 one more pass over the heap).
pub fn take(progress: Option<&mut dyn FnMut(u32, u32)>) -> Result<HeapSnapshot, InProcessError> {
    HeapSnapshot::take(progress).ok_or(InProcessError::NoSnapshot)
}

/// Serializes `snapshot` on the calling thread into a writer thread that lands it at `final_path`.
pub fn write(snapshot: HeapSnapshot, final_path: &Path) -> Result<PendingWrite, InProcessError> {
    let writer = SnapshotWriter::create(final_path)?;
    let (tx, rx) = sync_channel::<Vec<u8>>(QUEUE_CHUNKS);
    let handle = thread::Builder::new()
        .name("ohd-snapshot-writer".into())
        .spawn(move || {
            let mut writer = writer;
            for chunk in rx {
                writer.write(&chunk)?;
            }
            writer.finish(Landing::Replace)
        })
        .map_err(|e| CaptureError::Write {
            path: final_path.to_owned(),
            source: e,
        })?;
    // Stops early if the writer failed; its error comes out of the join.
    snapshot.serialize(CHUNK_BYTES, &mut |chunk| tx.send(chunk.to_vec()).is_ok());
    Ok(PendingWrite(handle))
}

/// Starts recording a CPU profile on the calling (JS) thread.
pub fn start_cpu_profile(sampling_interval_us: u32) -> Result<CpuProfileRun, InProcessError> {
    CpuProfileRun::start(sampling_interval_us).ok_or(InProcessError::NoCpuProfiler)
}

/// Stops `run` on the thread that started it; returns the profile's JSON, as V8 wrote it.
pub fn stop_cpu_profile(run: CpuProfileRun) -> Result<Vec<u8>, InProcessError> {
    let mut json = Vec::new();
    let complete = run.stop(CHUNK_BYTES, &mut |chunk| {
        json.extend_from_slice(chunk);
        true
    });
    if complete {
        Ok(json)
    } else {
        Err(InProcessError::NoCpuProfile)
    }
}
