//! `snapshot <pid>`: a heap snapshot of a running Node.js process over its inspector, streamed to
//! the file (or stdout) as V8 sends it, checked complete before it lands.

use std::time::Instant;

use oom_heapdump_capture::{CaptureError, SnapshotCheck};
use oom_heapdump_devtools::snapshot_pipe::{self, PipeError};
use oom_heapdump_devtools::{heap_snapshot, Session};

use crate::attach;
use crate::capture::{shown, Destination, Progress, Sink, TargetArgs};
use crate::commands::analyze;
use crate::messages::{note, print};
use crate::units;
use crate::Failure;

/// Heap snapshot of a running Node.js process (.heapsnapshot, as Chrome DevTools' Memory panel
/// loads it). Costs the target a pause and some 15-20x its heap's size while V8 builds it.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    target: TargetArgs,
    /// Print the analyzer's report (as `analyze`) once the file is written
    #[arg(long)]
    analyze: bool,
    /// How the snapshot's bytes come: `pipe`, the target writes them into a FIFO we make in its
    /// /tmp (its inspector only starts it; costs its JS thread what --heapsnapshot-signal does);
    /// `inspector`, in protocol messages (10-20% more time on the target's JS thread on Node 20-24,
    /// and V8's progress on a terminal). `pipe` falls back to `inspector` if the target cannot
    /// write into the FIFO
    #[arg(long, value_enum, default_value_t = Stream::Pipe)]
    stream: Stream,
    /// The most bytes taken from the target before the capture is refused as not a snapshot
    /// (a target may be hostile, or broken) [default: 16 times its resident memory, at least 1 GiB]
    #[arg(long, value_name = "SIZE", value_parser = units::size)]
    max_size: Option<u64>,
}

/// The default `--max-size`: a heap snapshot takes 1.5-2 times the heap it shows (README, Scale),
/// and its heap is within its resident memory; 16 times leaves room for strings that escape to
/// six bytes a character.
fn max_size(resident: u64) -> u64 {
    resident.saturating_mul(16).max(1 << 30)
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Stream {
    Pipe,
    Inspector,
}

type Feed<'a> = dyn FnMut(&[u8]) -> Result<(), CaptureError> + Send + 'a;

/// The snapshot through a FIFO the target writes into; Ok(None) when that could not start (the
/// caller then asks the inspector for it).
fn through_pipe(
    runner: &mut attach::Runner,
    pid: u32,
    session: &mut Session,
    feed: &mut Feed<'_>,
    resident: u64,
) -> Result<Option<u64>, Failure> {
    let status = attach::proc::status(pid).ok();
    let (Some(uid), Some(gid)) = (
        status.as_ref().and_then(|s| s.uid),
        status.as_ref().and_then(|s| s.gid),
    ) else {
        return Ok(None);
    };
    let made = attach::fifo::Fifo::create(pid, uid, gid).and_then(|mut fifo| {
        let _in_runtime = runner.rt.enter();
        let rx = fifo.receiver()?;
        Ok((fifo, rx))
    });
    let (mut fifo, mut rx) = match made {
        Ok(made) => made,
        Err(e) => {
            note(format!(
                "cannot make a pipe in the /tmp of pid {pid} ({e}); the snapshot comes over its inspector"
            ));
            return Ok(None);
        }
    };
    let target_path = fifo.target_path.clone();
    // Once bytes come the target has the FIFO open: its name goes at once, so that nothing else
    // can open it from then on.
    let mut feed_and_unlink = |chunk: &[u8]| {
        fifo.remove();
        feed(chunk)
    };
    let streamed = runner.run(snapshot_pipe::stream(
        session,
        &target_path,
        &mut rx,
        &mut feed_and_unlink,
        resident,
    ));
    // The FIFO's name goes before our end closes: a target that has yet to open it (interrupted
    // before it did) then fails to, rather than waiting for a reader for ever.
    drop(fifo);
    drop(rx);
    match streamed? {
        Ok(bytes) => Ok(Some(bytes)),
        Err(PipeError::Refused(why)) => {
            note(format!(
                "pid {pid} did not write its snapshot into the pipe ({why}); it comes over its inspector"
            ));
            Ok(None)
        }
        Err(PipeError::Devtools(e)) => Err(Failure::new(e)),
    }
}

pub fn run(args: Args) -> Result<(), Failure> {
    let pid = args.target.pid;
    let to = args.target.destination("heapsnapshot");
    if args.analyze && matches!(to, Destination::Stdout) {
        return Err(Failure::new("--analyze needs a file, not -o -"));
    }
    let progress = Progress::new(format!("heap snapshot of pid {pid}"));
    let resident = heap_snapshot::resident_bytes(&pid.to_string());
    let started = Instant::now();
    let (path, summary) = attach::with_session(
        pid,
        heap_snapshot::LIMITS,
        args.target.attach_options(),
        |runner, attached| {
            let mut sink = Sink::open(&to).map_err(Failure::new)?;
            let mut check = match args.max_size {
                Some(most) => SnapshotCheck::with_limit(most, "--max-size"),
                None => SnapshotCheck::with_limit(
                    max_size(resident),
                    "16 times its resident memory; --max-size sets another limit",
                ),
            };
            let mut feed = |chunk: &[u8]| {
                check.feed(chunk)?;
                sink.write(chunk)?;
                progress.bytes(sink.bytes());
                Ok(())
            };
            let mut take = || -> Result<u64, Failure> {
                let piped = if args.stream == Stream::Pipe {
                    through_pipe(runner, pid, &mut attached.session, &mut feed, resident)?
                } else {
                    None
                };
                match piped {
                    Some(bytes) => Ok(bytes),
                    None => runner
                        .run(heap_snapshot::stream(
                            &mut attached.session,
                            &mut feed,
                            &progress,
                            resident,
                        ))?
                        .map_err(Failure::new),
                }
            };
            let streamed = take();
            progress.finish();
            streamed?;
            let summary = check.finish().map_err(Failure::new)?;
            let path = sink.commit().map_err(Failure::new)?;
            Ok((path, summary))
        },
    )?;
    note(format!(
        "heap snapshot of pid {pid}: {} ({} bytes, {} nodes, {} edges) in {:.1} s",
        shown(&path),
        summary.bytes,
        summary.node_count,
        summary.edge_count,
        started.elapsed().as_secs_f64()
    ));
    if let Some(path) = path {
        print(&shown(&Some(path.clone())));
        if args.analyze {
            print(&analyze::report(&path, None, None, false)?);
        }
    }
    Ok(())
}
