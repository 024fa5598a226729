//! Helpers shared by the analyzer's integration tests.

use std::path::PathBuf;
use std::process::Command;

/// Runs `setup` (JavaScript) in a fresh node, then writes a heap snapshot of that process; returns
/// the file, in a folder of its own that the caller may remove.
pub fn real_snapshot(tag: &str, setup: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ohd-analyzer-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("real.heapsnapshot");
    let script = format!(
        "{setup}\nrequire('v8').writeHeapSnapshot({:?})",
        file.display().to_string()
    );
    let status = Command::new("node")
        .args(["-e", &script])
        .status()
        .expect("node makes the snapshot");
    assert!(status.success());
    file
}

/// A script that keeps 3000 instances of `KeptThing`.
pub const KEPT_THINGS: &str =
    "class KeptThing { constructor(i) { this.i = i; this.s = 'k' + i } }\n\
     globalThis.kept = Array.from({ length: 3000 }, (_, i) => new KeptThing(i));";
