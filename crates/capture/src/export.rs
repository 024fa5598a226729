//! Running the export command (`exportCommand`) after a capture: `[file, ...args]` with the paths of
//! the files written appended, no shell, stdin from /dev/null, in its own process group, with the
//! caller's credentials (the helper takes the app's before calling [`run`]). Its environment is the
//! caller's plus [`ENV_KIND`], [`ENV_PID`] and [`ENV_REASON`]. Its stdout and stderr are copied to
//! `log` line by line, each line prefixed [`PREFIX`]; lines longer than [`MAX_LINE`] are cut into
//! pieces, so what is kept in memory is bounded whatever it prints. Past its time limit its process
//! group is killed. Shared by the addon (captures made while the app runs) and the helper (the OOM,
//! once the app has exited).

use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Each line the command prints is copied with this prefix.
pub const PREFIX: &str = "node-oom-heapdump: export: ";
/// Longest piece of a line copied at once.
pub const MAX_LINE: usize = 8 * 1024;
/// Longest reason passed in [`ENV_REASON`].
pub const MAX_REASON: usize = 1024;
/// What was captured: `oom`, `gc-monitoring`, `on-request` or `memory-near-limit`.
pub const ENV_KIND: &str = "NODE_OOM_HEAPDUMP_KIND";
/// The app's pid.
pub const ENV_PID: &str = "NODE_OOM_HEAPDUMP_PID";
/// Why the capture was made, in a few words.
pub const ENV_REASON: &str = "NODE_OOM_HEAPDUMP_REASON";
/// How long the output is still read once the command has exited (a background process it left
/// may hold its pipes open).
const GRACE: Duration = Duration::from_secs(1);

/// One run of the export command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    /// The file to run, then its arguments.
    pub command: Vec<OsString>,
    /// The files written, appended as arguments.
    pub files: Vec<PathBuf>,
    /// [`ENV_KIND`].
    pub kind: String,
    /// [`ENV_PID`].
    pub pid: u32,
    /// [`ENV_REASON`] (cut to [`MAX_REASON`] bytes).
    pub reason: String,
    pub timeout: Duration,
}

/// Why an export did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("export command has no file to run")]
    Empty,
    #[error("cannot run export command {file:?}: {source}")]
    Spawn { file: OsString, source: io::Error },
    #[error("export command {file:?} exited with status {code}")]
    Status { file: OsString, code: i32 },
    #[error("export command {file:?} was killed by signal {signal}")]
    Signal { file: OsString, signal: i32 },
    #[error("export command {file:?} did not finish within {} ms (exportTimeoutMs); its process group was killed", timeout.as_millis())]
    TimedOut { file: OsString, timeout: Duration },
    #[error("export command {file:?}: {source}")]
    Io { file: OsString, source: io::Error },
}

/// Runs `export`, copying its output to `log`; Ok once it has exited with status 0.
pub fn run(export: &Export, log: &mut dyn Write) -> Result<(), ExportError> {
    let (file, args) = export.command.split_first().ok_or(ExportError::Empty)?;
    let io_error = |source| ExportError::Io {
        file: file.clone(),
        source,
    };
    let mut child = Command::new(file)
        .args(args)
        .args(&export.files)
        .env(ENV_KIND, &export.kind)
        .env(ENV_PID, export.pid.to_string())
        .env(ENV_REASON, reason_text(&export.reason))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|source| ExportError::Spawn {
            file: file.clone(),
            source,
        })?;
    let deadline = Instant::now() + export.timeout;
    let status = copy_output(&mut child, deadline, log).map_err(io_error)?;
    let Some(status) = status else {
        // Past the deadline: the whole group, so that what it started goes too.
        unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
        let _ = child.wait();
        return Err(ExportError::TimedOut {
            file: file.clone(),
            timeout: export.timeout,
        });
    };
    match (status.code(), status.signal()) {
        (Some(0), _) => Ok(()),
        (Some(code), _) => Err(ExportError::Status {
            file: file.clone(),
            code,
        }),
        (None, signal) => Err(ExportError::Signal {
            file: file.clone(),
            signal: signal.unwrap_or(0),
        }),
    }
}

