//! An OOM's files into one folder of the bucket, `<prefix>/<host>/<time>-<pid>/`, one object per
//! file named as the file (`.gz` appended when gzipped), each streamed from disk.

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use object_store::aws::AmazonS3;
use object_store::path::Path as Key;
use object_store::ObjectStore;
use tokio::runtime::Runtime;

use crate::sink::ObjectSink;
use crate::{store, Compression, S3Url, UploadError, UploadObject};

/// Bytes read from a file at a time.
const READ: usize = 1 << 20;

pub struct Uploader {
    runtime: Runtime,
    store: Arc<AmazonS3>,
    url: S3Url,
    folder: String,
    compression: Compression,
}

impl Uploader {
    /// An uploader into `url`'s folder for the OOM of process `pid` on this host at `at`.
    pub fn new(
        url: &S3Url,
        compression: Compression,
        pid: u32,
        at: SystemTime,
    ) -> Result<Uploader, UploadError> {
        // Part uploads run on the worker; reading and gzip on the calling thread.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| UploadError::Setup(e.to_string()))?;
        let store = Arc::new(store::build(url)?);
        let stamp = chrono::DateTime::<chrono::Utc>::from(at).format("%Y%m%dT%H%M%SZ");
        let folder = url.key(&format!("{}/{stamp}-{pid}", host()));
        // Some S3-compatible servers (s3s-fs) take objects into a bucket that does not exist: one
        // listing of the folder first makes a missing bucket, or a server that is not there, an
        // error before anything is sent. A listing denied (a write-only policy) is no error.
        let listed = runtime.block_on(store.list_with_delimiter(Some(&Key::from(folder.as_str()))));
        match listed {
            Ok(_) | Err(object_store::Error::PermissionDenied { .. }) => {}
            Err(e) => return Err(store::store_error(&url.bucket, &format!("{folder}/"), &e)),
        }
        Ok(Uploader {
            runtime,
            store,
            folder,
            url: url.clone(),
            compression,
        })
    }

    pub fn url(&self) -> &S3Url {
        &self.url
    }

    /// `<prefix>/<host>/<time>-<pid>`.
    pub fn folder(&self) -> &str {
        &self.folder
    }

    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// A new object `name` in the folder, to write into.
    pub(crate) fn sink(&self, name: &str) -> ObjectSink {
        let suffix = match self.compression {
            Compression::Gzip => ".gz",
            Compression::None => "",
        };
        let key = format!("{}/{name}{suffix}", self.folder);
        ObjectSink::new(self.store.clone(), &self.url.bucket, key, self.compression)
    }

    pub(crate) fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// Uploads `file`, open already (`path` names it), as an object named as the file, streamed
    /// [`READ`] bytes at a time: what is uploaded is what was opened, whatever stands under the
    /// name by then.
    pub fn file(&self, path: &Path, mut file: File) -> Result<UploadObject, UploadError> {
        let read_error = |source| UploadError::Read {
            path: path.to_owned(),
            source,
        };
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| read_error(std::io::ErrorKind::InvalidFilename.into()))?;
        let mut sink = self.sink(name);
        let mut buf = vec![0u8; READ];
        self.runtime.block_on(async {
            loop {
                let n = match file.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        sink.abort().await;
                        return Err(read_error(e));
                    }
                };
                if let Err(e) = sink.write(&buf[..n]).await {
                    sink.abort().await;
                    return Err(e);
                }
            }
            let key = sink.key().to_owned();
            let (bytes, object_bytes) = sink.finish().await?;
            Ok(UploadObject {
                key,
                file: Some(path.to_owned()),
                bytes,
                object_bytes,
            })
        })
    }

    /// Uploads `data` as the object `name` (the analyzer's summary).
    pub fn bytes(&self, name: &str, data: &[u8]) -> Result<UploadObject, UploadError> {
        let mut sink = self.sink(name);
        self.runtime.block_on(async {
            if let Err(e) = sink.write(data).await {
                sink.abort().await;
                return Err(e);
            }
            let key = sink.key().to_owned();
            let (bytes, object_bytes) = sink.finish().await?;
            Ok(UploadObject {
                key,
                file: None,
                bytes,
                object_bytes,
            })
        })
    }
}

/// This machine's name (the pod's, in Kubernetes), made safe for a key; `unknown-host` if unreadable.
fn host() -> String {
    let mut buf = [0u8; 256];
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let len = buf.iter().position(|&b| b == 0).unwrap_or(0);
    let name: String = String::from_utf8_lossy(&buf[..len])
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if ok && !name.is_empty() && name != "." && name != ".." {
        name
    } else {
        "unknown-host".into()
    }
}
