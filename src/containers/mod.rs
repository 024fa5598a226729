//! Containers: the memory limit the process runs under (`cgroup.rs`), GC_MONITORING snapshots taken
//! while they still fit (`gc_monitor.rs`), and the watch on memory outside the V8 heap
//! (`memory_watch.rs`).

pub mod cgroup;
pub mod gc_monitor;
pub mod memory_watch;