/// `reason` as the environment holds it: no NUL, at most [`MAX_REASON`] bytes.
fn reason_text(reason: &str) -> String {
    let mut r: String = reason.chars().filter(|c| *c != '\0').collect();
    if r.len() > MAX_REASON {
        let mut end = MAX_REASON;
        while !r.is_char_boundary(end) {
            end -= 1;
        }
        r.truncate(end);
    }
    r
}

/// One output pipe of the command and its unfinished line.
struct Stream<R> {
    pipe: Option<R>,
    line: Vec<u8>,
}

impl<R: Read + AsRawFd> Stream<R> {
    fn new(pipe: Option<R>) -> io::Result<Self> {
        if let Some(p) = &pipe {
            let fd = p.as_raw_fd();
            let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
            if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0
            {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(Stream {
            pipe,
            line: Vec::new(),
        })
    }

    /// Reads one buffer of what is there, copying each complete line (or [`MAX_LINE`] bytes of
    /// one) to `log`. One: a command that prints faster than this copies would otherwise keep it
    /// here, past the deadline its caller checks between reads.
    fn read_some(&mut self, buf: &mut [u8], log: &mut dyn Write) {
        let Some(pipe) = &mut self.pipe else { return };
        match pipe.read(buf) {
            Ok(0) => {
                self.pipe = None;
                self.flush(log);
            }
            Ok(n) => {
                for &b in &buf[..n] {
                    if b == b'\n' {
                        self.flush(log);
                    } else {
                        self.line.push(b);
                        if self.line.len() >= MAX_LINE {
                            self.flush(log);
                        }
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(_) => self.pipe = None,
        }
    }

    /// Copies the unfinished line, if any, in one write.
    fn flush(&mut self, log: &mut dyn Write) {
        if self.line.is_empty() {
            return;
        }
        let mut out = Vec::with_capacity(PREFIX.len() + self.line.len() + 1);
        out.extend_from_slice(PREFIX.as_bytes());
        out.append(&mut self.line);
        out.push(b'\n');
        let _ = log.write_all(&out);
    }
}

/// Copies the command's output until it has exited and closed its pipes (or [`GRACE`] after its
/// exit); None when `deadline` passes first.
fn copy_output(
    child: &mut Child,
    deadline: Instant,
    log: &mut dyn Write,
) -> io::Result<Option<ExitStatus>> {
    let mut out = Stream::new(child.stdout.take())?;
    let mut err = Stream::new(child.stderr.take())?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut exited: Option<(ExitStatus, Instant)> = None;
    loop {
        out.read_some(&mut buf, log);
        err.read_some(&mut buf, log);
        if exited.is_none() {
            exited = child.try_wait()?.map(|s| (s, Instant::now()));
        }
        match exited {
            Some((status, _)) if out.pipe.is_none() && err.pipe.is_none() => {
                return Ok(Some(status))
            }
            Some((status, at)) if at.elapsed() >= GRACE => {
                out.flush(log);
                err.flush(log);
                return Ok(Some(status));
            }
            _ => {}
        }
        let now = Instant::now();
        if now >= deadline {
            out.flush(log);
            err.flush(log);
            return Ok(None);
        }
        // Woken by output, else every 50 ms to see whether it has exited.
        let mut fds: Vec<libc::pollfd> = [
            out.pipe.as_ref().map(|p| p.as_raw_fd()),
            err.pipe.as_ref().map(|p| p.as_raw_fd()),
        ]
        .into_iter()
        .flatten()
        .map(|fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
        let wait = (deadline - now).min(Duration::from_millis(50));
        unsafe {
            libc::poll(
                fds.as_mut_ptr(),
                fds.len() as libc::nfds_t,
                wait.as_millis() as i32,
            )
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str, timeout: Duration) -> (Result<(), ExportError>, String) {
        let export = Export {
            command: vec!["/bin/sh".into(), "-c".into(), script.into(), "sh".into()],
            files: vec!["/tmp/a b".into(), "/tmp/c".into()],
            kind: "on-request".into(),
            pid: 42,
            reason: "asked".into(),
            timeout,
        };
        let mut log = Vec::new();
        let r = run(&export, &mut log);
        (r, String::from_utf8(log).unwrap())
    }

    #[test]
    fn files_are_arguments_and_the_environment_says_what_happened() {
        let (r, log) = sh(
            r#"echo "$#:$1:$2"; echo "$NODE_OOM_HEAPDUMP_KIND $NODE_OOM_HEAPDUMP_PID $NODE_OOM_HEAPDUMP_REASON" >&2; printf tail"#,
            Duration::from_secs(10),
        );
        r.unwrap();
        let mut lines: Vec<&str> = log.lines().collect();
        lines.sort();
        assert_eq!(
            lines,
            [
                "node-oom-heapdump: export: 2:/tmp/a b:/tmp/c",
                "node-oom-heapdump: export: on-request 42 asked",
                "node-oom-heapdump: export: tail",
            ]
        );
    }

    #[test]
    fn failures_are_errors() {
        let (r, _) = sh("exit 3", Duration::from_secs(10));
        assert!(
            matches!(r, Err(ExportError::Status { code: 3, .. })),
            "{r:?}"
        );
        let (r, _) = sh("kill -TERM $$", Duration::from_secs(10));
        assert!(
            matches!(r, Err(ExportError::Signal { signal: 15, .. })),
            "{r:?}"
        );
        let export = Export {
            command: vec!["/no/such/exporter".into()],
            files: vec![],
            kind: "oom".into(),
            pid: 1,
            reason: String::new(),
            timeout: Duration::from_secs(1),
        };
        let r = run(&export, &mut Vec::new());
        assert!(matches!(r, Err(ExportError::Spawn { .. })), "{r:?}");
    }

    #[test]
    fn past_its_time_the_whole_group_is_killed() {
        let marker = std::env::temp_dir().join(format!("ohd-export-{}", std::process::id()));
        let _ = std::fs::remove_file(&marker);
        let started = Instant::now();
        // A grandchild in the same group that would write the marker after 2 s.
        let script = format!("(sleep 2; touch {}) & sleep 30", marker.display());
        let (r, _) = sh(&script, Duration::from_millis(300));
        assert!(matches!(r, Err(ExportError::TimedOut { .. })), "{r:?}");
        assert!(started.elapsed() < Duration::from_secs(2));
        std::thread::sleep(Duration::from_millis(2500));
        assert!(!marker.exists(), "the grandchild survived the kill");
    }

    /// A command that keeps its pipe full (a retry loop printing errors, `yes`): killed on time
    /// all the same, not copied from for ever.
    #[test]
    fn a_command_that_prints_without_pause_is_killed_on_time() {
        let export = Export {
            command: vec!["yes".into()],
            files: vec![],
            kind: "oom".into(),
            pid: 1,
            reason: String::new(),
            timeout: Duration::from_millis(300),
        };
        let (done, result) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = done.send(run(&export, &mut io::sink()));
        });
        let r = result
            .recv_timeout(Duration::from_secs(30))
            .expect("still copying 30 s after a timeout of 300 ms");
        assert!(matches!(r, Err(ExportError::TimedOut { .. })), "{r:?}");
    }

    #[test]
    fn long_lines_are_cut_and_reasons_bounded() {
        let (r, log) = sh(
            &format!("head -c {} /dev/zero | tr '\\0' x", MAX_LINE * 2 + 5),
            Duration::from_secs(10),
        );
        r.unwrap();
        let lengths: Vec<usize> = log.lines().map(|l| l.len() - PREFIX.len()).collect();
        assert_eq!(lengths, [MAX_LINE, MAX_LINE, 5]);
        assert_eq!(reason_text(&"é".repeat(MAX_REASON)).len(), MAX_REASON);
        assert_eq!(reason_text("a\0b"), "ab");
    }
}
