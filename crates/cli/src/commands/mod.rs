//! One file per subcommand, each with its `Args` (clap derive) and `run`.

pub mod analyze;
pub mod convert;
pub mod cpuprofile;
pub mod diff;
pub mod heapprofile;
pub mod leaks;
pub mod snapshot;
