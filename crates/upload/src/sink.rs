//! One object written as a stream: a single PUT when it fits one part, else a multipart upload of
//! fixed-size parts, at most [`IN_FLIGHT`] of them sent at once (the memory is a few parts,
//! whatever the size of the file); optionally gzipped on the way. Nothing is visible under the key
//! until [`ObjectSink::finish`]; [`ObjectSink::abort`] drops the parts sent.

use std::io::Write;
use std::sync::Arc;

use bytes::Bytes;
use flate2::write::GzEncoder;
use object_store::aws::AmazonS3;
use object_store::path::Path as Key;
use object_store::{ObjectStoreExt, PutPayload, WriteMultipart};

use crate::store::store_error;
use crate::{Compression, UploadError};

/// Bytes of each part (S3's minimum is 5 MiB but for the last).
pub const PART: usize = 8 << 20;
/// Parts being sent at once.
pub const IN_FLIGHT: usize = 2;

pub struct ObjectSink {
    store: Arc<AmazonS3>,
    bucket: String,
    key: String,
    location: Key,
    /// Bytes not yet handed to a part (less than [`PART`] between writes).
    pending: Vec<u8>,
    multipart: Option<WriteMultipart>,
    gzip: Option<GzEncoder<Vec<u8>>>,
    /// Bytes given, and bytes of the object.
    bytes: u64,
    object_bytes: u64,
}

impl ObjectSink {
    pub fn new(store: Arc<AmazonS3>, bucket: &str, key: String, compression: Compression) -> Self {
        ObjectSink {
            store,
            bucket: bucket.to_owned(),
            location: Key::from(key.as_str()),
            key,
            pending: Vec::new(),
            multipart: None,
            gzip: (compression == Compression::Gzip)
                .then(|| GzEncoder::new(Vec::new(), flate2::Compression::fast())),
            bytes: 0,
            object_bytes: 0,
        }
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    fn err(&self, e: &object_store::Error) -> UploadError {
        store_error(&self.bucket, &self.key, e)
    }

    /// Takes `data`; sends every full part, waiting while [`IN_FLIGHT`] are on their way.
    pub async fn write(&mut self, data: &[u8]) -> Result<(), UploadError> {
        self.bytes += data.len() as u64;
        match &mut self.gzip {
            Some(gz) => {
                gz.write_all(data).expect("writes into a Vec");
                let out = std::mem::take(gz.get_mut());
                self.push(&out).await
            }
            None => self.push(data).await,
        }
    }

    async fn push(&mut self, data: &[u8]) -> Result<(), UploadError> {
        self.pending.extend_from_slice(data);
        while self.pending.len() >= PART {
            let rest = self.pending.split_off(PART);
            let part = std::mem::replace(&mut self.pending, rest);
            self.send(part).await?;
        }
        Ok(())
    }

    /// Sends one full part, starting the multipart upload at the first.
    async fn send(&mut self, part: Vec<u8>) -> Result<(), UploadError> {
        if self.multipart.is_none() {
            let upload = self.store.put_multipart(&self.location).await;
            let upload = upload.map_err(|e| self.err(&e))?;
            self.multipart = Some(WriteMultipart::new_with_chunk_size(upload, PART));
        }
        let multipart = self.multipart.as_mut().expect("started");
        if let Err(e) = multipart.wait_for_capacity(IN_FLIGHT - 1).await {
            return Err(self.err(&e));
        }
        self.object_bytes += part.len() as u64;
        multipart.put(Bytes::from(part));
        Ok(())
    }

    /// Completes the object; on error nothing is visible under the key (the multipart upload is
    /// aborted). Returns the bytes given and the bytes of the object.
    pub async fn finish(mut self) -> Result<(u64, u64), UploadError> {
        if let Some(gz) = self.gzip.take() {
            let tail = gz.finish().expect("writes into a Vec");
            if let Err(e) = self.push(&tail).await {
                self.abort().await;
                return Err(e);
            }
        }
        let last = std::mem::take(&mut self.pending);
        self.object_bytes += last.len() as u64;
        let done = match self.multipart.take() {
            None => self
                .store
                .put(&self.location, PutPayload::from(last))
                .await
                .map(drop),
            Some(mut multipart) => {
                if !last.is_empty() {
                    multipart.put(Bytes::from(last));
                }
                // Aborts the upload itself when a part or the completion fails.
                multipart.finish().await.map(drop)
            }
        };
        done.map_err(|e| self.err(&e))?;
        Ok((self.bytes, self.object_bytes))
    }

    /// Drops the parts sent (best effort: a server gone keeps them until its own clean-up, but
    /// never shows them as an object).
    pub async fn abort(mut self) {
        if let Some(multipart) = self.multipart.take() {
            let _ = multipart.abort().await;
        }
    }
}
