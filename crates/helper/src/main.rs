//! `oom-heapdump-helper`: the off-process writer of heap snapshots.
//!
//! The Node addon starts one helper per process at start-up and keeps it waiting on a pipe (see the
//! README for why it is kept ready rather than spawned at OOM time). When V8 runs out of heap, the
//! dying process serializes its snapshot into that pipe chunk by chunk; a full pipe blocks V8's
//! serializer, which is the backpressure. The helper writes a temporary file beside the target,
//! checks the snapshot is complete, fsyncs, renames, and answers with one line on stdout
//! ([`Ack`]). It exits when its parent closes the pipe, and removes its temporary file if the stream
//! ends early (parent killed mid-write).
//!
//! It writes only what the app itself could: started with `--dir <folder> --stem <name>`, it refuses
//! any other path ([`target`]), and it writes under the app's current credentials, read at each
//! request ([`credentials`]), so a root helper serves an app that has since dropped to `nobody` as
//! `nobody`. The app is its parent at start.
//!
//! Started with `--analyzer <path>` (the analyzer executable, crates/analyzer), it prints what
//! fills the heap of a snapshot whose request asked for it, once the parent has exited: the dying
//! process does not wait for the analysis, and its memory is free again by then. It execs the
//! analyzer with its stdout on this process's stderr, which is the app's (the container log).

use std::io::{self, BufReader, IsTerminal, Write};
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};

use oom_heapdump_capture::protocol::{Ack, Chunk, Receiver, Request};
use oom_heapdump_capture::{CaptureError, SnapshotWriter};

mod credentials;
mod target;

use credentials::Credentials;
use target::Target;

const BUFFER: usize = 256 * 1024;

fn main() -> ExitCode {
    if io::stdin().is_terminal() {
        eprintln!("oom-heapdump-helper is started by the node-oom-heapdump addon; it reads a capture stream on stdin.");
        return ExitCode::from(2);
    }
    let analyzer = analyzer_arg();
    let target = match Target::from_args(std::env::args_os().skip(1)) {
        Ok(t) => t,
        Err(err) => {
            eprintln!("node-oom-heapdump helper: {err}");
            return ExitCode::from(2);
        }
    };
    let app = unsafe { libc::getppid() } as u32;
    match run(&target, app) {
        Ok(Some((snapshot, creds))) => match analyzer {
            Some(analyzer) => summarize(&analyzer, &snapshot, &creds),
            None => ExitCode::SUCCESS,
        },
        Ok(None) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("node-oom-heapdump helper: {err}");
            ExitCode::FAILURE
        }
    }
}

/// The analyzer executable given as `--analyzer <path>`.
fn analyzer_arg() -> Option<PathBuf> {
    let mut args = std::env::args_os().skip(1);
    while let Some(a) = args.next() {
        if a == "--analyzer" {
            return args.next().map(PathBuf::from);
        }
    }
    None
}

/// Replaces this process with `analyzer analyze <snapshot>`, its report going to stderr, under the
/// credentials the snapshot was written with.
fn summarize(
    analyzer: &std::path::Path,
    snapshot: &std::path::Path,
    creds: &Credentials,
) -> ExitCode {
    if let Err(err) = creds.become_permanently() {
        eprintln!("node-oom-heapdump helper: cannot take the app's credentials to analyze: {err}");
        return ExitCode::FAILURE;
    }
    let stderr = match io::stderr().as_fd().try_clone_to_owned() {
        Ok(fd) => fd,
        Err(_) => return ExitCode::FAILURE,
    };
    eprintln!(
        "node-oom-heapdump: what filled the heap, from {} (option analyzeOnOOM: false turns this off):",
        snapshot.display()
    );
    let err = Command::new(analyzer)
        .arg("analyze")
        .arg(snapshot)
        .stdin(Stdio::null())
        .stdout(Stdio::from(stderr))
        .exec();
    eprintln!(
        "node-oom-heapdump: cannot run the analyzer {}: {err}",
        analyzer.display()
    );
    ExitCode::FAILURE
}

/// Serves requests until the sender closes the pipe; returns the last snapshot written whose
/// request asked for a summary, and the credentials it was written with.
fn run(target: &Target, app: u32) -> Result<Option<(PathBuf, Credentials)>, CaptureError> {
    let mut to_summarize = None;
    let mut rx = Receiver::new(BufReader::with_capacity(BUFFER, io::stdin().lock()));
    let mut out = io::stdout().lock();
    let mut buf = vec![0u8; BUFFER];
    while let Some(req) = rx.next_request()? {
        // Refused before anything is created: another path, or no credentials to write it with.
        let allowed = target
            .check(&req.final_path)
            .map_err(|e| e.to_string())
            .and_then(|()| Credentials::of_parent(app).map_err(|e| e.to_string()));
        let creds = match allowed {
            Ok(creds) => creds,
            Err(why) => {
                answer(&mut out, &Ack::Failed(why.clone()))?;
                eprintln!("node-oom-heapdump helper: {why}");
                return Ok(None);
            }
        };
        let received = creds
            .run_as(|| receive(&mut rx, &req, &mut buf))
            .unwrap_or_else(|e| Ok(Ack::Failed(e.to_string())));
        match received {
            Ok(ack) => {
                answer(&mut out, &ack)?;
                match &ack {
                    Ack::Written { path, .. } if req.summarize => {
                        to_summarize = Some((path.clone(), creds));
                    }
                    Ack::Written { .. } => {}
                    // Could not take the app's credentials: nothing was read of the stream.
                    Ack::Failed(_) => return Ok(None),
                }
            }
            Err(err @ CaptureError::Protocol(_)) => {
                // The sender is gone; there is nobody to answer. The temporary file is removed.
                return Err(err);
            }
            Err(err) => {
                // Disk full, folder gone, snapshot malformed: answer at once and exit, so the
                // sender's next write fails instead of streaming the rest for nothing.
                answer(&mut out, &Ack::Failed(err.to_string()))?;
                return Err(err);
            }
        }
    }
    Ok(to_summarize)
}

/// Writes one capture; the temporary file is removed on every error path.
fn receive<R: io::BufRead>(
    rx: &mut Receiver<R>,
    req: &Request,
    buf: &mut [u8],
) -> Result<Ack, CaptureError> {
    let mut writer = SnapshotWriter::create(&req.final_path)?;
    while let Chunk::Data(n) = rx.next_chunk(buf)? {
        writer.write(&buf[..n])?;
    }
    let (path, summary) = writer.finish(req.landing)?;
    Ok(Ack::Written {
        path,
        bytes: summary.bytes,
        node_count: summary.node_count,
        edge_count: summary.edge_count,
    })
}

fn answer(out: &mut impl Write, ack: &Ack) -> Result<(), CaptureError> {
    out.write_all(&ack.encode())
        .and_then(|()| out.flush())
        .map_err(|e| CaptureError::Protocol(e.into()))
}
