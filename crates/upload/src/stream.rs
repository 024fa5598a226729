//! A snapshot streamed straight into its object, for when no file can be written (a read-only
//! root filesystem and no writable volume): every chunk goes through the completeness check
//! (crates/capture) on its way, and the multipart upload is completed only when the check passes;
//! otherwise it is aborted, so that no partial snapshot is ever visible.

use oom_heapdump_capture::{SnapshotCheck, SnapshotSummary};

use crate::sink::ObjectSink;
use crate::{UploadError, UploadObject, Uploader};

pub struct SnapshotStream<'a> {
    uploader: &'a Uploader,
    sink: Option<ObjectSink>,
    check: SnapshotCheck,
}

impl<'a> SnapshotStream<'a> {
    /// A new object `name` (the snapshot's file name) in the uploader's folder.
    pub fn new(uploader: &'a Uploader, name: &str) -> Self {
        SnapshotStream {
            uploader,
            sink: Some(uploader.sink(name)),
            check: SnapshotCheck::new(),
        }
    }

    /// Checks and sends `chunk`; on error the upload is aborted and later calls fail.
    pub fn write(&mut self, chunk: &[u8]) -> Result<(), UploadError> {
        let Some(mut sink) = self.sink.take() else {
            return Err(UploadError::Setup("the upload was aborted".into()));
        };
        if let Err(e) = self.check.feed(chunk) {
            self.uploader.runtime().block_on(sink.abort());
            return Err(UploadError::Incomplete(e));
        }
        self.uploader.runtime().block_on(async {
            match sink.write(chunk).await {
                Ok(()) => {
                    self.sink = Some(sink);
                    Ok(())
                }
                Err(e) => {
                    sink.abort().await;
                    Err(e)
                }
            }
        })
    }

    /// Completes the object if the snapshot is complete, else aborts it.
    pub fn finish(mut self) -> Result<(UploadObject, SnapshotSummary), UploadError> {
        let Some(sink) = self.sink.take() else {
            return Err(UploadError::Setup("the upload was aborted".into()));
        };
        let runtime = self.uploader.runtime();
        let summary = match self.check.finish() {
            Ok(summary) => summary,
            Err(e) => {
                runtime.block_on(sink.abort());
                return Err(UploadError::Incomplete(e));
            }
        };
        let key = sink.key().to_owned();
        let (bytes, object_bytes) = runtime.block_on(sink.finish())?;
        let object = UploadObject {
            key,
            file: None,
            bytes,
            object_bytes,
        };
        Ok((object, summary))
    }

    /// Drops the parts sent: the stream ended early.
    pub fn abort(mut self) {
        if let Some(sink) = self.sink.take() {
            self.uploader.runtime().block_on(sink.abort());
        }
    }
}
