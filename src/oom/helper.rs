//! The helper process (crates/helper) as seen from the Node process: started at install for the
//! OOM target (folder and stem, which is all it will write) and kept waiting on a pipe, so that
//! nothing has to be forked or exec'd when memory has run out.
//!
//! A watchdog guards the dying process against a helper that stops taking data (`kill -STOP`, a
//! debugger): both ends of the pipe are non-blocking and every wait is a poll(2) of at most
//! [`STALL`]. The helper makes progress while it moves bytes through read(2) and write(2) (`rchar`
//! and `wchar` in `/proc/<pid>/io`: its files and pipes, not its sockets; a helper that filled the
//! disk reads back what it wrote, for the bucket, before it reads the pipe again), runs, or waits
//! for its disk (its state in `/proc/<pid>/stat`; a helper fsyncing a large file is in disk wait,
//! and waited for).
//! When none of that happened for [`STALL`], the capture gives up on it with
//! [`HelperError::Stalled`] and the snapshot is written from this process instead. A helper that
//! may stream to a bucket sleeps while it waits for the network: it may sleep up to
//! [`NETWORK_STALL`]. And no wait lasts more than [`MOST_WAIT`] without the helper moving a byte,
//! whatever its state (stuck in disk wait on a dead network mount, or spinning).

use std::io::{self, BufReader, Read, Write};
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use oom_heapdump_capture::protocol::{
    write_chunk, write_end, write_export, write_request, Ack, ExportFiles, Request,
};
use oom_heapdump_capture::ProtocolError;

use super::install::UploadConfig;
use crate::export::ExportConfig;

/// Pipe capacity asked for (Linux caps it at /proc/sys/fs/pipe-max-size, 1 MiB by default): lets
/// V8 run ahead of the helper's disk writes by a few chunks.
const PIPE_BYTES: i32 = 1 << 20;

