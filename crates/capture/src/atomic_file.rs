//! A file that appears under its final name complete or not at all.
//!
//! Bytes go to `<final>.partial-<pid>` in the same folder (created exclusively, mode 0600); `commit`
//! fsyncs the file, renames it into place and fsyncs the folder. Dropping an uncommitted file removes
//! the temporary. A writer that is SIGKILLed leaves only its `.partial-<pid>` file, which
//! [`sweep_stale_partials`] removes at the next start once that pid is gone.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::error::CaptureError;

/// Final-name endings of the captures we write; only temporaries of these are ever swept.
pub const CAPTURE_EXTENSIONS: &[&str] = &[".heapsnapshot", ".cpuprofile", ".heapprofile", ".json"];

const PARTIAL_MARK: &str = ".partial-";

/// How a committed file meets an existing file of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Landing {
    /// Atomically replace it (the original package's behaviour for a fixed path).
    Replace,
    /// Keep it, and land under `<stem>-1<ext>`, `<stem>-2<ext>`, ... instead.
    KeepExisting,
}

/// The temporary name a writer with `pid` uses for `final_path`.
pub fn partial_path(final_path: &Path, pid: u32) -> PathBuf {
    let mut name = final_path.as_os_str().to_owned();
    name.push(format!("{PARTIAL_MARK}{pid}"));
    PathBuf::from(name)
}

/// A capture being written; see the module docs.
#[derive(Debug)]
pub struct AtomicFile {
    file: Option<File>,
    tmp: PathBuf,
    final_path: PathBuf,
    bytes: u64,
}

