//! `oom-heapdump-helper`: the off-process writer of heap snapshots.
//!
//! The Node addon starts one helper per process at start-up and keeps it waiting on a pipe (see the
//! README for why it is kept ready rather than spawned at OOM time). When V8 runs out of heap, the
//! dying process serializes its snapshot into that pipe chunk by chunk; a full pipe blocks V8's
//! serializer, which is the backpressure. The helper writes a temporary file beside the target,
//! checks the snapshot is complete, fsyncs, renames, and answers with one line on stdout
//! ([`Ack`]). A capture that fails here (disk full) is answered at once and the rest of its stream
//! skipped, and the helper serves on. It exits when its parent closes the pipe, and removes its
//! temporary file if the stream ends early (parent killed mid-write).
//!
//! It writes only what the app itself could: started with `--dir <folder> --stem <name>`, it refuses
//! any other path ([`target`]), and it writes under the app's current credentials, read at each
//! request ([`credentials`]), so a root helper serves an app that has since dropped to `nobody` as
//! `nobody`. The app is its parent at start.
//!
//! Started with `--analyzer <path>` (the command line, crates/cli, whose `analyze` it runs), it prints what
//! fills the heap of a snapshot whose request asked for it, once the parent has exited: the dying
//! process does not wait for the analysis, and its memory is free again by then. It execs the
//! analyzer with its stdout on this process's stderr, which is the app's (the container log).
//!
//! Started with `--export-timeout-ms <ms> -- <file> [args...]` (the app's `exportCommand`, learned
//! at start-up so that nothing but the list of files is sent at OOM time), it runs that command once
//! the parent has exited (after the analyzer's summary) on the files the OOM wrote, as the dying
//! process listed them in an export message (each checked to be one of the target's). Under the
//! app's credentials, read when that message arrived; its output and failure go to stderr
//! ([`oom_heapdump_capture::export`]).
//!
//! Started with `--pprof` (the app's option `pprof`), it first converts the heap profile among
//! those files to pprof beside it (`<name>.heap.pb.gz`, crates/pprof), which the export command
//! then gets too: here rather than in the dying process, whose exit it would delay, at its limit.
//!
//! Started with `--upload s3://bucket/prefix [--upload-compression gzip]` (the app's `upload`
//! option), it uploads the files of that export message, and the analyzer's summary, to object
//! storage once the parent has exited, before the export command runs ([`upload`]).