/// How long the helper may make no progress before the capture gives up on it (see module docs).
pub const STALL: Duration = Duration::from_secs(5);
/// How long a helper that may stream to a bucket may sleep (waiting for the network).
pub const NETWORK_STALL: Duration = Duration::from_secs(60);
/// The longest a single wait for the helper may last without the helper moving a byte, whatever
/// its state.
pub const MOST_WAIT: Duration = Duration::from_secs(120);
/// How long [`Helper::kill`] waits for a killed helper to be gone.
const KILL_WAIT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum HelperError {
    #[error("helper process (pid {pid}) is not running")]
    NotRunning { pid: u32 },
    #[error("helper process (pid {pid}) was given up on: it stalled and could not be killed")]
    Abandoned { pid: u32 },
    #[error("helper reported: {0}")]
    Failed(String),
    /// The target's filesystem is full: the snapshot is not written again from this process.
    #[error("helper reported: {0}")]
    OutOfSpace(String),
    #[error("stream to helper broke: {0}")]
    Broken(#[from] ProtocolError),
    #[error("V8 stopped serializing the snapshot")]
    SerializeAborted,
    #[error("helper process (pid {pid}) made no progress for {secs} s (state {state})")]
    Stalled { pid: u32, state: char, secs: u64 },
}

pub struct Helper {
    child: Child,
    stdin: Watched<ChildStdin>,
    stdout: BufReader<Watched<ChildStdout>>,
    /// The folder and stem it was started for.
    target: (std::path::PathBuf, String),
    /// The export command it was started with.
    export: Option<ExportConfig>,
    /// Whether it was started to convert the heap profile to pprof.
    pprof: bool,
    /// The upload it was started with.
    upload: Option<UploadConfig>,
    /// Given up on: stalled, and it could not be killed. Nothing more is sent to it.
    abandoned: bool,
}

impl Helper {
    /// Starts the helper for snapshots at `<dir>/<stem>[-...].heapsnapshot`, in its own process
    /// group, so that a Ctrl-C or SIGHUP meant for the app does not take it down while the app lives
    /// on. It exits when this process closes the pipe, after running `analyzer` on the snapshot when
    /// the request asked for a summary, then the `export` command on the files an export message
    /// listed: the command is learned now, so that only the list of files is sent at OOM time.
    /// With `pprof`, it first converts the heap profile of that list to pprof (`--pprof`).
    pub fn spawn(
        exe: &Path,
        analyzer: &Path,
        dir: &Path,
        stem: &str,
        export: Option<&ExportConfig>,
        pprof: bool,
        upload: Option<&UploadConfig>,
    ) -> io::Result<Helper> {
        // Node marks its stdio close-on-exec, so `Stdio::inherit()` would leave the helper without
        // a stderr: hand it a duplicate, which becomes its fd 2.
        let stderr = io::stderr().as_fd().try_clone_to_owned()?;
        let mut command = Command::new(exe);
        command
            .arg("--analyzer")
            .arg(analyzer)
            .arg("--dir")
            .arg(dir)
            .arg("--stem")
            .arg(stem);
        if pprof {
            command.arg("--pprof");
        }
        if let Some(u) = upload {
            command
                .arg("--upload")
                .arg(u.url.to_string())
                .arg("--upload-compression")
                .arg(u.compression.as_str());
        }
        if let Some(e) = export {
            command
                .arg("--export-timeout-ms")
                .arg(e.timeout.as_millis().to_string())
                .arg("--")
                .args(&e.command);
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .process_group(0)
            .spawn()?;
        let pid = child.id();
        // With an upload it may stream a snapshot it cannot write to the bucket, and sleep on
        // the network meanwhile.
        let may_sleep = if upload.is_some() {
            NETWORK_STALL
        } else {
            STALL
        };
        let stdin = child.stdin.take().expect("piped");
        let stdout = child.stdout.take().expect("piped");
        unsafe { libc::fcntl(stdin.as_raw_fd(), libc::F_SETPIPE_SZ, PIPE_BYTES) };
        Ok(Helper {
            child,
            stdin: Watched::new(stdin, pid, may_sleep, MOST_WAIT)?,
            stdout: BufReader::new(Watched::new(stdout, pid, may_sleep, MOST_WAIT)?),
            target: (dir.to_owned(), stem.to_owned()),
            export: export.cloned(),
            pprof,
            upload: upload.cloned(),
            abandoned: false,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether it was started for `dir` and `stem`, with `export`, `pprof` and `upload`.
    pub fn serves(
        &self,
        dir: &Path,
        stem: &str,
        export: Option<&ExportConfig>,
        pprof: bool,
        upload: Option<&UploadConfig>,
    ) -> bool {
        self.target.0 == dir
            && self.target.1 == stem
            && self.export.as_ref() == export
            && self.pprof == pprof
            && self.upload.as_ref() == upload
    }

    /// Whether it was started to do something with the OOM's files once this process has exited
    /// (an export command, the pprof conversion, an upload).
    pub fn takes_files(&self) -> bool {
        self.export.is_some() || self.pprof || self.upload.is_some()
    }

    /// Tells it which files the OOM wrote, for its export command to run on once this process has
    /// exited, and waits for its answer: it reads this process's credentials before answering, which
    /// it can only do while this process lives.
    pub fn send_export(&mut self, files: &ExportFiles) -> Result<(), HelperError> {
        if self.abandoned {
            return Err(HelperError::Abandoned { pid: self.pid() });
        }
        if !matches!(self.child.try_wait(), Ok(None)) {
            return Err(HelperError::NotRunning { pid: self.pid() });
        }
        let stalled_or = |e: io::Error| match stall_of(&e) {
            Some(stalled) => stalled,
            None => HelperError::Broken(e.into()),
        };
        write_export(&mut self.stdin, files).map_err(stalled_or)?;
        match Ack::read_from(&mut self.stdout) {
            Ok(Some(Ack::Accepted)) => Ok(()),
            Ok(Some(Ack::Failed(msg))) => Err(HelperError::Failed(msg)),
            Ok(Some(other)) => Err(ProtocolError::BadAck(format!("{other:?} to an export")).into()),
            Ok(None) => Err(HelperError::NotRunning { pid: self.pid() }),
            Err(ProtocolError::Io(e)) => Err(stalled_or(e)),
            Err(e) => Err(e.into()),
        }
    }

    /// Kills it (it is stalled or of no further use) and waits until it is gone, at most
    /// [`KILL_WAIT`], so that the lock on its temporary file is released. A helper this process may
    /// not signal (started as root before the app dropped to another user with `process.setuid`)
    /// or that does not die at once (in disk wait on a dead mount) is not waited for: the dying
    /// process must not hang on it. Says why when it is left running.
    pub fn kill(&mut self) -> Result<(), String> {
        // Whatever comes of it, nothing more is sent to it: its pipe holds a stream cut short.
        self.abandoned = true;
        self.child
            .kill()
            .map_err(|e| format!("could not be killed ({e})"))?;
        let deadline = Instant::now() + KILL_WAIT;
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => return Ok(()),
                Err(e) => return Err(format!("could not be waited for ({e})")),
                Ok(None) if Instant::now() >= deadline => {
                    return Err(format!(
                        "was still there {} s after SIGKILL",
                        KILL_WAIT.as_secs()
                    ))
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    }

    /// Streams one capture: sends `req`, then whatever `produce` feeds its sink, then the end frame,
    /// and returns the helper's answer. `produce` returns true when its data is complete. An answer
    /// that comes before the end (the helper failed: disk full) makes the sink refuse more, so that
    /// V8 stops; the end frame still follows, and the helper then serves on.
    pub fn capture(
        &mut self,
        req: &Request,
        produce: impl FnOnce(&mut dyn FnMut(&[u8]) -> bool) -> bool,
    ) -> Result<Ack, HelperError> {
        if self.abandoned {
            return Err(HelperError::Abandoned { pid: self.pid() });
        }
        if !matches!(self.child.try_wait(), Ok(None)) {
            return Err(HelperError::NotRunning { pid: self.pid() });
        }
        let mut sent = 0u64;
        let mut failure: Option<io::Error> = None;
        // The helper answered before the end: it failed (disk full) and skips the rest.
        let mut answered = false;
        let (stdin, stdout) = (&mut self.stdin, &self.stdout);
        let complete = match write_request(stdin, req) {
            Ok(()) => {
                let mut sink = |chunk: &[u8]| match write_chunk(stdin, chunk) {
                    Ok(()) => {
                        sent += chunk.len() as u64;
                        // Then V8 stops serializing: nothing more is sent for nothing.
                        answered = stdout.get_ref().readable_now();
                        !answered
                    }
                    Err(e) => {
                        failure = Some(e);
                        false
                    }
                };
                produce(&mut sink)
            }
            Err(e) => {
                failure = Some(e);
                false
            }
        };
        // The end frame whenever the stream is whole, also when it was cut short: the helper reads
        // up to it, and then serves what comes next (the OOM's export).
        if failure.is_none() {
            if let Err(e) = write_end(&mut self.stdin, sent) {
                failure = Some(e);
            }
        }
        if let Some(stalled) = failure.as_ref().and_then(stall_of) {
            return Err(stalled);
        }
        // The helper answers even when it gave up early (disk full): read that reason first.
        match Ack::read_from(&mut self.stdout) {
            Ok(Some(Ack::Failed(msg))) if complete || answered => Err(HelperError::Failed(msg)),
            Ok(Some(Ack::OutOfSpace(msg))) if complete || answered => {
                Err(HelperError::OutOfSpace(msg))
            }
            Ok(Some(Ack::Accepted)) => {
                Err(ProtocolError::BadAck("an export's answer to a capture".into()).into())
            }
            Ok(Some(ack)) if complete && failure.is_none() => Ok(ack),
            Ok(Some(_)) => Err(HelperError::SerializeAborted),
            Err(ProtocolError::Io(e)) if stall_of(&e).is_some() => {
                Err(stall_of(&e).expect("checked"))
            }
            Err(e) => Err(e.into()),
            Ok(None) => Err(match failure {
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
        let _ = self.child.try_wait();
    }
}

/// The stall a watchdog error stands for.
fn stall_of(e: &io::Error) -> Option<HelperError> {
    e.get_ref()?
        .downcast_ref::<StallError>()
        .map(|s| HelperError::Stalled {
            pid: s.pid,
            state: s.state,
            secs: s.secs,
        })
}

#[derive(Debug, thiserror::Error)]
#[error("helper process (pid {pid}) made no progress for {secs} s (state {state})")]
struct StallError {
    pid: u32,
    state: char,
    secs: u64,
}

/// One end of the pipe, non-blocking, each wait bounded by the watchdog.
struct Watched<T> {
    inner: T,
    fd: RawFd,
    pid: u32,
    /// How long the helper may sleep before it counts as stalled, and the longest wait.
    may_sleep: Duration,
    most: Duration,
}

impl<T: AsRawFd> Watched<T> {
    fn new(inner: T, pid: u32, may_sleep: Duration, most: Duration) -> io::Result<Self> {
        let fd = inner.as_raw_fd();
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
        if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Watched {
            inner,
            fd,
            pid,
            may_sleep,
            most,
        })
    }

    /// Waits until the fd is ready for `events`, or fails when the helper stalls.
    fn wait(&self, events: i16) -> io::Result<()> {
        // Since the helper last moved a byte (as far as we can tell: /proc/<pid>/io of a helper
        // of another user, an app that dropped privileges, is not ours to read).
        let mut started = Instant::now();
        let mut moved = helper_io(self.pid);
        let mut asleep_since: Option<Instant> = None;
        let stalled = |state: Option<char>, since: Instant| {
            io::Error::new(
                io::ErrorKind::TimedOut,
                StallError {
                    pid: self.pid,
                    state: state.unwrap_or('?'),
                    secs: since.elapsed().as_secs().max(STALL.as_secs()),
                },
            )
        };
        loop {
            let mut p = libc::pollfd {
                fd: self.fd,
                events,
                revents: 0,
            };
            let n = unsafe { libc::poll(&mut p, 1, STALL.as_millis() as i32) };
            if n > 0 {
                return Ok(());
            }
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            let state = helper_state(self.pid);
            let now = helper_io(self.pid);
            if now.is_some() && now != moved {
                moved = now;
                started = Instant::now();
                asleep_since = None;
                continue;
            }
            if started.elapsed() >= self.most {
                return Err(stalled(state, started));
            }
            match state {
                // Running, or waiting for its disk (the final fsync of a large file): progress.
                Some('R' | 'D') => asleep_since = None,
                // Asleep (on the network, when it may stream to a bucket), not for too long.
                Some('S') if self.may_sleep > STALL => {
                    let since = *asleep_since.get_or_insert_with(|| Instant::now() - STALL);
                    if since.elapsed() >= self.may_sleep {
                        return Err(stalled(state, since));
                    }
                }
                _ => return Err(stalled(state, Instant::now() - STALL)),
            }
        }
    }

    /// Whether there is something to read (or the other end is gone), without waiting.
    fn readable_now(&self) -> bool {
        let mut p = libc::pollfd {
            fd: self.fd,
            events: libc::POLLIN,
            revents: 0,
        };
        unsafe { libc::poll(&mut p, 1, 0) > 0 }
    }

    /// Runs `op` until it does not report `WouldBlock`, waiting for `events` in between.
    fn retry<R>(
        &mut self,
        events: i16,
        mut op: impl FnMut(&mut T) -> io::Result<R>,
    ) -> io::Result<R> {
        loop {
            match op(&mut self.inner) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.wait(events)?,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => return other,
            }
        }
    }
}

impl<T: Write + AsRawFd> Write for Watched<T> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.retry(libc::POLLOUT, |w| w.write(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<T: Read + AsRawFd> Read for Watched<T> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.retry(libc::POLLIN, |r| r.read(buf))
    }
}

/// The bytes process `pid` has moved through read(2) and write(2) and their kin, all its threads
/// (`rchar` and `wchar` of `/proc/<pid>/io`; send(2) and recv(2) on sockets are not counted); None
/// where that may not be read.
fn helper_io(pid: u32) -> Option<u64> {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).ok()?;
    let field = |name: &str| {
        io.lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse::<u64>().ok())
    };
    Some(field("rchar:")? + field("wchar:")?)
}

/// The one-letter state of process `pid` (R running, S sleeping, D disk wait, T stopped, Z zombie).
fn helper_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")?.1.chars().next()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader of our pipe that never reads: `sh -c <script>` (spinning or sleeping), its stdin
    /// the pipe's other end. Returns the process and our end, full.
    fn peer(script: &str, may_sleep: Duration, most: Duration) -> (Child, Watched<ChildStdin>) {
        let mut child = Command::new("/bin/sh")
            .args(["-c", script])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let mut w = Watched::new(stdin, child.id(), may_sleep, most).unwrap();
        // Fill the pipe: the next write has to wait.
        let chunk = [0u8; 65536];
        while w.inner.write(&chunk).is_ok() {}
        (child, w)
    }

    fn stall(r: io::Result<usize>) -> (char, u64) {
        match stall_of(&r.unwrap_err()) {
            Some(HelperError::Stalled { state, secs, .. }) => (state, secs),
            other => panic!("{other:?}"),
        }
    }

    /// A helper that fails at once (answers, as on a full disk) and then reads on: the app stops
    /// sending within a few chunks, still ends the stream with its end frame, and has the answer.
    #[test]
    fn an_early_answer_stops_the_stream_and_the_end_frame_still_follows() {
        let dir = std::env::temp_dir().join(format!("ohd-early-answer-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (ack, seen) = (dir.join("ack"), dir.join("seen"));
        std::fs::write(&ack, Ack::Failed("disk full".into()).encode()).unwrap();
        let script = format!("cat '{}'; cat > '{}'", ack.display(), seen.display());
        let mut child = Command::new("/bin/sh")
            .args(["-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        let (stdin, stdout) = (child.stdin.take().unwrap(), child.stdout.take().unwrap());
        let mut helper = Helper {
            stdin: Watched::new(stdin, pid, STALL, MOST_WAIT).unwrap(),
            stdout: BufReader::new(Watched::new(stdout, pid, STALL, MOST_WAIT).unwrap()),
            child,
            target: (dir.clone(), "crash".into()),
            export: None,
            pprof: false,
            upload: None,
            abandoned: false,
        };
        let req = Request {
            final_path: dir.join("crash.heapsnapshot"),
            landing: oom_heapdump_capture::Landing::Replace,
            summarize: false,
        };
        // 10,000 chunks of 64 KiB (655 MB) if nothing stopped it.
        const CHUNK: usize = 65536;
        let mut chunks = 0u64;
        let answer = helper.capture(&req, |sink| {
            for _ in 0..10_000 {
                chunks += 1;
                if !sink(&[b'1'; CHUNK]) {
                    return false;
                }
            }
            true
        });
        assert!(
            matches!(&answer, Err(HelperError::Failed(m)) if m == "disk full"),
            "{answer:?}"
        );
        assert!(chunks < 10_000, "stopped after {chunks} chunks");
        // Dropped, it closes the pipe: the reader's copy ends.
        drop(helper);
        let mut status = 0;
        unsafe { libc::waitpid(pid as i32, &mut status, 0) };
        let seen = std::fs::read(&seen).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        let (end, total) = seen[seen.len() - 12..].split_at(4);
        assert_eq!(end, [0u8; 4], "the last frame is the end frame");
        assert_eq!(
            u64::from_le_bytes(total.try_into().unwrap()),
            chunks * CHUNK as u64
        );
    }

    /// Writes into a full pipe whose reader is `sh -c script` until the watchdog gives up on it:
    /// the state and seconds it reports, and how long the write waited. The reader is killed after.
    fn stalled_with(script: &str, may_sleep: Duration, most: Duration) -> (char, u64, Duration) {
        let (mut child, mut w) = peer(script, may_sleep, most);
        let started = Instant::now();
        let (state, secs) = stall(w.write(&[0]));
        let waited = started.elapsed();
        let _ = child.kill();
        let _ = child.wait();
        (state, secs, waited)
    }

    #[test]
    fn a_helper_that_runs_for_ever_without_reading_is_given_up_after_the_longest_wait() {
        let (state, secs, _) = stalled_with("while :; do :; done", STALL, Duration::from_secs(6));
        // (Looked at every STALL: given up at the first look past the longest wait.)
        assert_eq!(state, 'R');
        assert!(secs >= 6, "{secs} s");
    }

    /// A helper that reads nothing of the pipe while it moves bytes of its own (as one sending what
    /// it wrote to the bucket after the disk filled), asleep in between: waited for past the stall
    /// and the longest wait, and given up only once it stops.
    #[test]
    fn a_helper_that_moves_bytes_of_its_own_is_waited_for_until_it_stops() {
        let (state, _, waited) = stalled_with(
            "i=0; while [ $i -lt 14 ]; do echo x > /dev/null; sleep 1; i=$((i+1)); done; sleep 60",
            STALL,
            Duration::from_secs(6),
        );
        assert_eq!(state, 'S');
        assert!(
            waited >= Duration::from_secs(14),
            "gave up after {waited:?}"
        );
    }

    #[test]
    fn a_sleeping_helper_is_a_stall_after_stall_or_after_its_allowance() {
        let (state, secs, _) = stalled_with("sleep 60", STALL, MOST_WAIT);
        assert_eq!((state, secs), ('S', 5));
        // One that may sleep on the network: after its allowance only.
        let (state, _, waited) = stalled_with("sleep 60", Duration::from_secs(10), MOST_WAIT);
        assert_eq!(state, 'S');
        assert!(waited >= Duration::from_secs(9), "gave up after {waited:?}");
    }
}
