//! Files and folders: the OOM snapshot's `path` option, the file names of on-request captures, and
//! the check that a folder exists and this process may create files in it. Mistakes are caught when
//! the option is given, not when the heap is already full.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::time::utc_stamp;
use super::values::{Check, Describe, Reported, Text};
use super::{Defaults, OptionError, Prop};

pub const SNAPSHOT_EXT: &str = ".heapsnapshot";

/// Where OOM snapshots land: `<dir>/<stem>[-<timestamp>].heapsnapshot`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotTarget {
    pub dir: PathBuf,
    pub stem: String,
    pub add_timestamp: bool,
}

impl SnapshotTarget {
    /// The file name for a capture taken at `now`.
    pub fn final_path(&self, now: SystemTime) -> PathBuf {
        let name = if self.add_timestamp {
            format!("{}-{}{SNAPSHOT_EXT}", self.stem, utc_stamp(now))
        } else {
            format!("{}{SNAPSHOT_EXT}", self.stem)
        };
        self.dir.join(name)
    }
}

/// A checked file location: an existing, writable folder and a file name without extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePath {
    pub dir: PathBuf,
    pub stem: String,
}

/// The `path` option: a file name, `.heapsnapshot` appended when missing, relative to the working
/// directory; by default `OoM-pid-<pid>` in the default folder.
pub struct SnapshotPath;

impl Describe for SnapshotPath {
    fn text(&self) -> Text {
        Text::String
    }
    fn default_doc(&self) -> String {
        "`OoM-pid-<pid>`".into()
    }
}

impl Check for SnapshotPath {
    type Value = FilePath;
    fn check(
        &self,
        name: &'static str,
        given: &Prop,
        defaults: &Defaults,
    ) -> Result<FilePath, OptionError> {
        let default_name = format!("OoM-pid-{}", defaults.pid);
        file_path(given, name, &default_name, defaults, SNAPSHOT_EXT)
    }
    fn report(&self, value: &FilePath) -> Reported {
        let file = value.dir.join(format!("{}{SNAPSHOT_EXT}", value.stem));
        Reported::String(file.to_string_lossy().into_owned())
    }
}

/// `given` (or `default_name` in the default folder) as a folder that exists and is writable and a
/// file name without `ext`.
pub(super) fn file_path(
    given: &Prop,
    name: &'static str,
    default_name: &str,
    defaults: &Defaults,
    ext: &str,
) -> Result<FilePath, OptionError> {
    let not_a_file = || OptionError::NotAFile {
        name,
        got: given.describe(),
    };
    let (file, folder_name) = match given {
        Prop::Undefined => (defaults.dir.join(default_name), defaults.dir_source),
        Prop::String(s) if s.is_empty() || s.ends_with('/') || s.ends_with("/.") => {
            return Err(not_a_file())
        }
        Prop::String(s) => (defaults.cwd.join(s), name),
        other => {
            return Err(OptionError::Type {
                name,
                expected: "a string",
                got: other.describe(),
            })
        }
    };
    let (Some(dir), Some(file_name)) = (file.parent(), file.file_name()) else {
        return Err(not_a_file());
    };
    let file_name = file_name.to_string_lossy();
    let stem = file_name.strip_suffix(ext).unwrap_or(&file_name).to_owned();
    if stem.is_empty() || stem == "." || stem == ".." {
        return Err(not_a_file());
    }
    let dir = writable_folder(dir, folder_name)?;
    if dir.join(format!("{stem}{ext}")).is_dir() {
        return Err(not_a_file());
    }
    Ok(FilePath { dir, stem })
}

/// The folder, made absolute and normalised, if it exists and this process may create files in it.
fn writable_folder(dir: &Path, name: &'static str) -> Result<PathBuf, OptionError> {
    let meta = std::fs::metadata(dir).map_err(|_| OptionError::NoFolder {
        name,
        dir: dir.to_owned(),
    })?;
    if !meta.is_dir() {
        return Err(OptionError::NotAFolder {
            name,
            dir: dir.to_owned(),
        });
    }
    let c = CString::new(dir.as_os_str().as_bytes()).map_err(|_| OptionError::NoFolder {
        name,
        dir: dir.to_owned(),
    })?;
    if unsafe { libc::access(c.as_ptr(), libc::W_OK | libc::X_OK) } != 0 {
        return Err(OptionError::NotWritable {
            name,
            dir: dir.to_owned(),
        });
    }
    Ok(dir.canonicalize().unwrap_or_else(|_| dir.to_owned()))
}
