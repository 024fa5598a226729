//! A heap snapshot on its way to disk: an [`AtomicFile`] fed through the [`SnapshotCheck`], so that
//! only a snapshot whose counts match its header is ever renamed to its final name.

use std::path::Path;

use crate::atomic_file::{AtomicFile, Landed, Landing};
use crate::check::{SnapshotCheck, SnapshotSummary};
use crate::error::CaptureError;

#[derive(Debug)]
pub struct SnapshotWriter {
    file: AtomicFile,
    check: SnapshotCheck,
}

impl SnapshotWriter {
    pub fn create(final_path: &Path) -> Result<Self, CaptureError> {
        Ok(Self {
            file: AtomicFile::create(final_path)?,
            check: SnapshotCheck::new(),
        })
    }

    pub fn temp_path(&self) -> &Path {
        self.file.temp_path()
    }

    /// The bytes of every chunk written whole so far (see [`AtomicFile::read_back`]).
    pub fn read_back(&self) -> Result<crate::atomic_file::ReadBack, CaptureError> {
        self.file.read_back()
    }

    pub fn write(&mut self, chunk: &[u8]) -> Result<(), CaptureError> {
        self.check.feed(chunk)?;
        self.file.write_all(chunk)
    }

    /// Checks completeness, then lands the file ([`AtomicFile::land`]); on any error the
    /// temporary file is removed.
    pub fn finish(self, landing: Landing) -> Result<(Landed, SnapshotSummary), CaptureError> {
        let summary = self.check.finish()?;
        let landed = self.file.land(landing)?;
        Ok((landed, summary))
    }
}
