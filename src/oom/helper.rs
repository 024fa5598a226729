//! The helper process (crates/helper) as seen from the Node process: started once at install and
//! kept waiting on a pipe, so that nothing has to be forked or exec'd when memory has run out.

use std::io::{self, BufRead, BufReader, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use oom_heapdump_capture::protocol::{write_chunk, write_end, write_request, Ack, Request};
use oom_heapdump_capture::ProtocolError;

/// Pipe capacity asked for (Linux caps it at /proc/sys/fs/pipe-max-size, 1 MiB by default): lets
/// V8 run ahead of the helper's disk writes by a few chunks.
const PIPE_BYTES: i32 = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum HelperError {
    #[error("helper process (pid {pid}) is not running")]
    NotRunning { pid: u32 },
    #[error("helper reported: {0}")]
    Failed(String),
    #[error("stream to helper broke: {0}")]
    Broken(#[from] ProtocolError),
    #[error("V8 stopped serializing the snapshot")]
    SerializeAborted,
}

pub struct Helper {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Helper {
    /// Starts the helper in its own process group, so that a Ctrl-C or SIGHUP meant for the app does
    /// not take it down while the app lives on. It exits when this process closes the pipe, after
    /// running `analyzer` on the snapshot when the request asked for a summary.
    pub fn spawn(exe: &Path, analyzer: &Path) -> io::Result<Helper> {
        // Node marks its stdio close-on-exec, so `Stdio::inherit()` would leave the helper without
        // a stderr: hand it a duplicate, which becomes its fd 2.
        let stderr = io::stderr().as_fd().try_clone_to_owned()?;
        let mut child = Command::new(exe)
            .arg("--analyzer")
            .arg(analyzer)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .process_group(0)
            .spawn()?;
        let stdin = child.stdin.take().expect("piped");
        let stdout = child.stdout.take().expect("piped");
        unsafe { libc::fcntl(stdin.as_raw_fd(), libc::F_SETPIPE_SZ, PIPE_BYTES) };
        Ok(Helper {
            child,
            stdin,
            stdout: BufReader::new(stdout),
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Streams one capture: sends `req`, then whatever `produce` feeds its sink, then the end frame,
    /// and returns the helper's answer. `produce` returns true when its data is complete.
    pub fn capture(
        &mut self,
        req: &Request,
        produce: impl FnOnce(&mut dyn FnMut(&[u8]) -> bool) -> bool,
    ) -> Result<Ack, HelperError> {
        if !matches!(self.child.try_wait(), Ok(None)) {
            return Err(HelperError::NotRunning { pid: self.pid() });
        }
        let mut sent = 0u64;
        let mut failure: Option<io::Error> = None;
        let complete = write_request(&mut self.stdin, req).is_ok() && {
            let mut sink = |chunk: &[u8]| match write_chunk(&mut self.stdin, chunk) {
                Ok(()) => {
                    sent += chunk.len() as u64;
                    true
                }
                Err(e) => {
                    failure = Some(e);
                    false
                }
            };
            produce(&mut sink)
        };
        if complete {
            write_end(&mut self.stdin, sent).map_err(ProtocolError::from)?;
        }
        // The helper answers even when it gave up early (disk full): read that reason first.
        let mut line = String::new();
        let answer = self.stdout.read_line(&mut line);
        match (answer, complete) {
            (Ok(n), _) if n > 0 => match Ack::parse(&line)? {
                Ack::Failed(msg) => Err(HelperError::Failed(msg)),
                ack if complete => Ok(ack),
                _ => Err(HelperError::SerializeAborted),
            },
            _ => Err(match failure {
                Some(e) => ProtocolError::from(e).into(),
                None if complete => HelperError::NotRunning { pid: self.pid() },
                None => HelperError::SerializeAborted,
            }),
        }
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        // Closing stdin (dropped with self) ends the helper; reap it if it is already gone.
        let _ = self.stdin.flush();
        let _ = self.child.try_wait();
    }
}
