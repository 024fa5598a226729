//! A file that appears under its final name complete or not at all, written by one writer only.
//!
//! Bytes go to a temporary file in the same folder named `.<final name>.<16 random hex>.partial`
//! ([`temp_name`], [`TEMP_NAME_EXTRA`] bytes longer than the final name): unique per writer (not per
//! process), unpredictable (getrandom(2)), created with `O_EXCL` and mode 0600, and never touched by
//! another writer. The writer holds `flock(LOCK_EX)` on it from the moment it is created until it is
//! renamed or removed; [`sweep_stale_partials`] removes only temporaries in this format whose lock it
//! can take, so only those of writers that are gone (in any PID namespace, on any mount of the same
//! folder on this machine). While bytes are written, the kernel is asked every [`WRITEBACK_BYTES`]
//! to start writing them out (`sync_file_range(SYNC_FILE_RANGE_WRITE)`, which does not wait), so
//! that dirty pages do not pile up (they count against a container's memory limit) and the final
//! fsync has little left to do. `commit` fsyncs the file, renames it into place (with
//! `RENAME_NOREPLACE` for [`Landing::KeepExisting`]) and fsyncs the folder. Dropping an uncommitted
//! file removes the temporary, and so does the process's exit (`exit(3)`, which Node's
//! `process.exit()` reaches): every temporary in flight is recorded in a process-wide registry
//! that an `atexit` handler empties.

use std::ffi::{CString, OsString};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once};
use std::time::{Duration, SystemTime};

use crate::error::CaptureError;

/// Final-name endings of the captures we write; only temporaries of these are ever swept.
pub const CAPTURE_EXTENSIONS: &[&str] = &[
    ".heapsnapshot",
    ".cpuprofile",
    ".heapprofile",
    ".json",
    ".pb.gz",
];

/// How many bytes longer a temporary's name is than its final name: the leading `.`, the `.` before
/// the 16 random hex digits, the digits, and `.partial`.
pub const TEMP_NAME_EXTRA: usize = 26;

const TEMP_SUFFIX: &str = ".partial";
const RANDOM_HEX: usize = 16;

/// An unlocked, empty temporary younger than this may be one whose writer has created it and not
/// yet taken its lock (the two are separate system calls); the sweep leaves it alone.
pub const JUST_CREATED: Duration = Duration::from_secs(10);

/// How a committed file meets an existing file of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Landing {
    /// Atomically replace it (the original package's behaviour for a fixed path).
    Replace,
    /// Keep it, and land under `<stem>-1<ext>`, `<stem>-2<ext>`, ... instead.
    KeepExisting,
}

/// A new temporary name for `final_path`: `.<final name>.<16 random lowercase hex>.partial` in the
/// same folder. None when `final_path` has no file name.
pub fn temp_name(final_path: &Path) -> Option<PathBuf> {
    let name = final_path.file_name()?;
    let mut tmp = OsString::from(".");
    tmp.push(name);
    tmp.push(format!(".{:016x}{TEMP_SUFFIX}", random_u64()));
    Some(final_path.with_file_name(tmp))
}

/// 64 random bits from getrandom(2), or /dev/urandom where that system call is missing.
fn random_u64() -> u64 {
    let mut buf = [0u8; 8];
    let mut filled = 0;
    while filled < buf.len() {
        let n =
            unsafe { libc::getrandom(buf[filled..].as_mut_ptr().cast(), buf.len() - filled, 0) };
        if n > 0 {
            filled += n as usize;
        } else if io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            break;
        }
    }
    if filled < buf.len() {
        File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut buf))
            .expect("no source of random bytes (getrandom(2) and /dev/urandom both failed)");
    }
    u64::from_ne_bytes(buf)
}

/// The final name a temporary in our format stands for, if `name` is one:
/// `.<final name>.<16 lowercase hex>.partial`, the final name ending in a capture extension.
pub fn parse_temp_name(name: &[u8]) -> Option<&[u8]> {
    let rest = name
        .strip_prefix(b".")?
        .strip_suffix(TEMP_SUFFIX.as_bytes())?;
    if rest.len() < RANDOM_HEX + 2 {
        return None;
    }
    let (final_dot, hex) = rest.split_at(rest.len() - RANDOM_HEX);
    let final_name = final_dot.strip_suffix(b".")?;
    if !hex.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    if !CAPTURE_EXTENSIONS
        .iter()
        .any(|ext| final_name.len() > ext.len() && final_name.ends_with(ext.as_bytes()))
    {
        return None;
    }
    Some(final_name)
}

