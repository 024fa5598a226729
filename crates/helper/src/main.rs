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

const BUFFER: usize = 256 * 1024;

fn main() -> ExitCode {
    if io::stdin().is_terminal() {
        eprintln!("oom-heapdump-helper is started by the node-oom-heapdump addon; it reads a capture stream on stdin.");
        return ExitCode::from(2);
    }
    let analyzer = analyzer_arg();
    match run() {
        Ok(Some(snapshot)) => match analyzer {
            Some(analyzer) => summarize(&analyzer, &snapshot),
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

/// Replaces this process with `analyzer analyze <snapshot>`, its report going to stderr.
fn summarize(analyzer: &std::path::Path, snapshot: &std::path::Path) -> ExitCode {
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
/// request asked for a summary.
fn run() -> Result<Option<PathBuf>, CaptureError> {
    let mut to_summarize = None;
    let mut rx = Receiver::new(BufReader::with_capacity(BUFFER, io::stdin().lock()));
    let mut out = io::stdout().lock();
    let mut buf = vec![0u8; BUFFER];
    while let Some(req) = rx.next_request()? {
        match receive(&mut rx, &req, &mut buf) {
            Ok(ack) => {
                answer(&mut out, &ack)?;
                if let Ack::Written { path, .. } = &ack {
                    if req.summarize {
                        to_summarize = Some(path.clone());
                    }
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
    out.write_all(ack.to_line().as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| CaptureError::Protocol(e.into()))
}
