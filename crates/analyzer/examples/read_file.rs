//! Reads a snapshot and prints its counts and how long reading took:
//! `cargo run --release -p oom-heapdump-analyzer --example read_file -- FILE`.
use std::time::Instant;

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: read_file FILE.heapsnapshot");
    let started = Instant::now();
    match oom_heapdump_analyzer::read_snapshot(path.as_ref()) {
        Ok(s) => println!(
            "{path}: {} nodes, {} edges, {} strings, read in {:.2} s",
            s.node_count,
            s.edge_count,
            s.strings.len(),
            started.elapsed().as_secs_f64()
        ),
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(2);
        }
    }
}