/// Temporaries this process is writing, removed by [`remove_in_flight`] at exit.
static IN_FLIGHT: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static AT_EXIT: Once = Once::new();

fn register(tmp: &Path) {
    AT_EXIT.call_once(|| unsafe {
        libc::atexit(remove_in_flight);
    });
    lock_in_flight().push(tmp.to_owned());
}

fn deregister(tmp: &Path) {
    lock_in_flight().retain(|p| p != tmp);
}

fn lock_in_flight() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner())
}

/// The `atexit` handler: removes the temporaries of captures still in flight, whose writers (other
/// threads) die with the process without finishing.
extern "C" fn remove_in_flight() {
    let _ = std::panic::catch_unwind(|| {
        for tmp in lock_in_flight().drain(..) {
            let _ = fs::remove_file(tmp);
        }
    });
}

/// The paths of this process's temporaries in flight (for tests and diagnostics).
pub fn in_flight() -> Vec<PathBuf> {
    lock_in_flight().clone()
}

/// How many written bytes the kernel is asked to start writing out at a time.
pub const WRITEBACK_BYTES: u64 = 8 << 20;

/// A capture being written; see the module docs.
#[derive(Debug)]
pub struct AtomicFile {
    file: Option<File>,
    tmp: PathBuf,
    final_path: PathBuf,
    bytes: u64,
    /// Bytes before this offset were handed to the kernel's write-out.
    written_out: u64,
}

