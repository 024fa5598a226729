//! The arguments of on-request captures (`createHeapSnapshot`, `createCpuProfile`) and of
//! `analyzeHeapSnapshot`: checked per call, with the same kind of errors as the factory's options.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::paths::{capture_files, file_path, path_text};
use super::values::{positive_integer, Text};
use super::{OptionError, Prop, SNAPSHOT_EXT};
use crate::options::Defaults;

/// What an on-request capture writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureKind {
    HeapSnapshot,
    CpuProfile,
}

impl CaptureKind {
    pub fn extension(self) -> &'static str {
        match self {
            CaptureKind::HeapSnapshot => SNAPSHOT_EXT,
            CaptureKind::CpuProfile => ".cpuprofile",
        }
    }
}

/// The file an on-request capture goes to: `path` with the kind's extension appended when missing,
/// or `<heapsnapshot|cpuprofile>-<ms since epoch>` in the default folder; the folder is checked now,
/// when the capture is asked for.
pub fn capture_path(
    path: &Prop,
    kind: CaptureKind,
    defaults: &Defaults,
    now: SystemTime,
) -> Result<PathBuf, OptionError> {
    let ms = now
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    let default_name = format!("{}-{ms}", &kind.extension()[1..]);
    // `""` and `null` are the default name, as in the original.
    let path = &Text::String.lenient(path.clone());
    let file = file_path(
        path,
        "argument `path`",
        &default_name,
        defaults,
        kind.extension(),
    )?;
    let written = capture_files(&file.stem, kind.extension());
    let file = file.writable(&written)?;
    Ok(file.dir.join(format!("{}{}", file.stem, kind.extension())))
}

/// A CPU profile's duration: finite, above 0, at most an hour; a string holding a number and
/// `null` are taken as the original took them ([`Text::lenient`]).
pub fn cpu_profile_duration(ms: &Prop) -> Result<Duration, OptionError> {
    match &Text::Number.lenient(ms.clone()) {
        Prop::Undefined => Ok(Duration::from_millis(30_000)),
        Prop::Number(n) if n.is_finite() && *n > 0.0 && *n <= 3_600_000.0 => {
            Ok(Duration::from_secs_f64(n / 1000.0))
        }
        other => Err(OptionError::Duration(other.describe())),
    }
}

/// A CPU profile's sampling interval in microseconds (V8's default is 1000).
pub fn sampling_interval_us(us: &Prop) -> Result<u32, OptionError> {
    match us {
        Prop::Undefined => Ok(1000),
        Prop::Number(n) if n.fract() == 0.0 && (1.0..=1_000_000.0).contains(n) => Ok(*n as u32),
        other => Err(OptionError::SamplingInterval(other.describe())),
    }
}

/// The snapshot `analyzeHeapSnapshot` reads: a non-empty path that a file name can hold (whether
/// it is a readable snapshot is the analyzer's to say).
pub fn analysis_file(path: &Prop) -> Result<PathBuf, OptionError> {
    let name = "argument `path`";
    match path_text(path, name) {
        Ok(Some(p)) => Ok(PathBuf::from(p)),
        Ok(None) | Err(OptionError::Type { .. }) => Err(OptionError::NotAFile {
            name,
            got: path.describe(),
        }),
        Err(e) => Err(e),
    }
}

/// How many classes `analyzeHeapSnapshot` returns (default 10).
pub fn analysis_top(top: &Prop) -> Result<usize, OptionError> {
    positive_integer("option `top`", top, 10).map(|n| usize::try_from(n).unwrap_or(usize::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The temporary folder as the default folder, and a fixed time.
    fn tmp_defaults() -> (PathBuf, Defaults, SystemTime) {
        let tmp = std::env::temp_dir().canonicalize().unwrap();
        let defaults = Defaults {
            dir: tmp.clone(),
            dir_source: "the working directory",
            pid: 1,
            cwd: tmp.clone(),
        };
        (tmp, defaults, UNIX_EPOCH + Duration::from_millis(1234))
    }

    #[test]
    fn a_duration_or_a_path_is_taken_as_the_original_took_it() {
        let ms = |p: Prop| cpu_profile_duration(&p).map_err(|e| e.to_string());
        assert_eq!(
            ms(Prop::String("500".into())),
            Ok(Duration::from_millis(500))
        );
        assert_eq!(ms(Prop::Null), Ok(Duration::from_millis(30_000)));
        assert!(ms(Prop::String("500ms".into())).is_err());
        let (tmp, defaults, now) = tmp_defaults();
        let p = capture_path(
            &Prop::String(String::new()),
            CaptureKind::CpuProfile,
            &defaults,
            now,
        );
        assert_eq!(p.unwrap(), tmp.join("cpuprofile-1234.cpuprofile"));
    }

    #[test]
    fn bad_arguments_name_the_argument_and_the_value() {
        let (tmp, defaults, now) = tmp_defaults();
        assert_eq!(
            capture_path(&Prop::Undefined, CaptureKind::CpuProfile, &defaults, now),
            Ok(tmp.join("cpuprofile-1234.cpuprofile"))
        );
        let e = capture_path(
            &Prop::Number(1.0),
            CaptureKind::HeapSnapshot,
            &defaults,
            now,
        );
        assert_eq!(
            e.unwrap_err().to_string(),
            "argument `path` must be a string, got 1"
        );
        assert_eq!(
            cpu_profile_duration(&Prop::Number(0.0)).unwrap_err().to_string(),
            "argument `durationMs` must be a finite number of milliseconds greater than 0 and at most 3600000 (1 hour), got 0"
        );
        assert_eq!(
            sampling_interval_us(&Prop::Number(0.5))
                .unwrap_err()
                .to_string(),
            "option `samplingIntervalUs` must be an integer from 1 to 1000000, got 0.5"
        );
        assert_eq!(
            analysis_file(&Prop::String("".into()))
                .unwrap_err()
                .to_string(),
            "argument `path` must name a file, got \"\""
        );
        assert_eq!(
            analysis_top(&Prop::Number(0.0)).unwrap_err().to_string(),
            "option `top` must be a positive integer, got 0"
        );
        assert_eq!(analysis_top(&Prop::Undefined), Ok(10));
    }
}
