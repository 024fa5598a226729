//! `oom-heapdump-helper`: the off-process writer of heap snapshots.
//!
//! The Node addon starts one helper per process at start-up and keeps it waiting on a pipe (see the
//! README for why it is kept ready rather than spawned at OOM time). When V8 runs out of heap, the
//! dying process serializes its snapshot into that pipe chunk by chunk; a full pipe blocks V8's
//! serializer, which is the backpressure. The helper writes a temporary file beside the target,
//! checks the snapshot is complete, fsyncs, renames, and answers with one line on stdout
//! ([`Ack`]). It exits when its parent closes the pipe, and removes its temporary file if the stream
//! ends early (parent killed mid-write).

use std::io::{self, BufReader, IsTerminal, Write};
use std::process::ExitCode;

use oom_heapdump_capture::protocol::{Ack, Chunk, Receiver, Request};
use oom_heapdump_capture::{CaptureError, SnapshotWriter};

const BUFFER: usize = 256 * 1024;

fn main() -> ExitCode {
    if io::stdin().is_terminal() {
        eprintln!("oom-heapdump-helper is started by the node-oom-heapdump addon; it reads a capture stream on stdin.");
        return ExitCode::from(2);
    }
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("node-oom-heapdump helper: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), CaptureError> {
    let mut rx = Receiver::new(BufReader::with_capacity(BUFFER, io::stdin().lock()));
    let mut out = io::stdout().lock();
    let mut buf = vec![0u8; BUFFER];
    while let Some(req) = rx.next_request()? {
        match receive(&mut rx, &req, &mut buf) {
            Ok(ack) => answer(&mut out, &ack)?,
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
    Ok(())
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