impl AtomicFile {
    /// Creates this writer's own temporary file for `final_path` and locks it.
    pub fn create(final_path: &Path) -> Result<Self, CaptureError> {
        let Some(mut tmp) = temp_name(final_path) else {
            return Err(CaptureError::NoFileName(final_path.to_owned()));
        };
        let mut attempts = 0;
        let file = loop {
            let opened = OpenOptions::new()
                .read(true) // for read_back
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
                .open(&tmp);
            match opened {
                Ok(f) => break f,
                // 64 random bits make this a squatter, not a collision: draw another name.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempts < 3 => {
                    attempts += 1;
                    tmp = temp_name(final_path).expect("has a file name");
                }
                Err(source) => return Err(CaptureError::Create { path: tmp, source }),
            }
        };
        // Held until the rename or removal; the sweep leaves a locked temporary alone.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
            let source = io::Error::last_os_error();
            let _ = fs::remove_file(&tmp);
            return Err(CaptureError::Create { path: tmp, source });
        }
        register(&tmp);
        Ok(Self {
            file: Some(file),
            tmp,
            final_path: final_path.to_owned(),
            bytes: 0,
            written_out: 0,
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

    /// The bytes written so far, read through a duplicate of its descriptor: the same file
    /// whatever happens to its name since, readable once the temporary is removed.
    pub fn read_back(&self) -> Result<ReadBack, CaptureError> {
        let file = self.file.as_ref().expect("file is open until commit");
        let file = file.try_clone().map_err(|source| CaptureError::Write {
            path: self.tmp.clone(),
            source,
        })?;
        Ok(ReadBack {
            file,
            at: 0,
            end: self.bytes,
        })
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
        if self.bytes - self.written_out >= WRITEBACK_BYTES {
            let (from, len) = (self.written_out, self.bytes - self.written_out);
            // Advice only: an error (a filesystem without it) leaves the work to the final fsync.
            // SAFETY: a valid descriptor; the call reads no memory of ours.
            unsafe {
                libc::sync_file_range(
                    file.as_raw_fd(),
                    from as libc::off64_t,
                    len as libc::off64_t,
                    libc::SYNC_FILE_RANGE_WRITE,
                )
            };
            self.written_out = self.bytes;
        }
        Ok(())
    }

    /// [`AtomicFile::commit`], also saying which file landed ([`FileId`], read from this writer's
    /// own descriptor before the rename): whoever later removes "the file we wrote" compares it
    /// with what the name holds then, and another file put in its place, even a moment after the
    /// rename, is never taken for ours.
    pub fn land(self, landing: Landing) -> Result<Landed, CaptureError> {
        let id = FileId::of(self.file.as_ref().expect("file is open until commit"));
        let path = self.commit(landing)?;
        Ok(Landed { path, id })
    }

    /// Makes the file durable and moves it to its final name; returns the name it landed under.
    ///
    /// With [`Landing::Replace`], another writer may replace the file right after; when the final
    /// name no longer holds this writer's file once renamed, this says so
    /// ([`CaptureError::Replaced`]) rather than report a file that is not the one it wrote.
    pub fn commit(mut self, landing: Landing) -> Result<PathBuf, CaptureError> {
        let file = self.file.as_ref().expect("file is open until commit");
        file.sync_all().map_err(|source| CaptureError::Sync {
            path: self.tmp.clone(),
            source,
        })?;
        let ours = file.metadata().map_err(|source| CaptureError::Sync {
            path: self.tmp.clone(),
            source,
        })?;
        let target = match landing {
            Landing::Replace => match rename(&self.tmp, &self.final_path, false) {
                Ok(()) => self.final_path.clone(),
                // What stands under the final name cannot be replaced: another user's file in a
                // sticky folder such as /tmp (EPERM), or a folder (EISDIR), put there to block
                // captures at a predictable name. The capture lands beside it, not nowhere.
                Err(e) if matches!(e.raw_os_error(), Some(libc::EPERM | libc::EISDIR)) => {
                    self.land_beside_existing()?
                }
                Err(source) => {
                    return Err(CaptureError::Rename {
                        from: self.tmp.clone(),
                        to: self.final_path.clone(),
                        source,
                    })
                }
            },
            Landing::KeepExisting => self.land_beside_existing()?,
        };
        self.landed();
        if let Some(dir) = target.parent() {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            // Durability of the rename itself; a folder that cannot be opened is not an error.
            // (Only a folder, without waiting: one swapped for a FIFO since would block the open.)
            let folder = OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_DIRECTORY | libc::O_NONBLOCK)
                .open(dir);
            if let Ok(d) = folder {
                let _ = d.sync_all();
            }
        }
        match fs::symlink_metadata(&target) {
            Ok(now) if now.dev() == ours.dev() && now.ino() == ours.ino() => Ok(target),
            _ => Err(CaptureError::Replaced(target)),
        }
    }

    /// Renames the temporary to the first of `<final>`, `<stem>-1<ext>`, ... that is free, never
    /// replacing a file (`RENAME_NOREPLACE`, so two writers cannot pick the same name).
    fn land_beside_existing(&self) -> Result<PathBuf, CaptureError> {
        let name = self
            .final_path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let (stem, ext) = split_capture_extension(&name);
        for n in 0u32.. {
            let target = if n == 0 {
                self.final_path.clone()
            } else {
                self.final_path.with_file_name(format!("{stem}-{n}{ext}"))
            };
            match rename(&self.tmp, &target, true) {
                Ok(()) => return Ok(target),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(source) => {
                    return Err(CaptureError::Rename {
                        from: self.tmp.clone(),
                        to: target,
                        source,
                    })
                }
            }
        }
        unreachable!("some suffix is free")
    }

    /// The temporary is gone (renamed): forget it, and release the lock.
    fn landed(&mut self) {
        deregister(&self.tmp);
        self.tmp.clear();
        self.file.take();
    }
}

/// A file that landed: the name it landed under, and which file that is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Landed {
    pub path: PathBuf,
    /// None where `statx(2)` is not available (the caller may then only go by the name).
    pub id: Option<FileId>,
}

/// Which file a name holds, from `statx(2)`: `dev` (`makedev` of its major and minor numbers),
/// `ino`, and the birth time, which tells apart two files given the same inode number one after
/// the other (as ext4 does with a freed one); 0 where the file system keeps no birth time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileId {
    pub dev: u64,
    pub ino: u64,
    pub birth_ns: i64,
}

impl FileId {
    /// The file open as `file`; None when `statx(2)` fails.
    pub fn of(file: &File) -> Option<FileId> {
        Self::statx(file.as_raw_fd(), c"", libc::AT_EMPTY_PATH)
    }

