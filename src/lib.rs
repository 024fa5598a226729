//! node-oom-heapdump's native addon. The data flow of an OOM capture, file by file:
//! `install.rs` (options from JS) -> `oom.rs` (V8's OOM handler, via `shim.rs` and
//! shim/oom_shim.cc) -> `helper_process.rs` (the pipe to crates/helper, which writes the file).
//! On-request captures: `captures.rs` (arguments from JS) -> `devtools/` (over the inspector
//! websocket) or `in_process.rs` (V8's API through the shim) -> the same atomic files.
//! Containers: `container.rs` (cgroup limits), `diagnosis.rs` (heap profile, report, snapshot cost),
//! `gc_monitor.rs` (GC_MONITORING decisions), `rss_watch.rs` (memory outside the V8 heap).
//! Analysis: `analysis.rs` runs crates/analyzer for `analyzeHeapSnapshot()`.
#![deny(clippy::all)]
// Under `cargo test` the #[napi] exports are not registered, so everything behind them looks unused.
#![cfg_attr(test, allow(dead_code))]

mod analysis;
mod captures;
mod container;
mod cpu_profile_file;
mod devtools;
mod diagnosis;
mod gc_monitor;
mod heap_profile;
mod helper_process;
mod in_process;
mod install;
mod oom;
mod options;
mod rss_watch;
mod shim;
mod units;
