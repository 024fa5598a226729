//! Reads a snapshot and prints its counts, the ten classes with the largest retained size, and how
//! long each step took: `cargo run --release -p oom-heapdump-analyzer --example read_file -- FILE`.
use std::time::Instant;

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: read_file FILE.heapsnapshot");
    let started = Instant::now();
    let s = match oom_heapdump_analyzer::read_snapshot(path.as_ref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(2);
        }
    };
    let read = started.elapsed().as_secs_f64();
    let rows = oom_heapdump_analyzer::summary::summarize(&s);
    println!(
        "{path}: {} nodes, {} edges, {} strings; read in {read:.2} s, summarized in {:.2} s",
        s.node_count,
        s.edge_count,
        s.strings.len(),
        started.elapsed().as_secs_f64() - read
    );
    for r in rows.iter().take(10) {
        println!(
            "{:>10} {:>12} {:>12}  {}",
            r.count, r.self_size, r.retained_size, r.name
        );
    }
}
