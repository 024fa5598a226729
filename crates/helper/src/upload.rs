//! `--upload s3://bucket/prefix [--upload-compression gzip]` (the app's `upload` option): once the
//! app has exited, the OOM's files go to object storage under `<prefix>/<host>/<time>-<pid>/`
//! (crates/upload): the snapshot and the heap profile, the analyzer's summary, then the report
//! with an `upload` section saying what was uploaded. The local report is rewritten with the final
//! section (the objects, or the error); the files stay on disk either way, and stderr says how it
//! went.

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use oom_heapdump_capture::protocol::{Ack, Chunk, Receiver, Request};
use oom_heapdump_capture::{AtomicFile, CaptureError, Landing};
use oom_heapdump_upload::stream::SnapshotStream;
use oom_heapdump_upload::{Compression, S3Url, UploadObject, UploadOutcome, Uploader};

pub const PREFIX: &str = "node-oom-heapdump: upload: ";
/// The largest report read back to add the section to.
const REPORT_MAX: u64 = 16 << 20;

/// Where to upload, from our arguments.
#[derive(Debug, Clone)]
pub struct UploadConfig {
    pub url: S3Url,
    pub compression: Compression,
}

impl UploadConfig {
    /// None without `--upload`; Err when its value or `--upload-compression`'s is not valid.
    pub fn from_args(args: &[OsString]) -> Result<Option<UploadConfig>, String> {
        let value = |name: &str| {
            let i = args.iter().position(|a| a == name)?;
            Some(args.get(i + 1).and_then(|v| v.to_str()).unwrap_or(""))
        };
        let Some(url) = value("--upload") else {
            return Ok(None);
        };
        let url = S3Url::parse(url).map_err(|e| format!("--upload {url:?}: {e}"))?;
        let compression = match value("--upload-compression") {
            None => Compression::None,
            Some(c) => Compression::parse(c)
                .ok_or_else(|| format!("--upload-compression {c:?}: must be gzip or none"))?,
        };
        Ok(Some(UploadConfig { url, compression }))
    }
}

/// Uploads `files` (those the app listed: snapshot, heap profile, report) and `summary`, for the
/// OOM of `pid` at `at`; says on stderr how it went. True when every object was uploaded.
/// Whose OOM and from when: the folder `<prefix>/<host>/<time>-<pid>` its objects go to.
#[derive(Debug, Clone, Copy)]
pub struct Folder {
    pub pid: u32,
    pub at: SystemTime,
}

pub fn run(
    config: &UploadConfig,
    files: &[PathBuf],
    summary: Option<&[u8]>,
    folder: Folder,
) -> bool {
    let started = Instant::now();
    let report = files.iter().find(|f| is_report(f));
    let mut outcome = UploadOutcome {
        url: config.url.to_string(),
        bucket: config.url.bucket.clone(),
        folder: String::new(),
        compression: config.compression,
        objects: Vec::new(),
        error: None,
        seconds: 0.0,
    };
    let result = upload_all(config, files, report, summary, folder, &mut outcome);
    outcome.seconds = started.elapsed().as_secs_f64();
    if let Err(e) = &result {
        outcome.error = Some(e.clone());
    }
    // The local report says how it ended (best effort: it may be on a read-only disk).
    if let Some(report) = report {
        if let Err(e) = add_section(report, &outcome) {
            eprintln!(
                "{PREFIX}cannot add the upload section to {}: {e}",
                report.display()
            );
        }
    }
    match result {
        Ok(()) => {
            let bytes: u64 = outcome.objects.iter().map(|o| o.object_bytes).sum();
            eprintln!(
                "{PREFIX}done: {} object(s), {bytes} bytes, to s3://{}/{}/ in {:.1} s",
                outcome.objects.len(),
                outcome.bucket,
                outcome.folder,
                outcome.seconds
            );
            true
        }
        Err(e) => {
            let kept: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
            eprintln!(
                "{PREFIX}failed after {} object(s): {e}; the files stay on disk: {}",
                outcome.objects.len(),
                kept.join(", ")
            );
            false
        }
    }
}

/// The objects in order, the report last with the section as it stands (the objects before it).
fn upload_all(
    config: &UploadConfig,
    files: &[PathBuf],
    report: Option<&PathBuf>,
    summary: Option<&[u8]>,
    folder: Folder,
    outcome: &mut UploadOutcome,
) -> Result<(), String> {
    let uploader = Uploader::new(&config.url, config.compression, folder.pid, folder.at)
        .map_err(|e| e.to_string())?;
    outcome.folder = uploader.folder().to_owned();
    for file in files.iter().filter(|f| !is_report(f)) {
        let opened = crate::app_files::open(file)?;
        outcome
            .objects
            .push(uploader.file(file, opened).map_err(|e| e.to_string())?);
    }
    if let Some(text) = summary {
        let object = uploader
            .bytes(&summary_name(files), text)
            .map_err(|e| e.to_string())?;
        outcome.objects.push(object);
    }
    if let Some(report) = report {
        let object = upload_report(&uploader, report, outcome)?;
        outcome.objects.push(object);
    }
    Ok(())
}

