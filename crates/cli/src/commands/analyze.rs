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
    /// What the report and its errors call standard input (`-`); the OOM helper gives the name of
    /// the snapshot whose open file it hands over
    #[arg(long, hide = true, value_name = "NAME")]
    stdin_name: Option<std::ffi::OsString>,
}

pub fn run(args: Args) -> Result<(), Failure> {
    let name = args.stdin_name.as_ref().map(|n| n.to_string_lossy());
    let stdin = (args.file.as_os_str() == "-").then(|| name.as_deref().unwrap_or("(stdin)"));
    print(&report(&args.file, stdin, args.top, args.json)?);
    Ok(())
}

/// The report of `file`, or of standard input called `stdin` (also printed by the captures'
/// `--analyze`).
pub fn report(
    file: &Path,
    stdin: Option<&str>,
    top: Option<usize>,
    json: bool,
) -> Result<String, Failure> {
    let snapshot = match stdin {
        Some(name) => read_snapshot_stdin(name),
        None => read_snapshot(file),
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
        let name = stdin.map_or_else(|| file.display().to_string(), str::to_owned);
        format!("{name}: {a}")
    })
}
