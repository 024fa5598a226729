//! `node-oom-heapdump`: the command line of the npm package (its `bin` runs this binary). One clap
//! definition for every subcommand: a subcommand is one line in [`commands!`] below and one file in
//! `commands/` with its `Args` (flags and help) and its `run`.
//!
//! Exit status: 0 when done; 2 for bad usage, an unreadable file, or a capture that failed (with
//! nothing written); `--help` and `--version` print on stdout and exit 0.
#![deny(clippy::all)]

mod attach;
mod capture;
mod commands;
mod messages;
mod units;

use std::process::ExitCode;

use clap::Parser;

pub use messages::Failure;

/// Declares the subcommands: `Variant => module` (the module is `commands::<module>`, with `Args`
/// and `run(Args) -> Result<(), Failure>`); the doc comment is the subcommand's one-line help.
macro_rules! commands {
    ($($(#[doc = $doc:literal])* $variant:ident => $module:ident,)*) => {
        #[derive(clap::Subcommand)]
        enum Command {
            $($(#[doc = $doc])* $variant(commands::$module::Args),)*
        }

        impl Command {
            fn run(self) -> Result<(), Failure> {
                match self {
                    $(Command::$variant(args) => commands::$module::run(args),)*
                }
            }
        }
    };
}

commands! {
    /// What fills a heap snapshot: leak suspects (what holds most of it, and where it piles up),
    /// then the top classes by retained size, the largest objects and duplicate strings
    Analyze => analyze,
    /// Per class, objects added and removed between two heap snapshots (DevTools' Comparison view)
    Diff => diff,
    /// Objects allocated after the first of three snapshots and alive in the other two, grouped by
    /// where they are held
    Leaks => leaks,
    /// A V8 heap or CPU profile as pprof (profile.proto, gzipped) for go tool pprof, Pyroscope and
    /// Grafana
    Convert => convert,
    /// Heap snapshot of a running Node.js process, by pid (nothing needs to be installed in it)
    Snapshot => snapshot,
    /// CPU profile of a running Node.js process over a window (.cpuprofile)
    Cpuprofile => cpuprofile,
    /// Sampling heap profile of a running Node.js process over a window (.heapprofile): what
    /// allocates, at almost no cost to the process
    Heapprofile => heapprofile,
}

/// Heap snapshots when Node.js runs out of memory: analyze them, and capture any running Node.js
/// process by pid.
#[derive(Parser)]
#[command(name = "node-oom-heapdump", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

fn main() -> ExitCode {
    return_freed_arrays();
    let cli = Cli::parse();
    match cli.command.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(),
    }
}

/// Has glibc give the memory of every large array back to the system when it is freed. Its default
/// mmap threshold moves up to the size of the last mmapped block freed (up to 32 MB): after the
/// analyzer's first large array is dropped, arrays of up to 32 MB come from the heap instead, and
/// their pages stay with the process once freed, under the arrays made after them. On the bench's
/// snapshot that was 19 MB of the peak (README, Analyzer). Setting the threshold fixes it.
fn return_freed_arrays() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}
