//! The FIFO a target writes its own heap snapshot into (`snapshot_pipe` in crates/devtools): made
//! in the target's /tmp as the target sees it (`/proc/<pid>/root/tmp`, which reaches into another
//! container's file system), in a folder of our own with a random name, mode 0700 and owned by the
//! target's effective user so that it, and no other user, can open the FIFO (mode 0600). No byte of
//! the snapshot rests there: the FIFO is a pipe. Both are removed as soon as the target has opened
//! the FIFO (its first bytes), so that nothing else can open it from then on, and in any case
//! when this is dropped, by name relative to the folders we opened; nothing else is ever removed.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use tokio::net::unix::pipe::Receiver;

/// The FIFO's name in our folder.
const NAME: &str = "snapshot";
/// Pipe buffer asked for (the default is 64 KiB: fewer wake-ups of the target's writer).
const PIPE_BYTES: i32 = 1 << 20;

pub struct Fifo {
    /// The target's /tmp, open, and our folder's name in it.
    tmp: OwnedFd,
    folder: CString,
    /// Our folder, open (every later call is relative to it, so a renamed path cannot redirect us).
    dir: OwnedFd,
    /// Both are gone already.
    removed: bool,
    /// The FIFO's path as the target sees it.
    pub target_path: String,
    /// Our end, read and write (see `snapshot_pipe`); None once handed out.
    end: Option<File>,
}

fn cstr(s: &str) -> io::Result<CString> {
    CString::new(s).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL in a path"))
}

fn check(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn random_hex() -> io::Result<String> {
    let mut bytes = [0u8; 8];
    // SAFETY: writes at most bytes.len() bytes into the buffer.
    let n = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
    if n != bytes.len() as isize {
        return Err(io::Error::last_os_error());
    }
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

impl Fifo {
    /// Makes the folder and the FIFO for target `pid` (effective user `uid`, group `gid`).
    pub fn create(pid: u32, uid: u32, gid: u32) -> io::Result<Fifo> {
        let folder = format!(".node-oom-heapdump-{}", random_hex()?);
        let tmp = cstr(&format!("/proc/{pid}/root/tmp"))?;
        // SAFETY: plain syscalls on NUL-terminated paths we own; every fd is checked and owned.
        unsafe {
            // Not a /tmp that is a symbolic link: an absolute one would resolve in our root, not
            // the target's.
            let tmp_fd = OwnedFd::from_raw_fd(check(libc::open(
                tmp.as_ptr(),
                libc::O_DIRECTORY | libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            ))?);
            let folder_c = cstr(&folder)?;
            check(libc::mkdirat(tmp_fd.as_raw_fd(), folder_c.as_ptr(), 0o700))?;
            let opened = libc::openat(
                tmp_fd.as_raw_fd(),
                folder_c.as_ptr(),
                libc::O_DIRECTORY | libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            );
            if opened < 0 {
                let e = io::Error::last_os_error();
                libc::unlinkat(tmp_fd.as_raw_fd(), folder_c.as_ptr(), libc::AT_REMOVEDIR);
                return Err(e);
            }
            let mut fifo = Fifo {
                tmp: tmp_fd,
                folder: folder_c,
                dir: OwnedFd::from_raw_fd(opened),
                removed: false,
                target_path: format!("/tmp/{folder}/{NAME}"),
                end: None,
            };
            let name = cstr(NAME)?;
            let dir = fifo.dir.as_raw_fd();
            // The folder we opened is the one we made (not one another process swapped in
            // between the two calls): ours, 0700, before anything is made or given away in it.
            let mut st: libc::stat = std::mem::zeroed();
            check(libc::fstat(dir, &mut st))?;
            if st.st_uid != libc::geteuid() || st.st_mode & 0o7777 != 0o700 {
                return Err(io::Error::other("the folder made in its /tmp was replaced"));
            }
            check(libc::mkfifoat(dir, name.as_ptr(), 0o600))?;
            // Opened as a path first (opening a device swapped in for it could act), checked to
            // be a FIFO, and only then opened for reading and writing through that very inode;
            // given to the target's user by descriptor, and the folder last.
            let path = OwnedFd::from_raw_fd(check(libc::openat(
                dir,
                name.as_ptr(),
                libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            ))?);
            check(libc::fstat(path.as_raw_fd(), &mut st))?;
            if st.st_mode & libc::S_IFMT != libc::S_IFIFO {
                return Err(io::Error::other("what was opened is not our FIFO"));
            }
            let reopen = cstr(&format!("/proc/self/fd/{}", path.as_raw_fd()))?;
            let end = File::from_raw_fd(check(libc::open(
                reopen.as_ptr(),
                libc::O_RDWR | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC,
            ))?);
            check(libc::fchown(end.as_raw_fd(), uid, gid))?;
            check(libc::fchown(dir, uid, gid))?;
            libc::fcntl(end.as_raw_fd(), libc::F_SETPIPE_SZ, PIPE_BYTES);
            fifo.end = Some(end);
            Ok(fifo)
        }
    }

    /// Our end of the FIFO, for the runtime it is read on.
    pub fn receiver(&mut self) -> io::Result<Receiver> {
        let end = self
            .end
            .take()
            .ok_or_else(|| io::Error::other("the FIFO's end was handed out already"))?;
        Receiver::from_file(end)
    }
}

impl Fifo {
    /// Removes the FIFO's name and our folder (an open end, ours or the target's, still works).
    pub fn remove(&mut self) {
        if std::mem::replace(&mut self.removed, true) {
            return;
        }
        let name = CString::new(NAME).expect("no NUL");
        // SAFETY: removes only the FIFO we made, by name in our own folder, then that folder, by
        // name in the /tmp we made it in.
        unsafe {
            libc::unlinkat(self.dir.as_raw_fd(), name.as_ptr(), 0);
            libc::unlinkat(
                self.tmp.as_raw_fd(),
                self.folder.as_ptr(),
                libc::AT_REMOVEDIR,
            );
        }
    }
}

impl Drop for Fifo {
    fn drop(&mut self) {
        self.remove();
    }
}
