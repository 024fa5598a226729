//! The factory's options and the captures' arguments, checked once into typed values. Pure Rust, so
//! it is unit-tested without Node; src/napi/ reads JS values into [`Prop`]s and maps [`OptionError`]
//! to JS errors.
//!
//! - `defs.rs`: every factory option, declared once (name, environment variable, kind, default,
//!   doc); `declare.rs` turns that table into [`Options`], its parser and [`OPTIONS`].
//! - `values.rs`: the kinds of values and their checks; `paths.rs`: files and folders.
//! - `env.rs`: the same options from `NODE_OOM_HEAPDUMP_*` environment variables.
//! - `args.rs`: the arguments of on-request captures and of `analyzeHeapSnapshot`.
//! - `time.rs`: timestamps in file names and reports.
//! - `docs.rs` (tests only): README's table and index.d.ts kept in step with the table.

use std::path::PathBuf;

mod args;
mod declare;
mod defs;
#[cfg(test)]
mod docs;
mod env;
mod paths;
mod time;
mod values;

pub use args::{
    analysis_file, analysis_top, capture_path, cpu_profile_duration, sampling_interval_us,
    CaptureKind,
};
pub use declare::{Declared, RawOptions};
pub use defs::{Options, DEFAULT_PORT, OPTIONS};
pub use paths::{SnapshotTarget, SNAPSHOT_EXT};
pub use time::iso_time;
pub use values::{Implementation, Reported};

/// A value as JS gave it (or as an environment variable's text reads), as far as checks care.
#[derive(Debug, Clone, PartialEq)]
pub enum Prop {
    Undefined,
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    /// A JS string with lone surrogates (UTF-16 code units U+D800..U+DFFF that pair with nothing),
    /// which no UTF-8 text holds: its code units.
    IllFormed(Vec<u16>),
    /// A JS array, element by element.
    List(Vec<Prop>),
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
            Prop::IllFormed(units) => {
                let shown: String = char::decode_utf16(units.iter().copied())
                    .map(|c| match c {
                        Ok(c) => c.escape_debug().to_string(),
                        Err(e) => format!("\\u{{{:x}}}", e.unpaired_surrogate()),
                    })
                    .collect();
                format!("\"{shown}\"")
            }
            Prop::List(items) => {
                let shown: Vec<String> = items.iter().map(Prop::describe).collect();
                format!("[{}]", shown.join(", "))
            }
            Prop::Other(kind) => format!("a value of type {kind}"),
        }
    }
}

impl Prop {
    /// A JS string from its UTF-16 code units: `String`, or `IllFormed` when it holds lone
    /// surrogates (napi's UTF-8 reading would have turned them into U+FFFD without a word).
    pub fn from_utf16(units: Vec<u16>) -> Prop {
        match String::from_utf16(&units) {
            Ok(s) => Prop::String(s),
            Err(_) => Prop::IllFormed(units),
        }
    }
}

/// A number as JS prints it (`1`, not `1.0`).
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

/// What the process provides: where a default file goes, and which flag chose that folder.
#[derive(Debug, Clone)]
pub struct Defaults {
    pub dir: PathBuf,
    /// "--diagnostic-dir" when `dir` came from it; the working directory otherwise.
    pub dir_source: &'static str,
    pub pid: u32,
    pub cwd: PathBuf,
}

