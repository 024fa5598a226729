//! `analyze <file>`: the analyzer's report of one heap snapshot, as text or JSON.

use std::path::{Path, PathBuf};

use oom_heapdump_analyzer::report::{analyze, Limits};
use oom_heapdump_analyzer::{read_snapshot, read_snapshot_stdin};

use crate::messages::print;
use crate::Failure;

/// Totals, the leak suspects, the top N classes by retained size (as Chrome DevTools' Summary view
/// counts them), the largest objects with their shortest retainer paths, and duplicate strings.
#[derive(clap::Args)]
pub struct Args {
    /// The heap snapshot (`.heapsnapshot`, or gzip-compressed); `-` reads it from standard input
    #[arg(value_name = "FILE.heapsnapshot")]
    file: PathBuf,
    /// How many classes to list [default: 10]
    #[arg(long, value_name = "N", value_parser = crate::units::positive)]
    top: Option<usize>,
    /// The same as JSON (shapes in the package's README)
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<(), Failure> {
    print(&report(&args.file, args.top, args.json)?);
    Ok(())
}

/// The report of `file` (also printed by the captures' `--analyze`).
pub fn report(file: &Path, top: Option<usize>, json: bool) -> Result<String, Failure> {
    let stdin = file.as_os_str() == "-";
    let snapshot = if stdin {
        read_snapshot_stdin()
    } else {
        read_snapshot(file)
    }
    .map_err(Failure::new)?;
    let limits = Limits {
        top: top.unwrap_or(Limits::default().top),
        ..Limits::default()
    };
    let a = analyze(&snapshot, limits);
    Ok(if json {
        serde_json::to_string_pretty(&a).expect("serializable")
    } else {
        let name = if stdin {
            "(stdin)".into()
        } else {
            file.display().to_string()
        };
        format!("{name}: {a}")
    })
}
