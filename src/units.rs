//! Messages on stderr, and the byte counts and durations in them.

use std::fmt;
use std::time::Duration;

/// A byte count as people read it.
pub struct Size(pub u64);

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0 as f64;
        match self.0 {
            n if n >= 1 << 30 => write!(f, "{:.2} GB", b / 1e9),
            n if n >= 1 << 20 => write!(f, "{:.1} MB", b / 1e6),
            n if n >= 1 << 10 => write!(f, "{:.1} kB", b / 1e3),
            n => write!(f, "{n} bytes"),
        }
    }
}

/// Seconds with one decimal.
pub struct Secs(pub Duration);

impl fmt::Display for Secs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.1} s", self.0.as_secs_f64())
    }
}

/// Writes one message line to stderr in a single write, so that a log collector reading a dying
/// process never gets it in pieces: `say!("wrote {}", path)`.
macro_rules! say {
    ($($arg:tt)*) => {{
        let line = format!("{}\n", format_args!($($arg)*));
        let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), line.as_bytes());
    }};
}
pub(crate) use say;
