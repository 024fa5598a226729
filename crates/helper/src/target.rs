//! The one target this helper writes for: the OOM folder and file stem it was started with. A
//! request for any other path is refused, so that whoever holds the pipe cannot aim the helper at
//! another file.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The extension of the files this helper writes.
const SNAPSHOT_EXT: &[u8] = b".heapsnapshot";
/// The extensions of the files an OOM writes, which it may export (the last one this helper
/// writes itself, with `--pprof`).
const ARTIFACT_EXTS: [&[u8]; 4] = [SNAPSHOT_EXT, b".heapprofile", b".oom.json", b".heap.pb.gz"];

/// `--dir <folder> --stem <name>`: snapshots may land at `<folder>/<stem>.heapsnapshot` or
/// `<folder>/<stem>-<suffix>.heapsnapshot` (a timestamp, and `-N` beside an existing file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub dir: PathBuf,
    pub stem: OsString,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TargetError {
    #[error("started without --dir <folder> and --stem <name> (the target it may write)")]
    Missing,
    #[error("--dir {0:?} is not an absolute path")]
    NotAbsolute(PathBuf),
    #[error("--stem {0:?} is not a file name")]
    BadStem(OsString),
    #[error("refused {path:?}: this helper writes only {dir:?}/{stem:?}[-...].heapsnapshot")]
    Refused {
        path: PathBuf,
        dir: PathBuf,
        stem: OsString,
    },
    #[error("refused to export {path:?}: this helper exports only {dir:?}/{stem:?}[-...].heapsnapshot, .heapprofile, .oom.json or .heap.pb.gz")]
    RefusedExport {
        path: PathBuf,
        dir: PathBuf,
        stem: OsString,
    },
}

impl Target {
    /// The target from the command line.
    pub fn from_args(args: impl IntoIterator<Item = OsString>) -> Result<Target, TargetError> {
        let (mut dir, mut stem) = (None, None);
        let mut args = args.into_iter();
        while let Some(a) = args.next() {
            if a == "--dir" {
                dir = args.next().map(PathBuf::from);
            } else if a == "--stem" {
                stem = args.next();
            }
        }
        let (Some(dir), Some(stem)) = (dir, stem) else {
            return Err(TargetError::Missing);
        };
        if !dir.is_absolute() {
            return Err(TargetError::NotAbsolute(dir));
        }
        let s = stem.as_bytes();
        if s.is_empty() || s.contains(&b'/') || s == b"." || s == b".." {
            return Err(TargetError::BadStem(stem));
        }
        Ok(Target { dir, stem })
    }

    /// Ok when `path` is one this helper may write.
    pub fn check(&self, path: &Path) -> Result<(), TargetError> {
        if self.matches(path, &[SNAPSHOT_EXT]) {
            Ok(())
        } else {
            Err(TargetError::Refused {
                path: path.to_owned(),
                dir: self.dir.clone(),
                stem: self.stem.clone(),
            })
        }
    }

    /// Ok when `path` is one of the files an OOM writes for this target (snapshot, heap profile,
    /// report), which the export command may be given.
    pub fn check_artifact(&self, path: &Path) -> Result<(), TargetError> {
        if self.matches(path, &ARTIFACT_EXTS) {
            Ok(())
        } else {
            Err(TargetError::RefusedExport {
                path: path.to_owned(),
                dir: self.dir.clone(),
                stem: self.stem.clone(),
            })
        }
    }

    /// Whether `path` is `<dir>/<stem>[-<suffix>]<ext>` for one of `exts`.
    fn matches(&self, path: &Path, exts: &[&[u8]]) -> bool {
        if path.parent() != Some(self.dir.as_path()) {
            return false;
        }
        let Some(name) = path.file_name() else {
            return false;
        };
        let Some(rest) = name.as_bytes().strip_prefix(self.stem.as_bytes()) else {
            return false;
        };
        exts.iter().any(|ext| {
            rest.strip_suffix(*ext)
                .is_some_and(|r| r.is_empty() || (r.len() > 1 && r[0] == b'-'))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        Target::from_args(["--dir", "/var/dumps", "--stem", "app"].map(OsString::from)).unwrap()
    }

    #[test]
    fn only_the_target_and_its_suffixed_names_pass() {
        let t = target();
        for ok in [
            "/var/dumps/app.heapsnapshot",
            "/var/dumps/app-20260101T000000.000Z.heapsnapshot",
            "/var/dumps/app-1.heapsnapshot",
        ] {
            assert_eq!(t.check(Path::new(ok)), Ok(()), "{ok}");
        }
        for bad in [
            "/etc/passwd",
            "/var/dumps/other.heapsnapshot",
            "/var/dumps/app.json",
            "/var/dumps/app-.heapsnapshot",
            "/var/dumps/appx.heapsnapshot",
            "/var/dumps/sub/app.heapsnapshot",
            "/var/dumps/../dumps/app.heapsnapshot",
            "/root/app.heapsnapshot",
        ] {
            assert!(
                matches!(t.check(Path::new(bad)), Err(TargetError::Refused { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn only_the_targets_oom_files_are_exported() {
        let t = target();
        for ok in [
            "/var/dumps/app.heapsnapshot",
            "/var/dumps/app.heapprofile",
            "/var/dumps/app-20260101T000000.000Z.oom.json",
            "/var/dumps/app.heap.pb.gz",
        ] {
            assert_eq!(t.check_artifact(Path::new(ok)), Ok(()), "{ok}");
        }
        for bad in [
            "/etc/passwd",
            "/var/dumps/app.json",
            "/var/dumps/other.oom.json",
            "/var/dumps/app-.heapprofile",
            "/var/dumps/sub/app.heapprofile",
        ] {
            assert!(
                matches!(
                    t.check_artifact(Path::new(bad)),
                    Err(TargetError::RefusedExport { .. })
                ),
                "{bad}"
            );
        }
        assert!(t.check(Path::new("/var/dumps/app.heapprofile")).is_err());
    }

    #[test]
    fn the_target_is_required_and_checked() {
        assert_eq!(Target::from_args([]), Err(TargetError::Missing));
        assert!(matches!(
            Target::from_args(["--dir", "rel", "--stem", "a"].map(OsString::from)),
            Err(TargetError::NotAbsolute(_))
        ));
        assert!(matches!(
            Target::from_args(["--dir", "/d", "--stem", "a/b"].map(OsString::from)),
            Err(TargetError::BadStem(_))
        ));
    }
}
