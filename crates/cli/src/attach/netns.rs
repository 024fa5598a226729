//! The target's network namespace: a process in a container listens on its own loopback, which
//! only a socket made inside that namespace reaches. When the target's `/proc/<pid>/ns/net` is not
//! ours, the work runs on a new thread that entered it with `setns` (root or CAP_SYS_ADMIN);
//! namespaces are per thread, so the rest of this process stays where it was.

use std::fs::{self, File};
use std::os::fd::AsRawFd;

use super::{proc_error, AttachError};
use crate::Failure;

/// Runs `work` in `pid`'s network namespace: on this thread's if it is the same, else on a
/// thread that entered it.
pub fn run_in_namespace_of<T: Send>(
    pid: u32,
    work: impl FnOnce() -> Result<T, Failure> + Send,
) -> Result<Result<T, Failure>, AttachError> {
    let theirs = fs::read_link(format!("/proc/{pid}/ns/net"))
        .map_err(|e| proc_error(pid, "network namespace", e))?;
    let ours = fs::read_link("/proc/thread-self/ns/net")
        .map_err(|e| proc_error(pid, "network namespace (ours)", e))?;
    let ns = if theirs == ours {
        None
    } else {
        Some(
            File::open(format!("/proc/{pid}/ns/net"))
                .map_err(|e| proc_error(pid, "network namespace", e))?,
        )
    };
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("ohd-attach".into())
            .spawn_scoped(s, move || {
                if let Some(ns) = ns {
                    // SAFETY: setns on a descriptor we opened; it changes this thread only.
                    if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                        let e = std::io::Error::last_os_error();
                        return Err(AttachError::NotPermitted {
                            pid,
                            why: format!("it is in another network namespace ({}), and entering it needs root or CAP_SYS_ADMIN: {e}", theirs.display()),
                        });
                    }
                }
                Ok(work())
            })
            .map_err(AttachError::Runtime)?
            .join()
            .unwrap_or_else(|_| Ok(Err(Failure::new("the capture's thread panicked"))))
    })
}
