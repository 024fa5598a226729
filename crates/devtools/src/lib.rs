//! Captures over the Chrome DevTools protocol, from Rust: find an inspector through its HTTP
//! endpoint on loopback, then speak the protocol over its websocket. Used by the addon (captures a
//! process asks of itself) and by the command line (captures of any Node process by pid); neither
//! the policy of when to capture nor which process is chosen lives here.
//!
//! Every read is bounded in size and time (`client`), every file lands with the atomic-file rules
//! of `oom-heapdump-capture` after a completeness check.
#![deny(clippy::all)]

pub mod client;
pub mod cpu_profile;
pub mod cpu_profile_file;
mod endpoint;
mod error;
pub mod heap_profile;
pub mod heap_snapshot;
mod json_string;
mod peer_text;
pub mod snapshot_pipe;
pub mod window;

pub use client::{list_targets, probe, Limits, Probe, Session, Target};
pub use endpoint::Endpoint;
pub use error::DevtoolsError;
pub use peer_text::shown;
