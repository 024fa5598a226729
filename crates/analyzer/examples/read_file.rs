//! Reads a snapshot, prints the report and how long each step took:
//! `cargo run --release -p oom-heapdump-analyzer --example read_file -- FILE`.
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
    let analysis = oom_heapdump_analyzer::report::analyze(&s, Default::default());
    println!(
        "{path}: read in {read:.2} s, analyzed in {:.2} s",
        started.elapsed().as_secs_f64() - read
    );
    print!("{analysis}");
}