use std::ffi::OsString;
use std::io::{self, BufReader, IsTerminal, Read, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use oom_heapdump_capture::export::{self, Export};
use oom_heapdump_capture::protocol::{Ack, Chunk, ExportFiles, Message, Receiver, Request};
use oom_heapdump_capture::{CaptureError, SnapshotWriter};

mod app_files;
mod credentials;
mod target;
mod upload;

use credentials::{App, Credentials};
use target::Target;
use upload::{Folder, UploadConfig};

const BUFFER: usize = 256 * 1024;

fn main() -> ExitCode {
    if io::stdin().is_terminal() {
        eprintln!("oom-heapdump-helper is started by the node-oom-heapdump addon; it reads a capture stream on stdin.");
        return ExitCode::from(2);
    }
    // Our own arguments, then `--` and the export command, if any.
    let mut own: Vec<OsString> = std::env::args_os().skip(1).collect();
    let command = match own.iter().position(|a| a == "--") {
        Some(i) => {
            let command = own.split_off(i);
            command[1..].to_vec()
        }
        None => Vec::new(),
    };
    let analyzer = arg(&own, "--analyzer").map(PathBuf::from);
    let pprof = own.iter().any(|a| a == "--pprof");
    let export_timeout = arg(&own, "--export-timeout-ms")
        .and_then(|ms| ms.to_str()?.parse::<u64>().ok())
        .map_or(Duration::from_secs(300), Duration::from_millis);
    let upload = match UploadConfig::from_args(&own) {
        Ok(u) => u,
        Err(err) => {
            eprintln!("node-oom-heapdump helper: {err}");
            return ExitCode::from(2);
        }
    };
    let target = match Target::from_args(own) {
        Ok(t) => t,
        Err(err) => {
            eprintln!("node-oom-heapdump helper: {err}");
            return ExitCode::from(2);
        }
    };
    let app = App::parent();
    let mut after = match run(&target, &app, upload.as_ref()) {
        Ok(after) => after,
        Err(err) => {
            eprintln!("node-oom-heapdump helper: {err}");
            return ExitCode::FAILURE;
        }
    };
    // The app has exited: its memory is free, and nothing here delays its exit.
    let exported = after.exported.as_ref().map(|(_, c)| c);
    let Some(creds) = exported.or(after.summarize.as_ref().map(|(_, c)| c)) else {
        return ExitCode::SUCCESS;
    };
    if let Err(err) = creds.become_permanently() {
        eprintln!("node-oom-heapdump helper: cannot take the app's credentials to analyze or export: {err}");
        return ExitCode::FAILURE;
    }
    let mut status = ExitCode::SUCCESS;
    if let (true, Some((files, _))) = (pprof, &mut after.exported) {
        match write_pprof(&target, &files.files) {
            Ok(Some(written)) => files.files.push(written),
            Ok(None) => {}
            Err(()) => status = ExitCode::FAILURE,
        }
    }
    // The summary is kept for the upload, when there is one.
    let mut summary = upload.as_ref().map(|_| Vec::new());
    if let (Some(analyzer), Some((snapshot, _))) = (&analyzer, &after.summarize) {
        if summarize(analyzer, snapshot, summary.as_mut()) != ExitCode::SUCCESS {
            status = ExitCode::FAILURE;
        }
    }
    if let (Some(config), Some((files, _))) = (&upload, &after.exported) {
        let summary = summary.as_deref().filter(|s| !s.is_empty());
        // Beside a snapshot streamed to the bucket, in its folder.
        let at = after.streamed_at.unwrap_or(after.exported_at);
        if !upload::run(config, &files.files, summary, Folder { pid: app.pid, at }) {
            status = ExitCode::FAILURE;
        }
    }
    if let (Some((files, _)), false) = (&after.exported, command.is_empty()) {
        let mut files_now = files.files.clone();
        files_now.retain(|f| match app_files::check(f) {
            Ok(()) => true,
            Err(why) => {
                eprintln!("{}{why}; left out", export::PREFIX);
                false
            }
        });
        let export = Export {
            command,
            files: files_now,
            kind: "oom".into(),
            pid: app.pid,
            reason: files.reason.clone(),
            timeout: export_timeout,
        };
        if !run_export(&export) {
            status = ExitCode::FAILURE;
        }
    }
    status
}

/// The value of our argument `name`.
fn arg<'a>(args: &'a [OsString], name: &str) -> Option<&'a OsString> {
    let i = args.iter().position(|a| a == name)?;
    args.get(i + 1)
}

/// Converts the OOM's heap profile, if `files` has one, to pprof beside it; what it wrote. Says
/// what it did, or why not, on stderr. This process already has the app's credentials.
fn write_pprof(target: &Target, files: &[PathBuf]) -> Result<Option<PathBuf>, ()> {
    let Some(profile) = files
        .iter()
        .find(|f| f.as_os_str().as_encoded_bytes().ends_with(b".heapprofile"))
    else {
        eprintln!("node-oom-heapdump: pprof: the OOM wrote no heap profile to convert");
        return Ok(None);
    };
    let output = oom_heapdump_pprof::default_output(profile, oom_heapdump_pprof::Kind::Heap);
    let converted = target
        .check_artifact(&output)
        .map_err(|e| e.to_string())
        .and_then(|()| app_files::open(profile))
        .and_then(|file| {
            oom_heapdump_pprof::convert_opened(profile, &file, Some(&output))
                .map_err(|e| e.to_string())
        });
    match converted {
        Ok(summary) => {
            eprintln!("node-oom-heapdump: pprof: {summary}");
            Ok(Some(summary.output))
        }
        Err(why) => {
            eprintln!("node-oom-heapdump: pprof: not written: {why}");
            Err(())
        }
    }
}

/// Runs the export command, its output and failure on stderr; true when it succeeded.
fn run_export(export: &Export) -> bool {
    let started = std::time::Instant::now();
    let result = export::run(export, &mut io::stderr());
    match result {
        Ok(()) => {
            eprintln!(
                "{}done: {} file(s) of the OOM exported in {:.1} s",
                export::PREFIX,
                export.files.len(),
                started.elapsed().as_secs_f64()
            );
            true
        }
        Err(err) => {
            eprintln!("{}{err}", export::PREFIX);
            false
        }
    }
}

