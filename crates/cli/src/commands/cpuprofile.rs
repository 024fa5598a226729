//! `cpuprofile <pid>`: V8's CPU profiler over a window, over the target's inspector.

use std::time::Duration;

use oom_heapdump_devtools::{cpu_profile, cpu_profile_file};

use crate::attach;
use crate::capture::{land, shown, TargetArgs};
use crate::messages::{note, print};
use crate::{units, Failure};

/// CPU profile of a running Node.js process over a window (.cpuprofile, as Chrome DevTools'
/// Performance panel loads it).
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    target: TargetArgs,
    /// How long to profile (at most 1 h)
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = window)]
    duration: Duration,
    /// Time between two samples (1us to 1s)
    #[arg(long, value_name = "DURATION", default_value = "1ms", value_parser = interval)]
    interval: Duration,
}

/// A profiling window: above zero, at most an hour.
pub fn window(text: &str) -> Result<Duration, String> {
    let d = units::duration(text)?;
    if d > Duration::from_secs(3600) {
        return Err(format!("{text:?} is longer than 1 h"));
    }
    Ok(d)
}

fn interval(text: &str) -> Result<Duration, String> {
    let d = units::duration(text)?;
    if d < Duration::from_micros(1) || d > Duration::from_secs(1) {
        return Err(format!("{text:?} is not between 1us and 1s"));
    }
    Ok(d)
}

pub fn run(args: Args) -> Result<(), Failure> {
    let pid = args.target.pid;
    let to = args.target.destination("cpuprofile");
    let interval_us = args.interval.as_micros() as u32;
    let path = attach::with_session(
        pid,
        cpu_profile::LIMITS,
        args.target.attach_options(),
        |runner, attached| {
            note(format!(
                "CPU profile of pid {pid}: sampling every {} for {}",
                units::show_duration(args.interval),
                units::show_duration(args.duration)
            ));
            let json = runner
                .run(cpu_profile::record_on(
                    &mut attached.session,
                    args.duration,
                    interval_us,
                ))?
                .map_err(Failure::new)?;
            cpu_profile_file::check(json.as_bytes()).map_err(Failure::new)?;
            land(&to, json.as_bytes()).map_err(Failure::new)
        },
    )?;
    note(format!("CPU profile of pid {pid}: {}", shown(&path)));
    if path.is_some() {
        print(&shown(&path));
    }
    Ok(())
}
