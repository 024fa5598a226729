//! The factory's options: checked here, once, into typed values. Pure Rust, so it is unit-tested
//! without Node; `install.rs` reads the JS object into [`Prop`]s and maps [`OptionError`] to JS.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

pub const SNAPSHOT_EXT: &str = ".heapsnapshot";
pub const DEFAULT_PORT: u16 = 9229;

/// A property of the JS options object, as far as validation cares.
#[derive(Debug, Clone, PartialEq)]
pub enum Prop {
    Undefined,
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    /// Any other JS type, by its `typeof` name.
    Other(&'static str),
}

impl Prop {
    /// How the value reads in an error message.
    pub fn describe(&self) -> String {
        match self {
            Prop::Undefined => "undefined".into(),
            Prop::Null => "null".into(),
            Prop::Bool(b) => b.to_string(),
            Prop::Number(n) => format_number(*n),
            Prop::String(s) => format!("{s:?}"),
            Prop::Other(kind) => format!("a value of type {kind}"),
        }
    }
}

fn format_number(n: f64) -> String {
    if n.is_infinite() {
        return if n > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// The options as the user gave them (missing ones are `Undefined`).
#[derive(Debug, Clone)]
pub struct RawOptions {
    pub heapdump_on_oom: Prop,
    pub oom_implementation: Prop,
    pub path: Prop,
    pub add_timestamp: Prop,
    pub port: Prop,
    pub threshold: Prop,
    pub limit: Prop,
    pub heap_profile: Prop,
    pub heap_profile_interval: Prop,
    pub force_snapshot: Prop,
    pub rss_threshold: Prop,
    pub analyze_on_oom: Prop,
}

/// What the process provides: where a default file goes, and which flag chose that folder.
#[derive(Debug, Clone)]
pub struct Defaults {
    pub dir: PathBuf,
    /// "--diagnostic-dir" when `dir` came from it; the working directory otherwise.
    pub dir_source: &'static str,
    pub pid: u32,
    pub cwd: PathBuf,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub heapdump_on_oom: bool,
    pub implementation: Implementation,
    pub target: SnapshotTarget,
    pub port: u16,
    /// GC_MONITORING: percent of the heap limit at which a snapshot is taken.
    pub threshold: f64,
    /// GC_MONITORING: at most this many snapshots.
    pub limit: u32,
    /// Bytes between samples of the sampling heap profiler; None when it is off.
    pub heap_profile_interval: Option<u64>,
    /// Take the OOM snapshot even when it is estimated not to fit in memory.
    pub force_snapshot: bool,
    /// Percent of the container's memory limit at which a report is written.
    pub rss_threshold: f64,
    /// Print what fills the heap (the analyzer's report) after an OOM snapshot is written.
    pub analyze_on_oom: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Implementation {
    NativeHook,
    GcMonitoring,
}

impl Implementation {
    pub fn name(self) -> &'static str {
        match self {
            Implementation::NativeHook => "NATIVE_HOOK",
            Implementation::GcMonitoring => "GC_MONITORING",
        }
    }
}

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

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OptionError {
    #[error("{name} must be {expected}, got {got}")]
    Type {
        name: &'static str,
        expected: &'static str,
        got: String,
    },
    #[error("option `OOMImplementation` must be \"NATIVE_HOOK\" or \"GC_MONITORING\", got {0}")]
    UnknownImplementation(String),
    #[error("{name} must be a number from 0 to 100, got {got}")]
    Percent { name: &'static str, got: String },
    #[error("{name} must be a positive integer, got {got}")]
    PositiveInteger { name: &'static str, got: String },
    #[error("option `port` must be an integer from 1 to 65535, got {0}")]
    Port(String),
    #[error("{name} must name a file, got {got}")]
    NotAFile { name: &'static str, got: String },
    #[error("{name}: folder {dir:?} does not exist")]
    NoFolder { name: &'static str, dir: PathBuf },
    #[error("{name}: {dir:?} is not a folder")]
    NotAFolder { name: &'static str, dir: PathBuf },
    #[error("{name}: folder {dir:?} is not writable")]
    NotWritable { name: &'static str, dir: PathBuf },
    #[error("argument `durationMs` must be a finite number of milliseconds greater than 0 and at most 3600000 (1 hour), got {0}")]
    Duration(String),
    #[error("option `samplingIntervalUs` must be an integer from 1 to 1000000, got {0}")]
    SamplingInterval(String),
}

impl Options {
    pub fn parse(raw: &RawOptions, defaults: &Defaults) -> Result<Options, OptionError> {
        let heapdump_on_oom = boolean("option `heapdumpOnOOM`", &raw.heapdump_on_oom, true)?;
        let add_timestamp = boolean("option `addTimestamp`", &raw.add_timestamp, false)?;
        let implementation = match &raw.oom_implementation {
            Prop::Undefined => Implementation::NativeHook,
            Prop::String(s) if s == "NATIVE_HOOK" => Implementation::NativeHook,
            Prop::String(s) if s == "GC_MONITORING" => Implementation::GcMonitoring,
            other => return Err(OptionError::UnknownImplementation(other.describe())),
        };
        let threshold = percent("option `threshold`", &raw.threshold, 70.0)?;
        let rss_threshold = percent("option `rssThreshold`", &raw.rss_threshold, 90.0)?;
        let limit = positive_integer("option `limit`", &raw.limit, 3)?;
        let heap_profile = boolean("option `heapProfile`", &raw.heap_profile, true)?;
        let interval = positive_integer(
            "option `heapProfileInterval`",
            &raw.heap_profile_interval,
            512 * 1024,
        )?;
        let force_snapshot = boolean("option `forceSnapshot`", &raw.force_snapshot, false)?;
        let analyze_on_oom = boolean("option `analyzeOnOOM`", &raw.analyze_on_oom, true)?;
        let port = match &raw.port {
            Prop::Undefined => DEFAULT_PORT,
            Prop::Number(n) if n.fract() == 0.0 && (1.0..=65535.0).contains(n) => *n as u16,
            other => return Err(OptionError::Port(other.describe())),
        };
        let default_name = format!("OoM-pid-{}", defaults.pid);
        let file = file_path(&raw.path, "option `path`", &default_name, defaults)?;
        let target = SnapshotTarget {
            dir: file.dir,
            stem: file.stem,
            add_timestamp,
        };
        Ok(Options {
            heapdump_on_oom,
            implementation,
            target,
            port,
            threshold,
            limit: u32::try_from(limit).unwrap_or(u32::MAX),
            heap_profile_interval: heap_profile.then_some(interval),
            force_snapshot,
            rss_threshold,
            analyze_on_oom,
        })
    }
}

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
/// or `<heapsnapshot|cpuprofile>-<ms since epoch>` in the default folder.
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
    let file = file_path_with_ext(
        path,
        "argument `path`",
        &default_name,
        defaults,
        kind.extension(),
    )?;
    Ok(file.dir.join(format!("{}{}", file.stem, kind.extension())))
}

/// A CPU profile's duration: finite, above 0, at most an hour.
pub fn cpu_profile_duration(ms: &Prop) -> Result<std::time::Duration, OptionError> {
    match ms {
        Prop::Undefined => Ok(std::time::Duration::from_millis(30_000)),
        Prop::Number(n) if n.is_finite() && *n > 0.0 && *n <= 3_600_000.0 => {
            Ok(std::time::Duration::from_secs_f64(n / 1000.0))
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

/// The snapshot `analyzeHeapSnapshot` reads: a non-empty path (whether it is a readable snapshot is
/// the analyzer's to say).
pub fn analysis_file(path: &Prop) -> Result<PathBuf, OptionError> {
    match path {
        Prop::String(p) if !p.is_empty() => Ok(PathBuf::from(p)),
        other => Err(OptionError::NotAFile {
            name: "argument `path`",
            got: other.describe(),
        }),
    }
}

/// How many classes `analyzeHeapSnapshot` returns (default 10).
pub fn analysis_top(top: &Prop) -> Result<usize, OptionError> {
    positive_integer("option `top`", top, 10).map(|n| usize::try_from(n).unwrap_or(usize::MAX))
}

/// A checked file location: an existing, writable folder and a file name without extension.
struct FilePath {
    dir: PathBuf,
    stem: String,
}

fn file_path(
    given: &Prop,
    name: &'static str,
    default_name: &str,
    defaults: &Defaults,
) -> Result<FilePath, OptionError> {
    file_path_with_ext(given, name, default_name, defaults, SNAPSHOT_EXT)
}

fn file_path_with_ext(
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

fn percent(name: &'static str, prop: &Prop, default: f64) -> Result<f64, OptionError> {
    match prop {
        Prop::Undefined => Ok(default),
        Prop::Number(n) if (0.0..=100.0).contains(n) => Ok(*n),
        other => Err(OptionError::Percent {
            name,
            got: other.describe(),
        }),
    }
}

fn positive_integer(name: &'static str, prop: &Prop, default: u64) -> Result<u64, OptionError> {
    match prop {
        Prop::Undefined => Ok(default),
        Prop::Number(n) if n.fract() == 0.0 && *n >= 1.0 && *n <= 9_007_199_254_740_991.0 => {
            Ok(*n as u64)
        }
        other => Err(OptionError::PositiveInteger {
            name,
            got: other.describe(),
        }),
    }
}

fn boolean(name: &'static str, prop: &Prop, default: bool) -> Result<bool, OptionError> {
    match prop {
        Prop::Undefined => Ok(default),
        Prop::Bool(b) => Ok(*b),
        other => Err(OptionError::Type {
            name,
            expected: "a boolean",
            got: other.describe(),
        }),
    }
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

/// `YYYYMMDDTHHMMSS.mmmZ` in UTC: sortable, and unique per millisecond.
pub fn utc_stamp(t: SystemTime) -> String {
    let (y, mo, d, h, mi, s, ms) = civil(t);
    format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}.{ms:03}Z")
}

/// ISO 8601 in UTC, as JS's `Date.prototype.toISOString` writes it.
pub fn iso_time(t: SystemTime) -> String {
    let (y, mo, d, h, mi, s, ms) = civil(t);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}Z")
}

/// Year, month, day, hour, minute, second and millisecond of `t` in UTC.
fn civil(t: SystemTime) -> (i64, i64, i64, u64, u64, u64, u32) {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        month,
        day,
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        d.subsec_millis(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn raw() -> RawOptions {
        RawOptions {
            heapdump_on_oom: Prop::Undefined,
            oom_implementation: Prop::Undefined,
            path: Prop::Undefined,
            add_timestamp: Prop::Undefined,
            port: Prop::Undefined,
            threshold: Prop::Undefined,
            limit: Prop::Undefined,
            heap_profile: Prop::Undefined,
            heap_profile_interval: Prop::Undefined,
            force_snapshot: Prop::Undefined,
            rss_threshold: Prop::Undefined,
            analyze_on_oom: Prop::Undefined,
        }
    }

    fn defaults() -> Defaults {
        let tmp = std::env::temp_dir().canonicalize().unwrap();
        Defaults {
            dir: tmp.clone(),
            dir_source: "--diagnostic-dir",
            pid: 42,
            cwd: tmp,
        }
    }

    fn err(raw: RawOptions) -> String {
        Options::parse(&raw, &defaults()).unwrap_err().to_string()
    }

    #[test]
    fn defaults_are_the_originals() {
        let o = Options::parse(&raw(), &defaults()).unwrap();
        assert!(o.heapdump_on_oom);
        assert_eq!(o.port, 9229);
        assert!(!o.target.add_timestamp);
        assert_eq!(
            o.target.final_path(SystemTime::now()),
            defaults().dir.join("OoM-pid-42.heapsnapshot")
        );
    }

    #[test]
    fn path_gets_extension_once_and_timestamp_when_asked() {
        let mut r = raw();
        r.path = Prop::String("crash.heapsnapshot".into());
        r.add_timestamp = Prop::Bool(true);
        let o = Options::parse(&r, &defaults()).unwrap();
        let t = UNIX_EPOCH + Duration::from_millis(1_763_740_800_123);
        assert_eq!(
            o.target.final_path(t),
            defaults()
                .cwd
                .join("crash-20251121T160000.123Z.heapsnapshot")
        );
    }

    #[test]
    fn bad_values_name_the_option_and_the_value() {
        let mut r = raw();
        r.oom_implementation = Prop::String("FOO".into());
        assert_eq!(
            err(r),
            "option `OOMImplementation` must be \"NATIVE_HOOK\" or \"GC_MONITORING\", got \"FOO\""
        );
        let mut r = raw();
        r.path = Prop::Number(12.0);
        assert_eq!(err(r), "option `path` must be a string, got 12");
        let mut r = raw();
        r.heapdump_on_oom = Prop::String("yes".into());
        assert_eq!(
            err(r),
            "option `heapdumpOnOOM` must be a boolean, got \"yes\""
        );
        let mut r = raw();
        r.add_timestamp = Prop::Number(1.0);
        assert_eq!(err(r), "option `addTimestamp` must be a boolean, got 1");
        for bad in [Prop::Number(0.0), Prop::Number(65536.0), Prop::Number(80.5)] {
            let mut r = raw();
            r.port = bad.clone();
            assert_eq!(
                err(r),
                format!(
                    "option `port` must be an integer from 1 to 65535, got {}",
                    bad.describe()
                )
            );
        }
        let mut r = raw();
        r.port = Prop::String("9229".into());
        assert!(err(r).contains("got \"9229\""));
    }

    #[test]
    fn missing_or_unusable_folders_are_rejected() {
        let mut r = raw();
        r.path = Prop::String("/no/such/folder/x".into());
        assert_eq!(
            err(r),
            "option `path`: folder \"/no/such/folder\" does not exist"
        );
        let mut r = raw();
        r.path = Prop::String("/etc/hostname/x".into());
        assert_eq!(err(r), "option `path`: \"/etc/hostname\" is not a folder");
        let mut r = raw();
        r.path = Prop::String("".into());
        assert_eq!(err(r), "option `path` must name a file, got \"\"");
    }

    #[test]
    fn gc_monitoring_options() {
        let mut r = raw();
        r.oom_implementation = Prop::String("GC_MONITORING".into());
        r.threshold = Prop::Number(80.0);
        r.limit = Prop::Number(2.0);
        r.heap_profile = Prop::Bool(false);
        let o = Options::parse(&r, &defaults()).unwrap();
        assert_eq!(o.implementation, Implementation::GcMonitoring);
        assert_eq!(
            (o.threshold, o.limit, o.heap_profile_interval),
            (80.0, 2, None)
        );
        let d = Options::parse(&raw(), &defaults()).unwrap();
        assert_eq!(
            (
                d.threshold,
                d.limit,
                d.heap_profile_interval,
                d.rss_threshold
            ),
            (70.0, 3, Some(524_288), 90.0)
        );
        for (set, message) in [
            (
                ("threshold", Prop::Number(101.0)),
                "option `threshold` must be a number from 0 to 100, got 101",
            ),
            (
                ("threshold", Prop::Number(-1.0)),
                "option `threshold` must be a number from 0 to 100, got -1",
            ),
            (
                ("rssThreshold", Prop::String("90".into())),
                "option `rssThreshold` must be a number from 0 to 100, got \"90\"",
            ),
            (
                ("limit", Prop::Number(0.0)),
                "option `limit` must be a positive integer, got 0",
            ),
            (
                ("limit", Prop::Number(1.5)),
                "option `limit` must be a positive integer, got 1.5",
            ),
            (
                ("heapProfileInterval", Prop::Number(-512.0)),
                "option `heapProfileInterval` must be a positive integer, got -512",
            ),
            (
                ("heapProfile", Prop::Number(1.0)),
                "option `heapProfile` must be a boolean, got 1",
            ),
            (
                ("forceSnapshot", Prop::Null),
                "option `forceSnapshot` must be a boolean, got null",
            ),
        ] {
            let mut r = raw();
            let (name, value) = set;
            match name {
                "threshold" => r.threshold = value,
                "rssThreshold" => r.rss_threshold = value,
                "limit" => r.limit = value,
                "heapProfileInterval" => r.heap_profile_interval = value,
                "heapProfile" => r.heap_profile = value,
                _ => r.force_snapshot = value,
            }
            assert_eq!(err(r), message);
        }
    }

    #[test]
    fn stamp_is_utc_civil_time() {
        assert_eq!(utc_stamp(UNIX_EPOCH), "19700101T000000.000Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400 + 3_723); // 2000-02-29 01:02:03
        assert_eq!(utc_stamp(leap), "20000229T010203.000Z");
        assert_eq!(iso_time(leap), "2000-02-29T01:02:03.000Z");
    }
}
