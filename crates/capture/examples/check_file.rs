//! Runs the streaming snapshot check over a file, in 256 KiB chunks, and prints what it found and
//! how long it took: `cargo run --release -p oom-heapdump-capture --example check_file -- FILE`.
use std::io::Read;
use std::time::Instant;

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: check_file FILE.heapsnapshot");
    let mut file = std::fs::File::open(&path).expect("open");
    let mut check = oom_heapdump_capture::SnapshotCheck::new();
    let mut buf = vec![0u8; 256 * 1024];
    let started = Instant::now();
    loop {
        let n = file.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        check.feed(&buf[..n]).expect("check");
    }
    let summary = check.finish();
    let secs = started.elapsed().as_secs_f64();
    match summary {
        Ok(s) => println!(
            "{path}: {} bytes, {} nodes, {} edges, checked in {secs:.3} s ({:.0} MB/s)",
            s.bytes,
            s.node_count,
            s.edge_count,
            s.bytes as f64 / secs / 1e6
        ),
        Err(e) => println!("{path}: {e}"),
    }
}
