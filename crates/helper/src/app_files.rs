//! The OOM's files as this helper reads them once the app has exited (the pprof conversion, the
//! analyzer, the upload, the export command). By then their folder may hold something else under
//! their names, planted by anyone who can write there (a shared volume): a symbolic link to the
//! app's secrets, which would go to the bucket; a FIFO, which would never end; a device, which
//! opening could set off. So each is first opened as a path only, without following a symbolic
//! link, taken only when that is a regular file, and then opened for reading through that very
//! inode; what is read from then on is the open file, not the name. (The owner is not checked:
//! network filesystems that squash or map ids show the app's own files as another user's.) The
//! export command gets names: they are checked just before it starts, and what it opens after that
//! is up to it.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// Opens `path`, one of the OOM's files, if it still is one (see the module docs); else says why.
pub fn open(path: &Path) -> Result<File, String> {
    let not_ours = |why: &str| format!("{}: not the file the OOM wrote: {why}", path.display());
    let at = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let meta = at
        .metadata()
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let t = meta.file_type();
    if !t.is_file() {
        return Err(not_ours(if t.is_symlink() {
            "it is a symbolic link"
        } else if t.is_fifo() {
            "it is a FIFO"
        } else if t.is_dir() {
            "it is a folder"
        } else if t.is_socket() {
            "it is a socket"
        } else {
            "it is a device"
        }));
    }
    // The inode just checked, whatever stands under the name by now.
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(format!("/proc/self/fd/{}", at.as_raw_fd()))
        .map_err(|e| format!("cannot open {}: {e}", path.display()))
}

/// Checks `path` as [`open`] does, for a command that opens it by name.
pub fn check(path: &Path) -> Result<(), String> {
    open(path).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_symlink_a_fifo_and_a_folder_are_refused_a_file_of_ours_is_opened() {
        let dir = std::env::temp_dir().join(format!("ohd-app-files-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        let ours = dir.join("crash.heapprofile");
        std::fs::write(&ours, b"{}").unwrap();
        let link = dir.join("link.heapprofile");
        std::os::unix::fs::symlink(&ours, &link).unwrap();
        let fifo = dir.join("fifo.heapprofile");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);

        assert!(open(&ours).is_ok());
        let e = open(&link).unwrap_err();
        assert!(
            e.ends_with("not the file the OOM wrote: it is a symbolic link"),
            "{e}"
        );
        // Returns at once: opening a FIFO does not wait for a writer.
        let e = open(&fifo).unwrap_err();
        assert!(
            e.ends_with("not the file the OOM wrote: it is a FIFO"),
            "{e}"
        );
        let e = open(&dir).unwrap_err();
        assert!(e.ends_with("it is a folder"), "{e}");
        assert!(check(&ours).is_ok() && check(&link).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A file of another user is taken: squashing network filesystems show the app's own files so.
    #[test]
    fn a_regular_file_of_another_owner_is_taken() {
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipped: needs root to make a file of another user");
            return;
        }
        let path = std::env::temp_dir().join(format!("ohd-app-files-other-{}", std::process::id()));
        std::fs::write(&path, b"{}").unwrap();
        std::os::unix::fs::chown(&path, Some(65534), Some(65534)).unwrap();
        let opened = open(&path);
        std::fs::remove_file(&path).unwrap();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut opened.unwrap(), &mut text).unwrap();
        assert_eq!(text, "{}");
    }
}
