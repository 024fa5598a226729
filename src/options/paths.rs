//! Files and folders: the OOM snapshot's `path` option, the file names of on-request captures, and
//! the checks that the names we will write are names a file can have and that their folder exists
//! and this process may create files in it. Mistakes are caught when the option is given, not when
//! the heap is already full; folders are checked only when something will be written there.

use std::ffi::CString;
use std::io::ErrorKind;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::time::utc_stamp;
use super::values::{Check, Describe, Reported, Text};
use super::{Defaults, OptionError, Prop};

pub const SNAPSHOT_EXT: &str = ".heapsnapshot";

/// What the OOM path writes beside the snapshot: the sampling heap profile and the report.
const OOM_ARTIFACT_EXTS: [&str; 2] = [".heapprofile", ".oom.json"];

/// Bytes the atomic writer adds to a final file name for its temporary,
/// `.<final file name>.<16 hex>.partial`.
use oom_heapdump_capture::TEMP_NAME_EXTRA;

/// `-N` of a `Landing::KeepExisting` landing at its longest (`u32::MAX`).
const KEEP_EXISTING_SUFFIX: &str = "-4294967295";

/// Stands for `addTimestamp`'s `-YYYYMMDDTHHMMSS.mmmZ` in messages; as long as the real one.
const STAMP_SHAPE: &str = "-YYYYMMDDTHHMMSS.mmmZ";

/// The longest file name Linux takes, in bytes.
pub const NAME_MAX: usize = 255;

/// The longest path Linux takes, in bytes, the final NUL included.
pub const PATH_MAX: usize = 4096;

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

/// A file location: a folder and a file name without extension. Checked as text when read
/// ([`file_path`]); its folder and the names written in it are checked by [`FilePath::writable`],
/// once it is known that something will be written there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePath {
    pub dir: PathBuf,
    pub stem: String,
    /// Why the folder cannot be written now, when that was let pass ([`FilePath::writable_later`]).
    pub unusable: Option<Unusable>,
    /// How errors name it: "option `path`".
    name: &'static str,
    /// Where the folder came from when no path was given ("the working directory", ...).
    default_from: Option<&'static str>,
}

/// A folder that cannot be written now, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unusable {
    pub why: String,
    /// It exists and is a folder, but may not be written (the snapshot can still go to a bucket).
    pub only_not_writable: bool,
}

/// A file we will create, by its name in the folder, and what it is to the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub what: &'static str,
    pub name: String,
}

/// The files the OOM path creates for `stem`: the snapshot (also under its `-N` name when an
/// existing file is kept), the heap profile and the report, each with its temporary.
pub fn oom_files(stem: &str, add_timestamp: bool) -> Vec<Written> {
    let stamp = if add_timestamp { STAMP_SHAPE } else { "" };
    let mut finals = vec![format!("{stem}{stamp}{SNAPSHOT_EXT}")];
    finals.extend(OOM_ARTIFACT_EXTS.map(|ext| format!("{stem}{stamp}{ext}")));
    let mut written = with_temporaries(&finals);
    if add_timestamp {
        written.push(Written {
            what: "the snapshot's name when an older file is kept",
            name: format!("{stem}{stamp}{KEEP_EXISTING_SUFFIX}{SNAPSHOT_EXT}"),
        });
    }
    written
}

/// The file an on-request capture creates for `stem`, and its temporary.
pub fn capture_files(stem: &str, ext: &str) -> Vec<Written> {
    with_temporaries(&[format!("{stem}{ext}")])
}

fn with_temporaries(finals: &[String]) -> Vec<Written> {
    let mut written: Vec<Written> = finals
        .iter()
        .map(|name| Written {
            what: "the file",
            name: name.clone(),
        })
        .collect();
    written.extend(finals.iter().map(|name| Written {
        what: "its temporary file",
        name: temp_name(name),
    }));
    written
}

/// The shape of the atomic writer's temporary name for `final_name`, [`TEMP_NAME_EXTRA`] bytes
/// longer.
fn temp_name(final_name: &str) -> String {
    let name = format!(".{final_name}.{}.partial", "X".repeat(16));
    debug_assert_eq!(name.len(), final_name.len() + TEMP_NAME_EXTRA);
    name
}

impl FilePath {
    /// This location, once its folder exists, is a folder this process may create files in, and
    /// every name of `written` fits NAME_MAX and, in that folder, PATH_MAX; the folder made
    /// absolute and normalised. `written[0]` is how the file name reads in errors.
    pub fn writable(self, written: &[Written]) -> Result<FilePath, OptionError> {
        let name = self.name;
        let dir = writable_folder(&self.dir, name, self.default_from)?;
        if let Some(first) = written.first() {
            if dir.join(&first.name).is_dir() {
                return Err(OptionError::NotAFile {
                    name,
                    got: format!("{:?}", dir.join(&first.name)),
                });
            }
        }
        names_fit(name, &dir, written)?;
        Ok(FilePath { dir, ..self })
    }

