//! `diff <base> <target>`: Chrome DevTools' Comparison view between two heap snapshots.

use std::path::PathBuf;

use oom_heapdump_analyzer::diff::{compare_files, comparison_text};

use crate::messages::print;
use crate::Failure;

/// Per class, objects added and removed between the two snapshots, by growth.
#[derive(clap::Args)]
pub struct Args {
    /// The earlier snapshot
    #[arg(value_name = "BASE.heapsnapshot")]
    base: PathBuf,
    /// The later snapshot
    #[arg(value_name = "TARGET.heapsnapshot")]
    target: PathBuf,
    /// How many classes to list in text [default: 20] (--json lists all)
    #[arg(long, value_name = "N", value_parser = crate::units::positive)]
    top: Option<usize>,
    /// The same as JSON (shapes in the package's README)
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<(), Failure> {
    let c = compare_files(&args.base, &args.target).map_err(Failure::new)?;
    print(&if args.json {
        serde_json::to_string_pretty(&c).expect("serializable")
    } else {
        format!(
            "{} -> {}: {}",
            args.base.display(),
            args.target.display(),
            comparison_text(&c, args.top.unwrap_or(20))
        )
    });
    Ok(())
}