    /// The file `path` names now, a final symbolic link not followed; None when there is none or
    /// `statx(2)` fails. Compare with [`FileId::of`] only: both read the same call, whatever
    /// Node's `fs.lstat` would say where libuv falls back to another.
    pub fn of_path(path: &Path) -> Option<FileId> {
        let path = CString::new(path.as_os_str().as_bytes()).ok()?;
        Self::statx(libc::AT_FDCWD, &path, libc::AT_SYMLINK_NOFOLLOW)
    }

    fn statx(dir: libc::c_int, path: &std::ffi::CStr, flags: libc::c_int) -> Option<FileId> {
        // SAFETY: statx fills the zeroed struct it is given; `path` is NUL-terminated.
        let mut st: libc::statx = unsafe { std::mem::zeroed() };
        let rc = unsafe {
            libc::statx(
                dir,
                path.as_ptr(),
                flags,
                libc::STATX_BASIC_STATS | libc::STATX_BTIME,
                &mut st,
            )
        };
        (rc == 0).then(|| FileId {
            dev: libc::makedev(st.stx_dev_major, st.stx_dev_minor),
            ino: st.stx_ino,
            birth_ns: st.stx_btime.tv_sec * 1_000_000_000 + i64::from(st.stx_btime.tv_nsec),
        })
    }
}

/// What [`AtomicFile::read_back`] reads: its first `end` bytes, with pread(2) (a duplicate
/// descriptor shares the writer's offset; no `/proc` needed to open another).
pub struct ReadBack {
    file: File,
    at: u64,
    end: u64,
}

impl Read for ReadBack {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use std::os::unix::fs::FileExt;
        let left = usize::try_from(self.end - self.at).unwrap_or(usize::MAX);
        let want = buf.len().min(left);
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.at)?;
        self.at += n as u64;
        Ok(n)
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() {
            // Removed while still locked, so no sweep can mistake it for a dead writer's.
            let _ = fs::remove_file(&self.tmp);
            deregister(&self.tmp);
            self.file.take();
        }
    }
}

/// rename(2), or with `no_replace` renameat2(2) with `RENAME_NOREPLACE` (link(2) and unlink(2)
/// where the file system does not support it); `AlreadyExists` when `to` exists.
fn rename(from: &Path, to: &Path, no_replace: bool) -> io::Result<()> {
    if !no_replace {
        return fs::rename(from, to);
    }
    let c = |p: &Path| {
        CString::new(p.as_os_str().as_bytes())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))
    };
    let (cf, ct) = (c(from)?, c(to)?);
    let r = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            cf.as_ptr(),
            libc::AT_FDCWD,
            ct.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    if r == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::EINVAL) | Some(libc::ENOSYS) => {
            fs::hard_link(from, to)?;
            fs::remove_file(from)
        }
        _ => Err(err),
    }
}

/// Splits `name` into stem and one of [`CAPTURE_EXTENSIONS`] (or no extension).
fn split_capture_extension(name: &str) -> (&str, &str) {
    CAPTURE_EXTENSIONS
        .iter()
        .find_map(|ext| name.strip_suffix(ext).map(|stem| (stem, *ext)))
        .unwrap_or((name, ""))
}

/// A temporary file left behind by a capture whose writer is gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StalePartial {
    pub path: PathBuf,
    pub bytes: u64,
}

/// Removes the temporaries in `dir` that are provably ours and provably dead: named in our format
/// ([`parse_temp_name`]), regular files of this user, whose lock this call can take (the writer
/// holds it for as long as it writes, whatever its PID namespace), and not an empty file younger
/// than [`JUST_CREATED`] (created, not yet locked). With `only_for`, only temporaries of that final
/// name. Returns what it removed.
pub fn sweep_stale_partials(dir: &Path, only_for: Option<&Path>) -> io::Result<Vec<StalePartial>> {
    let uid = unsafe { libc::geteuid() };
    let only_name = only_for.and_then(|p| p.file_name()).map(|n| n.as_bytes());
    let mut removed = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().into_vec();
        let Some(final_name) = parse_temp_name(&name) else {
            continue;
        };
        if only_name.is_some_and(|n| n != final_name) {
            continue;
        }
        let path = entry.path();
        if let Some(bytes) = remove_if_dead(&path, uid) {
            removed.push(StalePartial { path, bytes });
        }
    }
    Ok(removed)
}

