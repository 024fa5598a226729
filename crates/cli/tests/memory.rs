//! Peak memory stays proportional to the file: a snapshot holding one string of 200 MB, mostly
//! bytes that are not UTF-8, is read by the CLI with a peak resident size under twice the file's
//! size (it took six times the file before). (Alone in its test binary: the
//! peak is read with getrusage(RUSAGE_CHILDREN), the largest of the children waited for.)

#[path = "../../analyzer/tests/util/mod.rs"]
mod util;

use std::io::Write;
use std::process::Command;

#[test]
#[cfg(unix)]
fn a_huge_string_costs_memory_in_proportion_to_the_file() {
    const HUGE: usize = 200 << 20;
    let dir = std::env::temp_dir().join(format!("ohd-analyzer-string-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("huge-string.heapsnapshot");
    let text = util::snapshot(
        &[("synthetic", "", 0), ("string", "s", 32)],
        &[(0, "element", "0", 1)],
    );
    let (head, tail) = text.split_at(text.rfind(']').unwrap());
    {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
        out.write_all(head.as_bytes()).unwrap();
        out.write_all(b",\"").unwrap();
        // Bytes that are not UTF-8 (each becomes a 3-byte U+FFFD), and escapes all along (each must
        // be decoded to find the end of the string).
        let chunk = [&[0xffu8; 64][..], b"0123456789abcdef\\\"\\u00e9"]
            .concat()
            .repeat(1 << 12);
        let mut written = 0;
        while written < HUGE {
            out.write_all(&chunk).unwrap();
            written += chunk.len();
        }
        out.write_all(b"\"").unwrap();
        out.write_all(tail.as_bytes()).unwrap();
    }
    let size = std::fs::metadata(&file).unwrap().len();
    let out = Command::new(env!("CARGO_BIN_EXE_node-oom-heapdump"))
        .arg("analyze")
        .arg(&file)
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // SAFETY: getrusage only writes the struct it is given.
    let peak_kb = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage), 0);
        usage.ru_maxrss as u64
    };
    let peak = peak_kb * 1024;
    assert!(
        peak < 2 * size,
        "peak resident size {} MB for a file of {} MB",
        peak >> 20,
        size >> 20
    );
    eprintln!(
        "peak resident size {} MB for a file of {} MB",
        peak >> 20,
        size >> 20
    );
}