/// A bad option or argument. `name` is how the user wrote it: "option `path`", "argument `path`",
/// or an environment variable's name.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OptionError {
    #[error("{name} must be {expected}, got {got}")]
    Type {
        name: &'static str,
        expected: &'static str,
        got: String,
    },
    #[error("{name} must be {choices}, got {got}")]
    NotOneOf {
        name: &'static str,
        /// `"A" or "B"`.
        choices: String,
        got: String,
    },
    #[error("{name} must be s3://bucket/prefix: {why}, got {got}")]
    Upload {
        name: &'static str,
        got: String,
        why: String,
    },
    #[error("{name} must be a number from 0 to 100, got {got}")]
    Percent { name: &'static str, got: String },
    #[error("{name} must be a positive integer, got {got}")]
    PositiveInteger { name: &'static str, got: String },
    #[error("{name} must be an integer from 1 to 65535, got {got}")]
    Port { name: &'static str, got: String },
    #[error("{name} must name a file, got {got}")]
    NotAFile { name: &'static str, got: String },
    #[error("{name}: folder {dir:?} does not exist")]
    NoFolder { name: &'static str, dir: PathBuf },
    #[error("{name}: {dir:?} is not a folder")]
    NotAFolder { name: &'static str, dir: PathBuf },
    #[error("{name}: folder {dir:?} is not writable")]
    NotWritable { name: &'static str, dir: PathBuf },
    #[error("{name} not given, and its default folder {dir:?} ({from}) is not writable; give a path in a writable folder")]
    DefaultNotWritable {
        name: &'static str,
        dir: PathBuf,
        /// "the working directory" or "--diagnostic-dir".
        from: &'static str,
    },
    #[error("{name}: folder {dir:?} cannot be used: {error}")]
    FolderUnusable {
        name: &'static str,
        dir: PathBuf,
        error: String,
    },
    #[error("{name} contains a NUL byte, which no file name can hold, got {got}")]
    Nul { name: &'static str, got: String },
    #[error(
        "{name} contains a lone surrogate (U+D800..U+DFFF), which no file name can hold, got {got}"
    )]
    LoneSurrogate { name: &'static str, got: String },
    #[error("{name}: folder {dir:?} is longer than PATH_MAX (4096 bytes)")]
    FolderTooLong { name: &'static str, dir: PathBuf },
    #[error("{name}: file name {file:?} is too long: {what} is {bytes} bytes, over NAME_MAX (255 bytes)")]
    NameTooLong {
        name: &'static str,
        /// The final name, as the user asked for it.
        file: String,
        /// Which of the files we write for it is the longest: "its temporary file".
        what: &'static str,
        bytes: usize,
    },
    #[error("{name}: {what} {path:?} would be {bytes} bytes long, longer than PATH_MAX (4096 bytes, the final NUL included)")]
    PathTooLong {
        name: &'static str,
        what: &'static str,
        path: PathBuf,
        bytes: usize,
    },
    #[error(
        "{name} must be a non-empty array of strings (the command, then its arguments), got {got}"
    )]
    Command { name: &'static str, got: String },
    #[error("{name} must be a non-empty array of strings without NUL bytes or lone surrogates, got {got}")]
    CommandText { name: &'static str, got: String },
    #[error("argument `durationMs` must be a finite number of milliseconds greater than 0 and at most 3600000 (1 hour), got {0}")]
    Duration(String),
    #[error("option `samplingIntervalUs` must be an integer from 1 to 1000000, got {0}")]
    SamplingInterval(String),
    #[error("option `transport` \"devtools\" reaches an inspector on loopback only, and this process's listens on {0} (use \"in-process\", or --inspect=127.0.0.1:<port>)")]
    InspectorNotOnLoopback(String),
}

impl OptionError {
    /// About the state of a folder now (missing, not writable), which may differ where and when
    /// the file is written (a volume mounted later, another environment), not about the value.
    pub fn is_folder_state(&self) -> bool {
        matches!(
            self,
            OptionError::NoFolder { .. }
                | OptionError::NotAFolder { .. }
                | OptionError::NotWritable { .. }
                | OptionError::DefaultNotWritable { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    fn raw() -> RawOptions {
        RawOptions::unset()
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
        assert!(!o.target().add_timestamp);
        assert_eq!(
            o.target().final_path(SystemTime::now()),
            defaults().dir.join("OoM-pid-42.heapsnapshot")
        );
    }

    #[test]
    fn path_gets_extension_once_and_timestamp_when_asked() {
        let mut r = raw();
        r.set("path", Prop::String("crash.heapsnapshot".into()));
        r.set("addTimestamp", Prop::Bool(true));
        let o = Options::parse(&r, &defaults()).unwrap();
        let t = UNIX_EPOCH + Duration::from_millis(1_763_740_800_123);
        assert_eq!(
            o.target().final_path(t),
            defaults()
                .cwd
                .join("crash-20251121T160000.123Z.heapsnapshot")
        );
    }

    #[test]
    fn bad_values_name_the_option_and_the_value() {
        let mut r = raw();
        r.set("OOMImplementation", Prop::String("FOO".into()));
        assert_eq!(
            err(r),
            "option `OOMImplementation` must be \"NATIVE_HOOK\" or \"GC_MONITORING\", got \"FOO\""
        );
        let mut r = raw();
        r.set("path", Prop::Number(12.0));
        assert_eq!(err(r), "option `path` must be a string, got 12");
        let mut r = raw();
        r.set("heapdumpOnOOM", Prop::String("yes".into()));
        assert_eq!(
            err(r),
            "option `heapdumpOnOOM` must be a boolean, got \"yes\""
        );
        let mut r = raw();
        r.set("addTimestamp", Prop::Number(1.0));
        assert_eq!(err(r), "option `addTimestamp` must be a boolean, got 1");
        for bad in [Prop::Number(0.0), Prop::Number(65536.0), Prop::Number(80.5)] {
            let mut r = raw();
            r.set("port", bad.clone());
            assert_eq!(
                err(r),
                format!(
                    "option `port` must be an integer from 1 to 65535, got {}",
                    bad.describe()
                )
            );
        }
        let mut r = raw();
        r.set("port", Prop::String("9229".into()));
        assert!(err(r).contains("got \"9229\""));
    }

    #[test]
    fn missing_or_unusable_folders_are_let_pass_and_said() {
        // The OOM path writes when the process dies: the folder may be there by then.
        let unusable = |path: &str| {
            let mut r = raw();
            r.set("path", Prop::String(path.into()));
            Options::parse(&r, &defaults())
                .unwrap()
                .path
                .unusable
                .map(|u| u.why)
        };
        assert_eq!(
            unusable("/no/such/folder/x").as_deref(),
            Some("option `path`: folder \"/no/such/folder\" does not exist")
        );
        assert_eq!(
            unusable("/etc/hostname/x").as_deref(),
            Some("option `path`: \"/etc/hostname\" is not a folder")
        );
        assert_eq!(unusable("crash"), None);
        // What the value itself gets wrong is an error all the same.
        let mut r = raw();
        r.set(
            "path",
            Prop::String(format!("/no/such/folder/{}", "x".repeat(300))),
        );
        assert!(err(r).contains("255"), "a name too long for any folder");
        let mut r = raw();
        r.set("path", Prop::String("".into()));
        assert_eq!(err(r), "option `path` must name a file, got \"\"");
    }

    #[test]
    fn without_heapdump_on_oom_nothing_on_disk_is_checked() {
        let mut r = raw();
        r.set("heapdumpOnOOM", Prop::Bool(false));
        r.set("path", Prop::String("/no/such/folder/x".into()));
        let o = Options::parse(&r, &defaults()).unwrap();
        assert_eq!(o.path.dir, PathBuf::from("/no/such/folder"));
        // What no file name can hold is still refused.
        r.set("path", Prop::String("a\0b".into()));
        assert!(err(r).contains("contains a NUL byte"));
    }

    #[test]
    fn gc_monitoring_options() {
        let mut r = raw();
        r.set("OOMImplementation", Prop::String("GC_MONITORING".into()));
        r.set("threshold", Prop::Number(80.0));
        r.set("limit", Prop::Number(2.0));
        r.set("heapProfile", Prop::Bool(false));
        let o = Options::parse(&r, &defaults()).unwrap();
        assert_eq!(o.oom_implementation, Implementation::GcMonitoring);
        assert_eq!(
            (o.threshold, o.limit, o.heap_profile_sampling()),
            (80.0, 2, None)
        );
        let d = Options::parse(&raw(), &defaults()).unwrap();
        assert_eq!(
            (
                d.threshold,
                d.limit,
                d.heap_profile_sampling(),
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
            r.set(name, value);
            assert_eq!(err(r), message);
        }
    }

    #[test]
    fn the_report_to_js_is_the_installed_shape() {
        let mut r = raw();
        r.set("path", Prop::String("crash".into()));
        r.set("port", Prop::Number(9333.0));
        let o = Options::parse(&r, &defaults()).unwrap();
        let file = defaults().cwd.join("crash.heapsnapshot");
        assert_eq!(
            o.report(),
            vec![
                ("heapdumpOnOOM", Reported::Bool(true)),
                ("OOMImplementation", Reported::String("NATIVE_HOOK".into())),
                (
                    "path",
                    Reported::String(file.to_string_lossy().into_owned())
                ),
                ("addTimestamp", Reported::Bool(false)),
                ("port", Reported::Number(9333.0)),
                ("threshold", Reported::Number(70.0)),
                ("limit", Reported::Number(3.0)),
                ("heapProfileInterval", Reported::Number(524_288.0)),
                ("forceSnapshot", Reported::Bool(false)),
                ("rssThreshold", Reported::Number(90.0)),
                ("analyzeOnOOM", Reported::Bool(true)),
                ("pprof", Reported::Bool(false)),
                ("exportTimeoutMs", Reported::Number(300_000.0)),
                ("uploadCompression", Reported::String("none".into())),
            ]
        );
        r.set("heapProfile", Prop::Bool(false));
        let o = Options::parse(&r, &defaults()).unwrap();
        assert!(o.report().iter().all(|(n, _)| *n != "heapProfileInterval"));
        r.set(
            "exportCommand",
            Prop::List(vec![Prop::String("/bin/true".into())]),
        );
        let o = Options::parse(&r, &defaults()).unwrap();
        assert!(o
            .report()
            .contains(&("exportCommand", Reported::List(vec!["/bin/true".into()]))));
        r.set("upload", Prop::String("s3://dumps/prod/".into()));
        r.set("uploadCompression", Prop::String("gzip".into()));
        let o = Options::parse(&r, &defaults()).unwrap();
        let report = o.report();
        assert!(report.contains(&("upload", Reported::String("s3://dumps/prod".into()))));
        assert!(report.contains(&("uploadCompression", Reported::String("gzip".into()))));
    }

    #[test]
    fn a_bad_upload_url_names_the_option() {
        for (set, message) in [
            (
                ("upload", Prop::String("https://dumps/x".into())),
                r#"option `upload` must be s3://bucket/prefix: must start with s3://, got "https://dumps/x""#,
            ),
            (
                ("upload", Prop::String("s3://Dumps".into())),
                r#"option `upload` must be s3://bucket/prefix: bucket name "Dumps" is not a valid S3 bucket name (3 to 63 of a-z, 0-9, '.', '-', starting and ending with a letter or digit), got "s3://Dumps""#,
            ),
            (
                ("upload", Prop::Bool(true)),
                "option `upload` must be a string s3://bucket/prefix, got true",
            ),
            (
                ("uploadCompression", Prop::String("zstd".into())),
                r#"option `uploadCompression` must be "none" or "gzip", got "zstd""#,
            ),
        ] {
            let mut r = raw();
            let (name, value) = set;
            r.set(name, value);
            assert_eq!(err(r), message);
        }
    }
}
