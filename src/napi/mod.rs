//! The napi boundary: every function and object JS sees is declared in this folder, over the
//! napi-free modules of the crate. Typed errors become JS errors here, once (`errors.rs`).
//! - `install.rs`: the factory (OOM hook, GC_MONITORING, the memory watch, the inspector check).
//! - `capture.rs`: on-request captures.
//! - `analyze.rs`: `analyzeHeapSnapshot`.
//! - `shim.rs`: `loadShim`, which binds the per-ABI C++ shim.

mod analyze;
mod capture;
mod context;
mod errors;
mod install;
mod js_thread;
mod register;
mod shim;
