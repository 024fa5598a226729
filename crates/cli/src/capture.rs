//! What every capture subcommand shares: the target and output flags, default file names (pid and
//! time), landing a checked capture (a file with the atomic-file rules, or stdout), and progress on
//! stderr (a bar on a terminal, plain lines otherwise).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use oom_heapdump_capture::{AtomicFile, CaptureError, Landing, UtcTime};
use oom_heapdump_devtools::heap_snapshot::ProgressSink;

use crate::attach;
use crate::messages::note;
use crate::units;

/// The flags of every capture: which process, where to write, how long to wait for its inspector.
#[derive(clap::Args)]
pub struct TargetArgs {
    /// The Node.js process to capture (it needs nothing installed; see the README for containers)
    pub pid: u32,
    /// Where to write: a file, or - for stdout (still checked: exit status 2 if incomplete)
    /// [default: <kind>-<pid>-<UTC time>.<ext> in the current folder]
    #[arg(short, long, value_name = "FILE|-")]
    pub output: Option<PathBuf>,
    /// The longest wait for the inspector that SIGUSR1 opens
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = units::duration)]
    pub attach_timeout: Duration,
}

impl TargetArgs {
    pub fn attach_options(&self) -> attach::Options {
        attach::Options {
            sigusr1_wait: self.attach_timeout,
        }
    }

    /// Where this capture goes; `ext` without its dot.
    pub fn destination(&self, ext: &str) -> Destination {
        match &self.output {
            Some(p) if p.as_os_str() == "-" => Destination::Stdout,
            Some(p) => Destination::File {
                path: p.clone(),
                landing: Landing::Replace,
            },
            None => Destination::File {
                path: PathBuf::from(format!(
                    "{ext}-{}-{}.{ext}",
                    self.pid,
                    utc_stamp(SystemTime::now())
                )),
                landing: Landing::KeepExisting,
            },
        }
    }
}

/// Where a capture lands.
#[derive(Debug, Clone)]
pub enum Destination {
    /// A file: a named one replaces what is there, a default name never does.
    File {
        path: PathBuf,
        landing: Landing,
    },
    Stdout,
}

/// `20261204T184512Z`: a UTC time for file names.
pub fn utc_stamp(t: SystemTime) -> String {
    format!("{}Z", UtcTime::of(t).basic())
}

/// A capture on its way out: an atomic file, or stdout. Nothing reaches a final name (or, for
/// stdout, the exit status 0) before the content is checked complete.
pub enum Sink {
    File { file: AtomicFile, landing: Landing },
    Stdout { out: std::io::Stdout, bytes: u64 },
}

impl Sink {
    pub fn open(to: &Destination) -> Result<Sink, CaptureError> {
        Ok(match to {
            Destination::File { path, landing } => Sink::File {
                file: AtomicFile::create(path)?,
                landing: *landing,
            },
            Destination::Stdout => Sink::Stdout {
                out: std::io::stdout(),
                bytes: 0,
            },
        })
    }

    pub fn write(&mut self, chunk: &[u8]) -> Result<(), CaptureError> {
        match self {
            Sink::File { file, .. } => file.write_all(chunk),
            Sink::Stdout { out, bytes } => {
                *bytes += chunk.len() as u64;
                out.lock()
                    .write_all(chunk)
                    .map_err(|source| CaptureError::Write {
                        path: PathBuf::from("<stdout>"),
                        source,
                    })
            }
        }
    }

    pub fn bytes(&self) -> u64 {
        match self {
            Sink::File { file, .. } => file.len(),
            Sink::Stdout { bytes, .. } => *bytes,
        }
    }

    /// Lands the file (or flushes stdout): where it went, None for stdout.
    pub fn commit(self) -> Result<Option<PathBuf>, CaptureError> {
        match self {
            Sink::File { file, landing } => Ok(Some(file.commit(landing)?)),
            Sink::Stdout { out, .. } => {
                out.lock().flush().map_err(|source| CaptureError::Write {
                    path: PathBuf::from("<stdout>"),
                    source,
                })?;
                Ok(None)
            }
        }
    }
}

/// Writes a whole checked capture (a profile) to `to`; where it landed.
pub fn land(to: &Destination, bytes: &[u8]) -> Result<Option<PathBuf>, CaptureError> {
    let mut sink = Sink::open(to)?;
    sink.write(bytes)?;
    sink.commit()
}

/// Where a landed capture is, for messages.
pub fn shown(path: &Option<PathBuf>) -> String {
    match path {
        Some(p) => absolute(p).display().to_string(),
        None => "stdout".into(),
    }
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Progress on stderr: on a terminal one line redrawn in place (bytes written, and V8's progress
/// of building a snapshot), otherwise a plain line at most every few seconds.
pub struct Progress {
    tty: bool,
    what: String,
    started: Instant,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    done: u32,
    total: u32,
    bytes: u64,
    last: Option<Instant>,
}

const PLAIN_EVERY: Duration = Duration::from_secs(5);
const BAR_EVERY: Duration = Duration::from_millis(100);

impl Progress {
    pub fn new(what: String) -> Progress {
        Progress {
            tty: std::io::stderr().is_terminal(),
            what,
            started: Instant::now(),
            // The first plain line after PLAIN_EVERY, not at the first chunk.
            state: Mutex::new(State {
                last: Some(Instant::now()),
                ..State::default()
            }),
        }
    }

    pub fn bytes(&self, bytes: u64) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.bytes = bytes;
        self.show(&mut s, false);
    }

    /// Clears the bar before a final line.
    pub fn finish(&self) {
        if self.tty {
            eprint!("\r\x1b[2K");
        }
    }

    fn show(&self, s: &mut State, force: bool) {
        let every = if self.tty { BAR_EVERY } else { PLAIN_EVERY };
        if !force && s.last.is_some_and(|t| t.elapsed() < every) {
            return;
        }
        s.last = Some(Instant::now());
        let mib = s.bytes as f64 / (1 << 20) as f64;
        let secs = self.started.elapsed().as_secs_f64();
        if self.tty {
            let (pct, bar) = if s.total > 0 {
                let f = f64::from(s.done) / f64::from(s.total);
                let n = (f * 20.0).round() as usize;
                (
                    format!("{:3.0}%", f * 100.0),
                    format!("[{}{}]", "#".repeat(n), " ".repeat(20 - n)),
                )
            } else {
                (String::new(), String::new())
            };
            eprint!(
                "\r\x1b[2K{} {bar} {pct} {mib:.1} MiB {secs:.1} s",
                self.what
            );
        } else {
            note(format!(
                "{}: {mib:.1} MiB written after {secs:.1} s",
                self.what
            ));
        }
    }
}

impl ProgressSink for Progress {
    /// V8's progress costs one more pass over the heap on the target's thread: asked for on a
    /// terminal only, where someone watches.
    fn wanted(&self) -> bool {
        self.tty
    }

    fn report(&self, done: u32, total: u32) -> bool {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        (s.done, s.total) = (done, total);
        self.show(&mut s, done == total);
        true
    }

    fn pending(&self) -> bool {
        false
    }

    fn failed(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn utc_stamps() {
        assert_eq!(utc_stamp(UNIX_EPOCH), "19700101T000000Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_796_409_912);
        assert_eq!(utc_stamp(t), "20261204T184512Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(utc_stamp(leap), "20000229T000000Z");
    }
}