/// Runs `analyzer analyze -` on `snapshot`, its report going to stderr, and waits for it (the
/// upload and the export come after). The analyzer reads the file this process opened and checked
/// ([`app_files::open`]) on its standard input, not the name, which may hold something else by the
/// time it would open it. This process already has the app's credentials. With `keep`, the report
/// is also kept there (its first [`SUMMARY_MAX`] bytes).
fn summarize(analyzer: &Path, snapshot: &Path, keep: Option<&mut Vec<u8>>) -> ExitCode {
    let file = match app_files::open(snapshot) {
        Ok(file) => file,
        Err(why) => {
            eprintln!("node-oom-heapdump: no summary of what filled the heap: {why}");
            return ExitCode::FAILURE;
        }
    };
    let stderr = match io::stderr().as_fd().try_clone_to_owned() {
        Ok(fd) => fd,
        Err(_) => return ExitCode::FAILURE,
    };
    eprintln!(
        "node-oom-heapdump: what filled the heap, from {} (option analyzeOnOOM: false turns this off):",
        snapshot.display()
    );
    let mut command = Command::new(analyzer);
    // One argument, whatever the name holds (a leading '-', bytes that are not UTF-8).
    let mut name = std::ffi::OsString::from("--stdin-name=");
    name.push(snapshot);
    command
        .arg("analyze")
        .arg("-")
        .arg(name)
        .stdin(Stdio::from(file));
    let ran = match keep {
        None => command.stdout(Stdio::from(stderr)).status(),
        Some(kept) => command
            .stdout(Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                let mut out = child.stdout.take().expect("piped");
                tee(&mut out, &mut std::fs::File::from(stderr), kept);
                child.wait()
            }),
    };
    match ran {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!(
                "node-oom-heapdump: cannot run the analyzer {}: {err}",
                analyzer.display()
            );
            ExitCode::FAILURE
        }
    }
}

/// The most of the analyzer's report kept for the upload.
const SUMMARY_MAX: usize = 1 << 20;

/// Copies `from` to `to` until its end, keeping the first [`SUMMARY_MAX`] bytes in `kept`.
fn tee(from: &mut impl io::Read, to: &mut impl Write, kept: &mut Vec<u8>) {
    let mut buf = [0u8; 8192];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        };
        let _ = to.write_all(&buf[..n]);
        let room = SUMMARY_MAX.saturating_sub(kept.len());
        kept.extend_from_slice(&buf[..n.min(room)]);
    }
}

/// What is left to do once the app has exited, each with the credentials the app had when it
/// asked: the snapshot to summarize, the files to export (and upload).
struct After {
    summarize: Option<(PathBuf, Credentials)>,
    exported: Option<(ExportFiles, Credentials)>,
    /// When the export message came: the time in the upload's folder name.
    exported_at: std::time::SystemTime,
    /// When the last snapshot that reached the bucket by stream started: the time in its folder's
    /// name.
    streamed_at: Option<std::time::SystemTime>,
}

impl Default for After {
    fn default() -> Self {
        After {
            summarize: None,
            exported: None,
            exported_at: std::time::SystemTime::now(),
            streamed_at: None,
        }
    }
}

