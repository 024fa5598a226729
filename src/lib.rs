//! node-oom-heapdump's native addon. Folders follow the data flow:
//! - `napi/`: the boundary, and the only place with `#[napi]` items: reads JS values, calls the
//!   features below, maps their typed errors to JS errors once.
//! - `options/`: every option declared once, checked into typed values.
//! - `oom/`: V8's OOM hook (through `shim.rs` and shim/oom_shim.cc) and what happens at OOM: the
//!   cheap artifacts, then the snapshot streamed to the helper process (crates/helper).
//! - `containers/`: memory cgroup limits, GC_MONITORING, the watch on memory outside the V8 heap.
//! - `diagnosis/`: what is written besides a snapshot: the `.oom.json` report, the `.heapprofile`,
//!   the estimate of a snapshot's cost.
//! - `on_request/`: captures the app asks for, over DevTools (`devtools/`) or in-process.
//! - `export.rs`: `exportCommand` run after captures made while the app runs (after an OOM, the
//!   helper runs it).
#![deny(clippy::all)]
// Under `cargo test` the #[napi] exports are not registered, so everything behind them looks unused.
#![cfg_attr(test, allow(dead_code))]

mod containers;
mod diagnosis;
mod export;
mod napi;
mod on_request;
mod oom;
mod options;
mod shim;
mod units;
