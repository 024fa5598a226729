//! `convert <profile> [-o out.pb.gz]`: a V8 heap or CPU profile as pprof (crates/pprof).

use std::path::PathBuf;

use crate::messages::print;
use crate::Failure;

/// Writes pprof's profile.proto, gzipped; by default beside the input as `<name>.heap.pb.gz` or
/// `<name>.cpu.pb.gz`. The kind is read from the content.
#[derive(clap::Args)]
pub struct Args {
    /// A sampling heap profile or a CPU profile
    #[arg(value_name = "FILE.heapprofile|FILE.cpuprofile")]
    input: PathBuf,
    /// Where to write the pprof file
    #[arg(short, long, value_name = "OUT.pb.gz")]
    output: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<(), Failure> {
    let summary = oom_heapdump_pprof::convert_file(&args.input, args.output.as_deref())
        .map_err(Failure::new)?;
    print(&summary.to_string());
    Ok(())
}
