//! Output and error printing in one place: every failure is one `node-oom-heapdump: ...` line on
//! stderr and exit status 2.

use std::fmt::Display;
use std::process::ExitCode;

/// Why a subcommand did not do its work.
#[derive(Debug)]
pub struct Failure(pub String);

impl Failure {
    pub fn new(why: impl Display) -> Failure {
        Failure(why.to_string())
    }

    pub fn report(self) -> ExitCode {
        eprintln!("node-oom-heapdump: {}", self.0);
        ExitCode::from(2)
    }
}

/// A line on stderr, prefixed like every message of ours.
pub fn note(line: impl Display) {
    eprintln!("node-oom-heapdump: {line}");
}

/// Prints `text` on stdout with one final newline; a closed pipe (`| head`) is not an error.
pub fn print(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{}", text.trim_end());
}