impl AtomicFile {
    /// Creates the temporary file for `final_path`, owned by this process.
    pub fn create(final_path: &Path) -> Result<Self, CaptureError> {
        if final_path.file_name().is_none() {
            return Err(CaptureError::NoFileName(final_path.to_owned()));
        }
        let tmp = partial_path(final_path, std::process::id());
        // A leftover of ours with this very pid can only be from a previous life of this pid.
        let _ = fs::remove_file(&tmp);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC)
            .open(&tmp)
            .map_err(|source| CaptureError::Create {
                path: tmp.clone(),
                source,
            })?;
        Ok(Self {
            file: Some(file),
            tmp,
            final_path: final_path.to_owned(),
            bytes: 0,
        })
    }

    /// The temporary path bytes are going to.
    pub fn temp_path(&self) -> &Path {
        &self.tmp
    }

    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.bytes
    }

    /// True when nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.bytes == 0
    }

    /// Appends `buf`.
    pub fn write_all(&mut self, buf: &[u8]) -> Result<(), CaptureError> {
        let file = self.file.as_mut().expect("file is open until commit");
        file.write_all(buf).map_err(|source| CaptureError::Write {
            path: self.tmp.clone(),
            source,
        })?;
        self.bytes += buf.len() as u64;
        Ok(())
    }

    /// Makes the file durable and moves it to its final name; returns the name it landed under.
    pub fn commit(mut self, landing: Landing) -> Result<PathBuf, CaptureError> {
        let file = self.file.take().expect("file is open until commit");
        file.sync_all().map_err(|source| CaptureError::Sync {
            path: self.tmp.clone(),
            source,
        })?;
        drop(file);
        let target = match landing {
            Landing::Replace => self.final_path.clone(),
            Landing::KeepExisting => first_free_name(&self.final_path),
        };
        fs::rename(&self.tmp, &target).map_err(|source| CaptureError::Rename {
            from: self.tmp.clone(),
            to: target.clone(),
            source,
        })?;
        if let Some(dir) = target.parent() {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            // Durability of the rename itself; a folder that cannot be opened is not an error.
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        self.tmp.clear();
        Ok(target)
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() {
            self.file.take();
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// `path` if nothing is there, else `<stem>-N<ext>` for the first free N.
fn first_free_name(path: &Path) -> PathBuf {
    if fs::symlink_metadata(path).is_err() {
        return path.to_owned();
    }
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let (stem, ext) = split_capture_extension(&name);
    (1u32..)
        .map(|n| path.with_file_name(format!("{stem}-{n}{ext}")))
        .find(|p| fs::symlink_metadata(p).is_err())
        .expect("some suffix is free")
}

/// Splits `name` into stem and one of [`CAPTURE_EXTENSIONS`] (or no extension).
fn split_capture_extension(name: &str) -> (&str, &str) {
    CAPTURE_EXTENSIONS
        .iter()
        .find_map(|ext| name.strip_suffix(ext).map(|stem| (stem, *ext)))
        .unwrap_or((name, ""))
}

/// A temporary file left behind by a capture that was killed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StalePartial {
    pub path: PathBuf,
    pub pid: u32,
    pub bytes: u64,
}

/// Removes `<capture>.partial-<pid>` files in `dir` whose writer `pid` is no longer alive and that
/// belong to this user; returns what it removed. Files of live writers and of other users stay.
pub fn sweep_stale_partials(
    dir: &Path,
    is_alive: impl Fn(u32) -> bool,
) -> io::Result<Vec<StalePartial>> {
    let uid = unsafe { libc::geteuid() };
    let mut removed = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let Some(pid) = parse_partial_name(&entry.file_name()) else {
            continue;
        };
        let Ok(meta) = entry.path().symlink_metadata() else {
            continue;
        };
        if !meta.is_file() || meta.uid() != uid || is_alive(pid) {
            continue;
        }
        if fs::remove_file(entry.path()).is_ok() {
            removed.push(StalePartial {
                path: entry.path(),
                pid,
                bytes: meta.len(),
            });
        }
    }
    Ok(removed)
}

/// The writer's pid, when `name` is `<something><capture extension>.partial-<pid>`.
fn parse_partial_name(name: &OsString) -> Option<u32> {
    let name = std::str::from_utf8(name.as_bytes()).ok()?;
    let at = name.rfind(PARTIAL_MARK)?;
    let (capture, rest) = name.split_at(at);
    let digits = &rest[PARTIAL_MARK.len()..];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !CAPTURE_EXTENSIONS.iter().any(|ext| capture.ends_with(ext)) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn tempdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ohd-atomic-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn commit_lands_complete_file_with_mode_0600() {
        let d = tempdir("commit");
        let target = d.join("a.heapsnapshot");
        let mut f = AtomicFile::create(&target).unwrap();
        f.write_all(b"hello").unwrap();
        assert!(
            !target.exists(),
            "nothing under the final name before commit"
        );
        assert!(f.temp_path().exists());
        let landed = f.commit(Landing::Replace).unwrap();
        assert_eq!(landed, target);
        assert_eq!(fs::read(&target).unwrap(), b"hello");
        let mode = fs::metadata(&target).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(fs::read_dir(&d).unwrap().count(), 1);
    }

    #[test]
    fn drop_without_commit_leaves_nothing() {
        let d = tempdir("drop");
        let target = d.join("b.heapsnapshot");
        let mut f = AtomicFile::create(&target).unwrap();
        f.write_all(b"partial").unwrap();
        drop(f);
        assert_eq!(fs::read_dir(&d).unwrap().count(), 0);
    }

    #[test]
    fn keep_existing_picks_next_free_name() {
        let d = tempdir("keep");
        let target = d.join("c.heapsnapshot");
        fs::write(&target, b"old").unwrap();
        let f = AtomicFile::create(&target).unwrap();
        let landed = f.commit(Landing::KeepExisting).unwrap();
        assert_eq!(landed, d.join("c-1.heapsnapshot"));
        assert_eq!(fs::read(&target).unwrap(), b"old");
    }

    #[test]
    fn sweep_removes_only_dead_writers_partials_of_captures() {
        let d = tempdir("sweep");
        fs::write(d.join("x.heapsnapshot.partial-111"), b"dead").unwrap();
        fs::write(d.join("y.heapsnapshot.partial-222"), b"alive").unwrap();
        fs::write(d.join("notes.txt.partial-111"), b"not ours").unwrap();
        fs::write(d.join("z.heapsnapshot.partial-abc"), b"not ours").unwrap();
        let removed = sweep_stale_partials(&d, |pid| pid == 222).unwrap();
        assert_eq!(removed.len(), 1);
        assert_eq!(removed[0].pid, 111);
        assert_eq!(removed[0].bytes, 4);
        assert!(d.join("y.heapsnapshot.partial-222").exists());
        assert!(d.join("notes.txt.partial-111").exists());
        assert!(d.join("z.heapsnapshot.partial-abc").exists());
    }
}
