//! `snapshot <pid>`: a heap snapshot of a running Node.js process over its inspector, streamed to
//! the file (or stdout) as V8 sends it, checked complete before it lands.

use std::time::Instant;

use oom_heapdump_capture::SnapshotCheck;
use oom_heapdump_devtools::heap_snapshot;

use crate::attach;
use crate::capture::{shown, Destination, Progress, Sink, TargetArgs};
use crate::commands::analyze;
use crate::messages::{note, print};
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
        |rt, attached| {
            let mut sink = Sink::open(&to).map_err(Failure::new)?;
            let mut check = SnapshotCheck::new();
            let mut feed = |chunk: &[u8]| {
                check.feed(chunk)?;
                sink.write(chunk)?;
                progress.bytes(sink.bytes());
                Ok(())
            };
            let streamed = rt.block_on(heap_snapshot::stream(
                &mut attached.session,
                &mut feed,
                &progress,
                resident,
            ));
            progress.finish();
            streamed.map_err(Failure::new)?;
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
            print(&analyze::report(&path, None, false)?);
        }
    }
    Ok(())
}
