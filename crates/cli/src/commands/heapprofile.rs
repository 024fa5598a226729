//! `heapprofile <pid>`: V8's sampling heap profiler over a window, over the target's inspector.

use std::time::Duration;

use oom_heapdump_devtools::heap_profile;

use crate::attach;
use crate::capture::{land, shown, TargetArgs};
use crate::commands::cpuprofile::window;
use crate::messages::{note, print};
use crate::{units, Failure};

/// Sampling heap profile of a running Node.js process over a window (.heapprofile, as Chrome
/// DevTools' Memory panel loads it): which functions allocate the memory still live at the end,
/// at almost no cost to the process.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    target: TargetArgs,
    /// How long to sample (at most 1 h)
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = window)]
    duration: Duration,
    /// Average bytes allocated between two samples (B, KiB, MiB)
    #[arg(long, value_name = "SIZE", default_value = "512KiB", value_parser = interval)]
    interval: u64,
}

fn interval(text: &str) -> Result<u64, String> {
    let bytes = units::size(text)?;
    if bytes > i32::MAX as u64 {
        return Err(format!("{text:?} is more than 2 GiB"));
    }
    Ok(bytes)
}

pub fn run(args: Args) -> Result<(), Failure> {
    let pid = args.target.pid;
    let to = args.target.destination("heapprofile");
    let (path, summary) = attach::with_session(
        pid,
        heap_profile::LIMITS,
        args.target.attach_options(),
        |runner, attached| {
            note(format!(
                "heap profile of pid {pid}: one sample per {} bytes allocated, for {}",
                args.interval,
                units::show_duration(args.duration)
            ));
            let json = runner
                .run(heap_profile::record_on(
                    &mut attached.session,
                    args.duration,
                    args.interval,
                ))?
                .map_err(Failure::new)?;
            let summary = heap_profile::check(json.as_bytes()).map_err(Failure::new)?;
            Ok((land(&to, json.as_bytes()).map_err(Failure::new)?, summary))
        },
    )?;
    note(format!(
        "heap profile of pid {pid}: {} ({} allocation sites, {} samples)",
        shown(&path),
        summary.nodes,
        summary.samples
    ));
    if path.is_some() {
        print(&shown(&path));
    }
    Ok(())
}
