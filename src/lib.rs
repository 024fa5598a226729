//! node-oom-heapdump's native addon. The data flow of an OOM capture, file by file:
//! `install.rs` (options from JS) -> `oom.rs` (V8's OOM handler, via `shim.rs` and
//! shim/oom_shim.cc) -> `helper_process.rs` (the pipe to crates/helper, which writes the file).
//! On-request captures: `captures.rs` (arguments from JS) -> `devtools/` (over the inspector
//! websocket) or `in_process.rs` (V8's API through the shim) -> the same atomic files.
#![deny(clippy::all)]
// Under `cargo test` the #[napi] exports are not registered, so everything behind them looks unused.
#![cfg_attr(test, allow(dead_code))]

mod captures;
mod cpu_profile_file;
mod devtools;
mod helper_process;
mod in_process;
mod install;
mod oom;
mod options;
mod shim;