    /// [`FilePath::writable`] for the OOM path, whose files are written when the process dies, not
    /// now: a folder that is missing or not writable now (a volume mounted later, a read-only
    /// working directory where the original package started all the same) is no error, and why
    /// is kept in `unusable` for install to say. The names must fit all the same.
    pub fn writable_later(self, written: &[Written]) -> Result<FilePath, OptionError> {
        match self.clone().writable(written) {
            Err(e) if e.is_folder_state() => {
                names_fit(self.name, &self.dir, written)?;
                let only_not_writable = matches!(
                    e,
                    OptionError::NotWritable { .. } | OptionError::DefaultNotWritable { .. }
                );
                Ok(FilePath {
                    unusable: Some(Unusable {
                        why: e.to_string(),
                        only_not_writable,
                    }),
                    ..self.unchecked()
                })
            }
            checked => checked,
        }
    }

    /// The folder made absolute and normalised where it exists, as it is reported without checks.
    pub fn unchecked(self) -> FilePath {
        let dir = self.dir.canonicalize().unwrap_or(self.dir.clone());
        FilePath { dir, ..self }
    }
}

/// Every name of `written` fits NAME_MAX, and `dir/<name>` PATH_MAX.
fn names_fit(name: &'static str, dir: &Path, written: &[Written]) -> Result<(), OptionError> {
    let Some(longest) = written.iter().max_by_key(|w| w.name.len()) else {
        return Ok(());
    };
    if longest.name.len() > NAME_MAX {
        return Err(OptionError::NameTooLong {
            name,
            file: written[0].name.clone(),
            what: longest.what,
            bytes: longest.name.len(),
        });
    }
    let path = dir.join(&longest.name);
    let bytes = path.as_os_str().len();
    if bytes + 1 > PATH_MAX {
        return Err(OptionError::PathTooLong {
            name,
            what: longest.what,
            path,
            bytes,
        });
    }
    Ok(())
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
    /// The text only: the folder and the names are checked once it is known that the OOM path
    /// will write there (`heapdumpOnOOM`, in `Options::check_together`).
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

/// The text of a path argument: a non-empty string with neither NUL bytes nor lone surrogates;
/// `None` when it was not given.
pub(super) fn path_text<'a>(
    given: &'a Prop,
    name: &'static str,
) -> Result<Option<&'a str>, OptionError> {
    match given {
        Prop::Undefined => Ok(None),
        Prop::String(s) if s.is_empty() => Err(OptionError::NotAFile {
            name,
            got: given.describe(),
        }),
        Prop::String(s) if s.contains('\0') => Err(OptionError::Nul {
            name,
            got: given.describe(),
        }),
        Prop::String(s) => Ok(Some(s)),
        Prop::IllFormed(_) => Err(OptionError::LoneSurrogate {
            name,
            got: given.describe(),
        }),
        other => Err(OptionError::Type {
            name,
            expected: "a string",
            got: other.describe(),
        }),
    }
}

/// `given` (or `default_name` in the default folder) as a folder and a file name without `ext`,
/// checked as text; [`FilePath::writable`] checks the folder.
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
    let (file, default_from) = match path_text(given, name)? {
        None => (defaults.dir.join(default_name), Some(defaults.dir_source)),
        Some(s) if s.ends_with('/') || s.ends_with("/.") => return Err(not_a_file()),
        Some(s) => (defaults.cwd.join(s), None),
    };
    let (Some(dir), Some(file_name)) = (file.parent(), file.file_name()) else {
        return Err(not_a_file());
    };
    let file_name = file_name.to_string_lossy();
    let stem = file_name.strip_suffix(ext).unwrap_or(&file_name).to_owned();
    if stem.is_empty() || stem == "." || stem == ".." {
        return Err(not_a_file());
    }
    Ok(FilePath {
        dir: dir.to_owned(),
        stem,
        unusable: None,
        name,
        default_from,
    })
}