/// The report with the section added, uploaded under its own name.
fn upload_report(
    uploader: &Uploader,
    report: &Path,
    outcome: &UploadOutcome,
) -> Result<UploadObject, String> {
    let with_section = with_section(report, outcome)?;
    let name = report
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("report.oom.json");
    let mut object = uploader
        .bytes(name, &with_section)
        .map_err(|e| e.to_string())?;
    object.file = Some(report.to_owned());
    Ok(object)
}

/// `<snapshot stem>.summary.txt`, beside the snapshot's name.
fn summary_name(files: &[PathBuf]) -> String {
    let snapshot = files.iter().find_map(|f| {
        let name = f.file_name()?.to_str()?;
        name.strip_suffix(".heapsnapshot").map(str::to_owned)
    });
    format!(
        "{}.summary.txt",
        snapshot.as_deref().unwrap_or("heapsnapshot")
    )
}

fn is_report(f: &Path) -> bool {
    f.to_str().is_some_and(|s| s.ends_with(".oom.json"))
}

/// The report's JSON with `upload` set to `outcome`.
fn with_section(report: &Path, outcome: &UploadOutcome) -> Result<Vec<u8>, String> {
    let read = |e: std::io::Error| format!("cannot read {}: {e}", report.display());
    let mut text = Vec::new();
    crate::app_files::open(report)?
        .take(REPORT_MAX)
        .read_to_end(&mut text)
        .map_err(read)?;
    let mut json: serde_json::Value = serde_json::from_slice(&text)
        .map_err(|e| format!("{} is not JSON: {e}", report.display()))?;
    let serde_json::Value::Object(map) = &mut json else {
        return Err(format!("{} is not a JSON object", report.display()));
    };
    let section = serde_json::to_value(outcome).map_err(|e| e.to_string())?;
    map.insert("upload".into(), section);
    let mut out = serde_json::to_vec_pretty(&json).map_err(|e| e.to_string())?;
    out.push(b'\n');
    Ok(out)
}

/// Rewrites the local report with the section (temporary file, fsync, rename).
fn add_section(report: &Path, outcome: &UploadOutcome) -> Result<(), String> {
    let text = with_section(report, outcome)?;
    let mut file = AtomicFile::create(report).map_err(|e| e.to_string())?;
    file.write_all(&text).map_err(|e| e.to_string())?;
    file.commit(Landing::Replace).map_err(|e| e.to_string())?;
    Ok(())
}

/// The snapshot of `req`, streamed from the pipe straight into its object when no file can be
/// created for it (`why`: a read-only filesystem, no writable volume), or when its file filled the
/// disk (`before`: what had been received, read back from that file). Every chunk is checked on
/// its way and the upload is completed only once the snapshot is complete, else aborted: no
/// partial object is ever visible. The answer names the object (`s3://bucket/key`); an upload that
/// fails is aborted and answered as a failure at once, the rest of the stream unread (the caller
/// skips it: the app, seeing the answer, stops sending). Err only when the sender is gone
/// mid-stream.
pub fn stream<R: std::io::BufRead>(
    rx: &mut Receiver<R>,
    req: &Request,
    buf: &mut [u8],
    config: &UploadConfig,
    folder: Folder,
    why: &CaptureError,
    before: &mut dyn std::io::Read,
) -> Result<Ack, CaptureError> {
    let name = req
        .final_path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("snapshot.heapsnapshot");
    eprintln!(
        "{PREFIX}cannot write {} ({why}): streaming the snapshot to {} instead",
        req.final_path.display(),
        config.url
    );
    let failure = |e: &dyn std::fmt::Display| {
        failed(format!("cannot write the file ({why}) nor upload it: {e}"))
    };
    let uploader = match Uploader::new(&config.url, config.compression, folder.pid, folder.at) {
        Ok(u) => u,
        Err(e) => return Ok(failure(&e)),
    };
    let mut upload = SnapshotStream::new(&uploader, name);
    loop {
        match before.read(buf) {
            Ok(0) => break,
            Ok(n) => {
                if let Err(e) = upload.write(&buf[..n]) {
                    return Ok(failure(&e));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                upload.abort();
                return Ok(failure(&format!("cannot read back what was written: {e}")));
            }
        }
    }
    loop {
        match rx.next_chunk(buf) {
            Ok(Chunk::Data(n)) => {
                if let Err(e) = upload.write(&buf[..n]) {
                    return Ok(failure(&e));
                }
            }
            Ok(Chunk::End) => break,
            Err(e) => {
                upload.abort();
                eprintln!(
                    "{PREFIX}the stream ended early; the upload was aborted, no object written"
                );
                return Err(e.into());
            }
        }
    }
    match upload.finish() {
        Ok((object, summary)) => {
            let at = format!("s3://{}/{}", config.url.bucket, object.key);
            eprintln!(
                "{PREFIX}done: {at} ({} bytes, {} in the object)",
                object.bytes, object.object_bytes
            );
            Ok(Ack::Written {
                path: PathBuf::from(at),
                bytes: summary.bytes,
                node_count: summary.node_count,
                edge_count: summary.edge_count,
            })
        }
        Err(e) => Ok(failure(&e)),
    }
}

fn failed(message: String) -> Ack {
    eprintln!("{PREFIX}{message}");
    Ack::Failed(message)
}
