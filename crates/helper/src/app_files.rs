//! The OOM's files as this helper reads them once the app has exited (the pprof conversion, the
//! analyzer, the upload, the export command). By then their folder may hold something else under
//! their names, planted by anyone who can write there (a shared volume): a symbolic link to the
//! app's secrets, which would go to the bucket; a FIFO, which would never end; a file of another
//! user. So each is opened once, without following a symbolic link or waiting on a FIFO, and taken
//! only when it is a regular file owned by this process's user, which is the app's by then
//! (`Credentials::become_permanently`): the files the app and this helper wrote are, a planted one
//! is not. (A hard link to another of the app's files is refused by the kernel, with
//! `fs.protected_hardlinks`, to anyone who could not write that file.) What is read from then on
//! is the open file, not the name. The export command gets names: they are checked just before it
//! starts (one that fails is left out of its list), and what it opens after that is up to it.

use std::fs::File;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

/// Opens `path`, one of the OOM's files, if it still is one (see the module docs); else says why.
pub fn open(path: &Path) -> Result<File, String> {
    let not_ours = |why: String| format!("{}: not the file the OOM wrote: {why}", path.display());
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => not_ours("it is a symbolic link".into()),
            _ => format!("cannot open {}: {e}", path.display()),
        })?;
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let t = meta.file_type();
    if !t.is_file() {
        let what = if t.is_fifo() {
            "a FIFO"
        } else if t.is_dir() {
            "a folder"
        } else if t.is_socket() {
            "a socket"
        } else {
            "a device"
        };
        return Err(not_ours(format!("it is {what}")));
    }
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        return Err(not_ours(format!(
            "it belongs to uid {}, the app is uid {me}",
            meta.uid()
        )));
    }
    Ok(file)
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

    /// Root can hand a file to another user; elsewhere the test has no other user to be.
    #[test]
    fn a_file_of_another_user_is_refused() {
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipped: needs root to make a file of another user");
            return;
        }
        let path = std::env::temp_dir().join(format!("ohd-app-files-other-{}", std::process::id()));
        std::fs::write(&path, b"{}").unwrap();
        std::os::unix::fs::chown(&path, Some(65534), Some(65534)).unwrap();
        let e = open(&path).unwrap_err();
        std::fs::remove_file(&path).unwrap();
        assert!(
            e.ends_with("it belongs to uid 65534, the app is uid 0"),
            "{e}"
        );
    }
}