/// The folder, made absolute and normalised, if it exists and this process may create files in
/// it. Errors name the option, or the default folder's origin when no path was given.
fn writable_folder(
    dir: &Path,
    name: &'static str,
    default_from: Option<&'static str>,
) -> Result<PathBuf, OptionError> {
    let folder_name = default_from.unwrap_or(name);
    if dir.as_os_str().len() + 1 > PATH_MAX {
        return Err(OptionError::FolderTooLong {
            name: folder_name,
            dir: dir.to_owned(),
        });
    }
    let meta = std::fs::metadata(dir).map_err(|e| match e.kind() {
        ErrorKind::NotFound | ErrorKind::NotADirectory => OptionError::NoFolder {
            name: folder_name,
            dir: dir.to_owned(),
        },
        _ => OptionError::FolderUnusable {
            name: folder_name,
            dir: dir.to_owned(),
            error: e.to_string(),
        },
    })?;
    if !meta.is_dir() {
        return Err(OptionError::NotAFolder {
            name: folder_name,
            dir: dir.to_owned(),
        });
    }
    // No NUL: the text was checked, and the default folder is the working directory or a flag.
    let c = CString::new(dir.as_os_str().as_bytes()).map_err(|_| OptionError::Nul {
        name: folder_name,
        got: format!("{dir:?}"),
    })?;
    if unsafe { libc::access(c.as_ptr(), libc::W_OK | libc::X_OK) } != 0 {
        return Err(match default_from {
            Some(from) => OptionError::DefaultNotWritable {
                name,
                dir: dir.to_owned(),
                from,
            },
            None => OptionError::NotWritable {
                name,
                dir: dir.to_owned(),
            },
        });
    }
    Ok(dir.canonicalize().unwrap_or_else(|_| dir.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_names_written_are_the_ones_checked() {
        let names = |w: Vec<Written>| w.into_iter().map(|w| w.name).collect::<Vec<_>>();
        assert_eq!(
            names(oom_files("crash", false)),
            [
                "crash.heapsnapshot",
                "crash.heapprofile",
                "crash.oom.json",
                ".crash.heapsnapshot.XXXXXXXXXXXXXXXX.partial",
                ".crash.heapprofile.XXXXXXXXXXXXXXXX.partial",
                ".crash.oom.json.XXXXXXXXXXXXXXXX.partial",
            ]
        );
        let stamped = names(oom_files("crash", true));
        assert_eq!(stamped[0], "crash-YYYYMMDDTHHMMSS.mmmZ.heapsnapshot");
        assert_eq!(
            stamped.last().unwrap(),
            "crash-YYYYMMDDTHHMMSS.mmmZ-4294967295.heapsnapshot"
        );
        assert_eq!(
            STAMP_SHAPE.len(),
            1 + utc_stamp(SystemTime::UNIX_EPOCH).len()
        );
        assert_eq!(temp_name("a").len(), 1 + TEMP_NAME_EXTRA);
        assert_eq!(
            names(capture_files("p", ".cpuprofile")),
            ["p.cpuprofile", ".p.cpuprofile.XXXXXXXXXXXXXXXX.partial"]
        );
    }

    #[test]
    fn names_fit_name_max_and_path_max_in_bytes() {
        let dir = Path::new("/d");
        let fit = |stem: &str, ts| names_fit("option `path`", dir, &oom_files(stem, ts));
        // 216 + 13 + 26 = 255.
        assert_eq!(fit(&"a".repeat(216), false), Ok(()));
        assert_eq!(
            fit(&"a".repeat(238), false).unwrap_err().to_string(),
            format!(
                "option `path`: file name \"{}.heapsnapshot\" is too long: its temporary file \
                 is 277 bytes, over NAME_MAX (255 bytes)",
                "a".repeat(238)
            )
        );
        assert!(fit(&"a".repeat(216), true).is_err());
        assert_eq!(fit(&"a".repeat(195), true), Ok(()));
        assert!(fit(&"é".repeat(115), false).is_err());
        let deep = PathBuf::from(format!("/{}", vec!["d"; 2000].join("/")));
        let capture = |stem_len| {
            let files = capture_files(&"p".repeat(stem_len), ".cpuprofile");
            names_fit("argument `path`", &deep, &files)
        };
        // The folder, a slash, the stem, .cpuprofile and the temporary's extra: PATH_MAX - 1 bytes.
        let fits = PATH_MAX - 1 - deep.as_os_str().len() - 1 - 11 - TEMP_NAME_EXTRA;
        assert_eq!(capture(fits), Ok(()));
        let over = capture(fits + 1);
        assert!(matches!(
            over,
            Err(OptionError::PathTooLong { bytes: 4096, .. })
        ));
    }

    #[test]
    fn text_that_no_file_name_can_hold() {
        let e = |p: Prop| path_text(&p, "option `path`").unwrap_err().to_string();
        assert_eq!(
            e(Prop::String("/tmp/a\0b".into())),
            "option `path` contains a NUL byte, which no file name can hold, got \"/tmp/a\\0b\""
        );
        let units: Vec<u16> = "/tmp/a"
            .encode_utf16()
            .chain([0xD800, b'b' as u16])
            .collect();
        assert_eq!(
            e(Prop::from_utf16(units)),
            "option `path` contains a lone surrogate (U+D800..U+DFFF), which no file name can \
             hold, got \"/tmp/a\\u{d800}b\""
        );
    }

    #[test]
    fn folders_past_path_max_are_said_so() {
        let long = PathBuf::from(format!("/{}", "d".repeat(PATH_MAX)));
        assert_eq!(
            writable_folder(&long, "option `path`", None)
                .unwrap_err()
                .to_string(),
            format!("option `path`: folder {long:?} is longer than PATH_MAX (4096 bytes)")
        );
    }
}
