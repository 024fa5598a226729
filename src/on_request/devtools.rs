//! On-request captures over this process's own DevTools inspector: the client is the
//! `oom-heapdump-devtools` crate (shared with the command line); here only the addon's policy.

pub use oom_heapdump_devtools::{
    cpu_profile, heap_snapshot, probe, DevtoolsError, Endpoint, Probe,
};

/// Once, at load: does this process's inspector answer on loopback? The warning to print when not
/// (as the original package did): on-request captures will then run in-process. `own_id` is this
/// process's inspector target, if it has one; `at` where it listens, else the configured port.
pub async fn check_at_load(at: Endpoint, own_id: Option<&str>) -> Option<String> {
    let why = match probe(at, own_id).await {
        Probe::Ours => return None,
        Probe::Other => format!("the inspector on {at} belongs to another process"),
        Probe::Nothing(_) => format!("no DevTools inspector answers on {at}"),
    };
    let port = at.port;
    Some(format!("node-oom-heapdump: {why}; the process may not have been started with --inspect={port}. On-request captures will run in-process."))
}