/// Removes `path` if it is a regular file of `uid` whose lock can be taken and that is not just
/// created; returns its size.
fn remove_if_dead(path: &Path, uid: u32) -> Option<u64> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() || meta.uid() != uid {
        return None;
    }
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return None; // its writer is alive
    }
    let age = meta
        .modified()
        .ok()
        .and_then(|m| SystemTime::now().duration_since(m).ok())
        .unwrap_or_default();
    if meta.len() == 0 && age < JUST_CREATED {
        return None;
    }
    // Still the file we locked under that name.
    let now = fs::symlink_metadata(path).ok()?;
    if now.dev() != meta.dev() || now.ino() != meta.ino() {
        return None;
    }
    fs::remove_file(path).ok()?;
    Some(meta.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::sync::{Arc, Barrier};

    fn tempdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ohd-atomic-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    fn names(d: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    /// Sets the modification time of `p` to `secs` seconds ago.
    fn age(p: &Path, secs: u64) {
        let f = File::options().write(true).open(p).unwrap();
        f.set_modified(SystemTime::now() - Duration::from_secs(secs))
            .unwrap();
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
        assert!(in_flight().contains(&f.temp_path().to_owned()));
        let landed = f.commit(Landing::Replace).unwrap();
        assert_eq!(landed, target);
        assert_eq!(fs::read(&target).unwrap(), b"hello");
        let mode = fs::metadata(&target).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(fs::read_dir(&d).unwrap().count(), 1);
        assert!(!in_flight().contains(&target));
    }

    #[test]
    fn land_says_which_file_landed_as_stat_reports_it() {
        let d = tempdir("land");
        let target = d.join("a.heapsnapshot");
        let mut f = AtomicFile::create(&target).unwrap();
        f.write_all(b"hello").unwrap();
        let landed = f.land(Landing::Replace).unwrap();
        assert_eq!(landed.path, target);
        let id = landed.id.expect("statx works here");
        assert_eq!(FileId::of_path(&target), Some(id));
        assert_eq!(FileId::of_path(&d.join("none")), None);
        let st = fs::symlink_metadata(&target).unwrap();
        assert_eq!((id.dev, id.ino), (st.dev(), st.ino()));
        // std reads the birth time with statx too, where the file system keeps one.
        if let Ok(born) = st.created() {
            let ns = born
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_nanos();
            assert_eq!(i128::from(id.birth_ns), ns as i128);
        }
        // Another file put under the name is another FileId, though it may reuse the inode (where
        // the file system keeps birth times).
        fs::remove_file(&target).unwrap();
        let mut g = AtomicFile::create(&target).unwrap();
        g.write_all(b"other").unwrap();
        let other = g.land(Landing::Replace).unwrap().id.unwrap();
        if st.created().is_ok() {
            assert_ne!(other, id);
        }
    }

    #[test]
    fn temp_name_is_hidden_random_and_exactly_temp_name_extra_longer() {
        let target = Path::new("/some/dir/crash.heapsnapshot");
        let a = temp_name(target).unwrap();
        let b = temp_name(target).unwrap();
        assert_ne!(a, b, "unpredictable: two draws differ");
        assert_eq!(a.parent(), target.parent());
        let (an, tn) = (
            a.file_name().unwrap().as_bytes(),
            target.file_name().unwrap().as_bytes(),
        );
        assert_eq!(an.len(), tn.len() + TEMP_NAME_EXTRA);
        assert!(an.starts_with(b".crash.heapsnapshot."), "{a:?}");
        assert!(an.ends_with(b".partial"), "{a:?}");
        assert_eq!(parse_temp_name(an), Some(tn));
    }

    #[test]
    fn two_writers_of_one_name_each_keep_their_own_temporary() {
        // The defect: the second writer removed the first one's temporary, and the first one's
        // rename then moved the second's half-written file into place.
        let d = tempdir("two");
        let target = d.join("same.heapsnapshot");
        let mut first = AtomicFile::create(&target).unwrap();
        first.write_all(b"first, complete").unwrap();
        let mut second = AtomicFile::create(&target).unwrap();
        second.write_all(b"second, half").unwrap();
        assert_ne!(first.temp_path(), second.temp_path());
        assert!(
            first.temp_path().exists(),
            "the second writer left it alone"
        );
        first.commit(Landing::Replace).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"first, complete");
        second.write_all(b" and the rest").unwrap();
        second.commit(Landing::Replace).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"second, half and the rest");
        assert_eq!(names(&d), ["same.heapsnapshot"]);
    }

    #[test]
    fn concurrent_writers_end_with_one_complete_file_and_each_result_is_true() {
        let d = tempdir("race");
        let target = d.join("race.heapsnapshot");
        for round in 0..20 {
            let n = 4;
            let barrier = Arc::new(Barrier::new(n));
            let threads: Vec<_> = (0..n)
                .map(|i| {
                    let (barrier, target) = (barrier.clone(), target.clone());
                    std::thread::spawn(move || {
                        let body = format!("writer {i} round {round} ").repeat(2000 + i * 10);
                        let mut f = AtomicFile::create(&target).unwrap();
                        barrier.wait();
                        for part in body.as_bytes().chunks(4096) {
                            f.write_all(part).unwrap();
                        }
                        (body, f.commit(Landing::Replace))
                    })
                })
                .collect();
            let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
            let landed = fs::read_to_string(&target).unwrap();
            assert!(
                results.iter().any(|(body, _)| *body == landed),
                "one writer's complete file"
            );
            for (body, r) in &results {
                // A writer that says it landed may only be overtaken later; one that says its file
                // was replaced must indeed not be the one there.
                if let Err(CaptureError::Replaced(_)) = r {
                    assert_ne!(*body, landed);
                } else {
                    r.as_ref().unwrap();
                }
            }
            assert_eq!(names(&d), ["race.heapsnapshot"]);
        }
    }

    #[test]
    fn a_directory_squatted_at_a_temporary_name_does_not_block_the_capture() {
        let d = tempdir("squat");
        let target = d.join("s.heapsnapshot");
        // What a squatter could have predicted under the old naming, and one in the new format.
        fs::create_dir(d.join(format!("s.heapsnapshot.partial-{}", std::process::id()))).unwrap();
        fs::create_dir(d.join(".s.heapsnapshot.0123456789abcdef.partial")).unwrap();
        let mut f = AtomicFile::create(&target).unwrap();
        f.write_all(b"ok").unwrap();
        assert_eq!(f.commit(Landing::Replace).unwrap(), target);
        assert_eq!(fs::read(&target).unwrap(), b"ok");
    }

    #[test]
    fn drop_without_commit_leaves_nothing() {
        let d = tempdir("drop");
        let target = d.join("b.heapsnapshot");
        let mut f = AtomicFile::create(&target).unwrap();
        f.write_all(b"partial").unwrap();
        let tmp = f.temp_path().to_owned();
        drop(f);
        assert_eq!(fs::read_dir(&d).unwrap().count(), 0);
        assert!(!in_flight().contains(&tmp));
    }

    #[test]
    fn keep_existing_picks_next_free_name_and_never_replaces() {
        let d = tempdir("keep");
        let target = d.join("c.heapsnapshot");
        fs::write(&target, b"old").unwrap();
        fs::write(d.join("c-1.heapsnapshot"), b"old 1").unwrap();
        let mut a = AtomicFile::create(&target).unwrap();
        a.write_all(b"a").unwrap();
        let mut b = AtomicFile::create(&target).unwrap();
        b.write_all(b"b").unwrap();
        assert_eq!(
            a.commit(Landing::KeepExisting).unwrap(),
            d.join("c-2.heapsnapshot")
        );
        assert_eq!(
            b.commit(Landing::KeepExisting).unwrap(),
            d.join("c-3.heapsnapshot")
        );
        assert_eq!(fs::read(&target).unwrap(), b"old");
        assert_eq!(fs::read(d.join("c-2.heapsnapshot")).unwrap(), b"a");
        assert_eq!(fs::read(d.join("c-3.heapsnapshot")).unwrap(), b"b");
    }

    #[test]
    fn sweep_removes_only_unlocked_temporaries_in_our_format() {
        let d = tempdir("sweep");
        let dead = d.join(".x.heapsnapshot.00000000000000aa.partial");
        fs::write(&dead, b"dead").unwrap();
        let dead_empty_old = d.join(".x.oom.json.00000000000000bb.partial");
        fs::write(&dead_empty_old, b"").unwrap();
        age(&dead_empty_old, 60);
        // Possibly created a moment ago by a writer that has not locked it yet.
        let just_created = d.join(".y.heapsnapshot.00000000000000cc.partial");
        fs::write(&just_created, b"").unwrap();
        // Not ours: another program's, or the old format.
        let foreign = [
            "app-config.json.partial-99997",
            "x.heapsnapshot.partial-1",
            ".notes.txt.00000000000000dd.partial",
            ".x.heapsnapshot.00000000000000EE.partial",
            ".x.heapsnapshot.0000000000ff.partial",
        ];
        for f in foreign {
            fs::write(d.join(f), b"keep").unwrap();
            age(&d.join(f), 60);
        }
        // A live writer, in this process; its lock is what keeps it.
        let mut live = AtomicFile::create(&d.join("z.heapsnapshot")).unwrap();
        live.write_all(b"alive").unwrap();
        age(live.temp_path(), 60);

        let mut removed = sweep_stale_partials(&d, None).unwrap();
        removed.sort_by(|a, b| a.path.cmp(&b.path));
        assert_eq!(
            removed,
            [
                StalePartial {
                    path: dead,
                    bytes: 4
                },
                StalePartial {
                    path: dead_empty_old,
                    bytes: 0
                },
            ]
        );
        assert!(live.temp_path().exists());
        assert!(just_created.exists());
        for f in foreign {
            assert!(d.join(f).exists(), "{f} kept");
        }
        live.commit(Landing::Replace).unwrap();
    }

    #[test]
    fn sweep_for_one_final_name_leaves_the_others() {
        let d = tempdir("sweep-one");
        let a = d.join(".a.heapsnapshot.00000000000000aa.partial");
        let b = d.join(".b.heapsnapshot.00000000000000bb.partial");
        fs::write(&a, b"dead").unwrap();
        fs::write(&b, b"dead").unwrap();
        let removed = sweep_stale_partials(&d, Some(&d.join("a.heapsnapshot"))).unwrap();
        assert_eq!(removed.len(), 1);
        assert!(!a.exists() && b.exists());
    }

    #[test]
    fn a_lock_held_by_another_process_keeps_the_temporary() {
        // The writer is a process of its own (as the helper is for the app), here flock(1)'s child.
        let d = tempdir("sweep-proc");
        let tmp = d.join(".p.heapsnapshot.00000000000000aa.partial");
        fs::write(&tmp, b"being written").unwrap();
        // The shell takes the lock on fd 9, says so, and becomes `sleep` keeping fd 9 open.
        let mut holder = std::process::Command::new("sh")
            .arg("-c")
            .arg("exec 9>>\"$0\" && flock -x 9 && echo locked && exec sleep 30")
            .arg(&tmp)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        io::BufRead::read_line(
            &mut io::BufReader::new(holder.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        assert_eq!(line, "locked\n", "flock(1) from util-linux");
        assert!(sweep_stale_partials(&d, None).unwrap().is_empty());
        assert!(tmp.exists());
        holder.kill().unwrap();
        holder.wait().unwrap();
        let removed = sweep_stale_partials(&d, None).unwrap();
        assert_eq!(removed.len(), 1, "removed once its writer is gone");
    }

    /// Child mode of the test below: a writer thread mid-capture, and `exit()` on the main thread.
    #[test]
    fn child_exits_mid_write() {
        let Ok(target) = std::env::var("OHD_EXIT_MID_WRITE") else {
            return;
        };
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut f = AtomicFile::create(Path::new(&target)).unwrap();
            f.write_all(b"first part").unwrap();
            tx.send(f.temp_path().to_owned()).unwrap();
            loop {
                f.write_all(b" more").unwrap();
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        let tmp = rx.recv().unwrap();
        println!("writing {}", tmp.display());
        std::process::exit(0);
    }

    /// Run by the test below in a child process: as `nobody`, commits `ours` to the path in
    /// OHD_LAND_AS_NOBODY with [`Landing::Replace`], and prints where it landed.
    #[test]
    fn child_lands_as_nobody() {
        let Some(target) = std::env::var_os("OHD_LAND_AS_NOBODY") else {
            return;
        };
        // SAFETY: plain system calls; glibc applies them to every thread of the process.
        unsafe {
            assert_eq!(libc::setgid(65534), 0);
            assert_eq!(libc::setuid(65534), 0);
        }
        let mut f = AtomicFile::create(Path::new(&target)).unwrap();
        f.write_all(b"ours").unwrap();
        println!("landed {}", f.commit(Landing::Replace).unwrap().display());
    }

    /// A file of another user (root's) at the final name in a sticky folder, as anyone could put
    /// in /tmp to block a capture with a predictable name: the capture lands beside it.
    #[test]
    fn a_final_name_another_user_holds_in_a_sticky_folder_is_landed_beside() {
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipped: needs root (to be another user)");
            return;
        }
        let others_pass = fs::metadata(std::env::temp_dir())
            .unwrap()
            .permissions()
            .mode()
            & 0o001;
        if others_pass == 0 {
            eprintln!("skipped: nobody cannot reach the temporary folder");
            return;
        }
        let d = tempdir("sticky-held");
        fs::set_permissions(&d, fs::Permissions::from_mode(0o1777)).unwrap();
        let target = d.join("crash.heapsnapshot");
        fs::write(&target, "root's").unwrap();
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "atomic_file::tests::child_lands_as_nobody",
                "--nocapture",
            ])
            .env("OHD_LAND_AS_NOBODY", &target)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout}");
        let beside = d.join("crash-1.heapsnapshot");
        assert!(
            stdout.contains(&format!("landed {}\n", beside.display())),
            "{stdout}"
        );
        assert_eq!(fs::read_to_string(&target).unwrap(), "root's");
        assert_eq!(fs::read_to_string(&beside).unwrap(), "ours");
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn read_back_reads_what_was_written_also_once_the_temporary_is_gone() {
        let d = tempdir("read-back");
        let target = d.join("r.heapsnapshot");
        let mut f = AtomicFile::create(&target).unwrap();
        f.write_all(b"hello ").unwrap();
        f.write_all(b"world").unwrap();
        let mut back = f.read_back().unwrap();
        let mut first = [0u8; 6];
        back.read_exact(&mut first).unwrap();
        assert_eq!(&first, b"hello ");
        // Reading back does not move the writer: more lands after what was written.
        f.write_all(b", more").unwrap();
        let mut again = f.read_back().unwrap();
        f.commit(Landing::Replace).unwrap();
        assert_eq!(fs::read_to_string(&target).unwrap(), "hello world, more");
        let mut all = String::new();
        again.read_to_string(&mut all).unwrap();
        assert_eq!(all, "hello world, more");

        let mut gone = AtomicFile::create(&d.join("gone.heapsnapshot")).unwrap();
        gone.write_all(b"kept").unwrap();
        let mut back = gone.read_back().unwrap();
        drop(gone);
        assert_eq!(names(&d), ["r.heapsnapshot"], "the temporary is removed");
        let mut text = String::new();
        back.read_to_string(&mut text).unwrap();
        assert_eq!(text, "kept");
        assert_eq!(
            back.read(&mut [0u8; 4]).unwrap(),
            0,
            "no more than was written"
        );
    }

    #[test]
    fn a_folder_at_the_final_name_is_landed_beside() {
        let d = tempdir("folder-held");
        let target = d.join("crash.heapsnapshot");
        fs::create_dir(&target).unwrap();
        let mut f = AtomicFile::create(&target).unwrap();
        f.write_all(b"ours").unwrap();
        let landed = f.commit(Landing::Replace).unwrap();
        assert_eq!(landed, d.join("crash-1.heapsnapshot"));
        assert_eq!(fs::read_to_string(&landed).unwrap(), "ours");
        assert!(target.is_dir());
    }

    #[test]
    fn exit_of_the_process_mid_write_removes_the_temporary() {
        let d = tempdir("exit");
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "atomic_file::tests::child_exits_mid_write",
                "--nocapture",
            ])
            .env("OHD_EXIT_MID_WRITE", d.join("e.heapsnapshot"))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout}");
        assert!(
            stdout.contains("writing "),
            "the child was mid-write: {stdout}"
        );
        assert_eq!(names(&d), Vec::<String>::new(), "no temporary left");
    }
}
