//! `leaks <s1> <s2> <s3>`: the three-snapshot technique: objects allocated after s1 and still alive
//! in s2 and s3, grouped by where they are held in s3.

use std::path::PathBuf;

use oom_heapdump_analyzer::leaks::{find_leaks, leaks_text};

use crate::messages::print;
use crate::Failure;

/// Objects allocated after the first snapshot and alive in the other two, by retained size.
#[derive(clap::Args)]
pub struct Args {
    /// The first snapshot (before the suspected leak)
    #[arg(value_name = "S1.heapsnapshot")]
    s1: PathBuf,
    /// The second snapshot of the same process
    #[arg(value_name = "S2.heapsnapshot")]
    s2: PathBuf,
    /// The third snapshot of the same process
    #[arg(value_name = "S3.heapsnapshot")]
    s3: PathBuf,
    /// How many groups to list in text [default: 20] (--json lists all)
    #[arg(long, value_name = "N", value_parser = crate::units::positive)]
    top: Option<usize>,
    /// The same as JSON (shapes in the package's README)
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<(), Failure> {
    let l = find_leaks(&args.s1, &args.s2, &args.s3).map_err(Failure::new)?;
    print(&if args.json {
        serde_json::to_string_pretty(&l).expect("serializable")
    } else {
        format!(
            "{} -> {} -> {}: {}",
            args.s1.display(),
            args.s2.display(),
            args.s3.display(),
            leaks_text(&l, args.top.unwrap_or(20))
        )
    });
    Ok(())
}
