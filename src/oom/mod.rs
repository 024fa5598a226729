//! What happens when V8 runs out of heap: V8 calls the shim's handler, which calls `on_oom` on the
//! dying thread. First the cheap artifacts (`diagnosis/`: the sampling heap profile and the
//! report), then, if the estimated cost fits in the memory left (or `forceSnapshot`), the snapshot:
//! taken here (only V8 can walk its heap), streamed to the helper process, or, if the helper cannot
//! take it, written from this process with the same atomic rules. Then the process exits with
//! status 1, as the original package's did.
//!
//! - `install.rs`: the hook, its configuration and the helper, set up ahead of time.
//! - `handle.rs`: the handling, step by step.
//! - `snapshot.rs`: taking the snapshot and landing it through the helper (`helper.rs`), else
//!   `in_process.rs`.

mod handle;
mod helper;
mod in_process;
mod install;
mod snapshot;

pub use self::install::{config, install, InstallError, OomConfig, UploadConfig};
