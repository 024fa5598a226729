//! On-request captures over the Chrome DevTools protocol, from Rust: find this process's inspector
//! through its HTTP endpoint on loopback, then speak the protocol over its websocket.

mod client;
pub mod cpu_profile;
mod error;
pub mod heap_snapshot;
mod json_string;

pub use client::{probe, Probe};
pub use error::DevtoolsError;
