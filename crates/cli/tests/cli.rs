//! The command line under adverse conditions: too little memory (`ulimit -v`) must be a clear
//! error and exit status 2, never SIGABRT.

#[path = "../../analyzer/tests/util/mod.rs"]
mod util;

use std::path::PathBuf;
use std::process::Command;

use util::Big;

const CLI: &str = env!("CARGO_BIN_EXE_node-oom-heapdump");

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ohd-analyzer-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `analyze file` under `ulimit -v` of `kb` kilobytes: (exit status, signal, stderr).
#[cfg(unix)]
fn analyze_limited(file: &std::path::Path, kb: u64) -> (Option<i32>, Option<i32>, String) {
    use std::os::unix::process::ExitStatusExt;
    let out = Command::new("/bin/sh")
        .args([
            "-c",
            &format!("ulimit -v {kb} && exec \"$0\" analyze \"$1\""),
        ])
        .arg(CLI)
        .arg(file)
        .output()
        .unwrap();
    (
        out.status.code(),
        out.status.signal(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
#[cfg(unix)]
fn too_little_memory_is_an_error_and_exit_status_2_not_an_abort() {
    let dir = temp_dir("ulimit");
    // A list of a million cells: a 30 MB file, whose analysis needs more than 64 MB.
    let (mut b, global) = Big::with_global();
    b.linked_list(global, 1_000_000);
    let big = dir.join("big.heapsnapshot");
    std::fs::write(&big, b.text()).unwrap();
    let (status, signal, stderr) = analyze_limited(&big, 65536);
    let expected = format!(
        "node-oom-heapdump: not enough memory to analyze {}: ",
        big.display()
    );
    assert_eq!((status, signal), (Some(2), None), "{stderr}");
    assert!(stderr.starts_with(&expected), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    // The same limit is enough for a small snapshot.
    let small = dir.join("small.heapsnapshot");
    std::fs::write(
        &small,
        util::snapshot(
            &[("synthetic", "", 0), ("object", "Global", 10)],
            &[(0, "shortcut", "global", 1)],
        ),
    )
    .unwrap();
    let (status, _, stderr) = analyze_limited(&small, 65536);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(status, Some(0), "{stderr}");
}