/// Serves requests until the sender closes the pipe; returns the last snapshot written whose
/// request asked for a summary and the last files to export, with the app's credentials then.
fn run(target: &Target, app: &App, upload: Option<&UploadConfig>) -> Result<After, CaptureError> {
    let mut after = After::default();
    let mut rx = Receiver::new(BufReader::with_capacity(BUFFER, io::stdin().lock()));
    let mut out = io::stdout().lock();
    let mut buf = vec![0u8; BUFFER];
    while let Some(message) = rx.next_message()? {
        let req = match message {
            Message::Capture(req) => req,
            Message::Export(files) => {
                // Only the target's files, under the app's credentials of now.
                let allowed = files
                    .files
                    .iter()
                    .try_for_each(|f| target.check_artifact(f).map_err(|e| e.to_string()))
                    .and_then(|()| app.credentials().map_err(|e| e.to_string()));
                // The app waits for this answer, so it is still alive (and our parent) above.
                // (An answer that cannot be written, the app killed since, loses nothing queued.)
                match allowed {
                    Ok(creds) => {
                        after.exported = Some((files, creds));
                        after.exported_at = std::time::SystemTime::now();
                        let _ = answer(&mut out, &Ack::Accepted);
                    }
                    Err(why) => {
                        let _ = answer(&mut out, &Ack::Failed(why.clone()));
                        eprintln!("node-oom-heapdump helper: no export: {why}");
                    }
                }
                continue;
            }
        };
        // Refused before anything is created: another path, or no credentials to write it with.
        let allowed = target
            .check(&req.final_path)
            .map_err(|e| e.to_string())
            .and_then(|()| app.credentials().map_err(|e| e.to_string()));
        let creds = match allowed {
            Ok(creds) => creds,
            Err(why) => {
                answer(&mut out, &Ack::Failed(why.clone()))?;
                eprintln!("node-oom-heapdump helper: {why}");
                rx.skip_rest(&mut buf)?;
                continue;
            }
        };
        let started = std::time::SystemTime::now();
        let received = creds
            .run_as(|| {
                let folder = Folder {
                    pid: app.pid,
                    at: started,
                };
                receive(&mut rx, &req, &mut buf, upload, folder)
            })
            .unwrap_or_else(|e| Ok((Ack::Failed(e.to_string()), false)));
        // A capture that fails here is answered at once, before the rest of its stream is read:
        // the app sees the answer between two chunks, stops V8's serializer and ends the stream
        // (rather than streaming the rest for nothing), and this helper, which skips to that end,
        // goes on serving it: the OOM's export and upload of the files that were written.
        match received {
            Ok((ack, streamed)) => {
                answer(&mut out, &ack)?;
                if streamed && matches!(ack, Ack::Written { .. }) {
                    after.streamed_at = Some(started);
                }
                match &ack {
                    // A snapshot streamed to the bucket has no file to summarize.
                    Ack::Written { path, .. } if req.summarize && !streamed => {
                        after.summarize = Some((path.clone(), creds));
                    }
                    Ack::Written { .. } | Ack::Accepted | Ack::Replaced(_) => {}
                    // Could not take the app's credentials (nothing was read of the stream), or
                    // the upload it went to failed (mid-stream, or once it had ended).
                    Ack::Failed(_) | Ack::OutOfSpace(_) => rx.skip_rest(&mut buf)?,
                }
            }
            Err(err @ CaptureError::Replaced(_)) => {
                // Landed, then another writer's capture took the name: the app must not write
                // it again (that would race the same way), so this is not a failure answer.
                answer(&mut out, &Ack::Replaced(err.to_string()))?;
                eprintln!("node-oom-heapdump helper: {err}");
            }
            Err(err @ CaptureError::Protocol(_)) => {
                // The sender is gone; there is nobody to answer. The temporary file is removed.
                return Err(err);
            }
            Err(err) => {
                // Disk full, folder gone, snapshot malformed (its temporary file is removed). A
                // full disk is told apart: the app does not write it again into the same folder.
                let why = err.to_string();
                let ack = if err.is_out_of_space() {
                    Ack::OutOfSpace(why)
                } else {
                    Ack::Failed(why)
                };
                answer(&mut out, &ack)?;
                eprintln!("node-oom-heapdump helper: {err}");
                rx.skip_rest(&mut buf)?;
            }
        }
    }
    Ok(after)
}

/// Writes one capture; the temporary file is removed on every error path. With an upload, a
/// snapshot whose file cannot be created, or that fills the disk, is streamed to the bucket instead
/// (true).
fn receive<R: io::BufRead>(
    rx: &mut Receiver<R>,
    req: &Request,
    buf: &mut [u8],
    upload: Option<&UploadConfig>,
    folder: Folder,
) -> Result<(Ack, bool), CaptureError> {
    let mut writer = match (SnapshotWriter::create(&req.final_path), upload) {
        (Ok(w), _) => w,
        (Err(why), Some(config)) => {
            return upload::stream(rx, req, buf, config, folder, &why, &mut io::empty())
                .map(|a| (a, true))
        }
        (Err(why), None) => return Err(why),
    };
    while let Chunk::Data(n) = rx.next_chunk(buf)? {
        match (writer.write(&buf[..n]), upload) {
            (Ok(()), _) => {}
            // The disk is full: what was written, this chunk and the rest go to the bucket.
            (Err(why), Some(config)) if why.is_out_of_space() => {
                let mut before = writer
                    .read_back()?
                    .chain(io::Cursor::new(buf[..n].to_vec()));
                // (Its temporary is removed: its blocks stay until `before` is read and closed.)
                drop(writer);
                return upload::stream(rx, req, buf, config, folder, &why, &mut before)
                    .map(|a| (a, true));
            }
            (Err(why), _) => return Err(why),
        }
    }
    let (landed, summary) = writer.finish(req.landing)?;
    let ack = Ack::Written {
        path: landed.path,
        bytes: summary.bytes,
        node_count: summary.node_count,
        edge_count: summary.edge_count,
    };
    Ok((ack, false))
}

fn answer(out: &mut impl Write, ack: &Ack) -> Result<(), CaptureError> {
    out.write_all(&ack.encode())
        .and_then(|()| out.flush())
        .map_err(|e| CaptureError::Protocol(e.into()))
}
