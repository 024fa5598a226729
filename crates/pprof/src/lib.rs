//! V8's profiles as pprof: `.heapprofile` (sampling heap profile) and `.cpuprofile` (CPU profile)
//! converted to pprof's `profile.proto`, gzipped, for `go tool pprof`, Pyroscope, Grafana and the
//! other tools that read it. Used by `node-oom-heapdump convert` and, with the option `pprof`, by
//! the helper after an OOM.
//!
//! - [`input`]: reading a profile (bounded, its kind told by its content).
//! - [`heap`], [`cpu`]: each kind as a pprof profile; their docs say what the values are.
//! - [`encode`]: the profile.proto messages, the interning builder, gzip.
#![deny(clippy::all)]

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use oom_heapdump_capture::{AtomicFile, Landing};

pub mod cpu;
pub mod encode;
mod error;
pub mod heap;
pub mod input;

pub use error::Error;
pub use input::MAX_INPUT_BYTES;

/// Totals per sample type, as `("type/unit", total)`.
pub type Totals = Vec<(String, i64)>;

/// Which profile the input was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Heap,
    Cpu,
}

impl Kind {
    /// The ending of the default output's name: `<input stem>.heap.pb.gz` or `.cpu.pb.gz`.
    pub fn output_ext(self) -> &'static str {
        match self {
            Kind::Heap => ".heap.pb.gz",
            Kind::Cpu => ".cpu.pb.gz",
        }
    }
}

/// What a conversion wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub kind: Kind,
    pub output: PathBuf,
    /// Bytes of the gzipped file.
    pub bytes: u64,
    pub samples: usize,
    pub functions: usize,
    pub locations: usize,
    pub totals: Totals,
    /// What the pprof leaves out of the input, if anything.
    pub notes: Vec<String>,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        let totals: Vec<String> = self
            .totals
            .iter()
            .map(|(t, v)| format!("{t} {v}"))
            .collect();
        write!(
            f,
            "wrote {} ({} bytes, pprof of a {} profile): {} samples, {} functions, {} locations; totals {}",
            self.output.display(),
            self.bytes,
            match self.kind {
                Kind::Heap => "heap",
                Kind::Cpu => "CPU",
            },
            self.samples,
            self.functions,
            self.locations,
            totals.join(", ")
        )?;
        self.notes.iter().try_for_each(|n| write!(f, "; {n}"))
    }
}

/// Where the pprof of `input` goes by default: beside it, its extension replaced by
/// [`Kind::output_ext`] (`crash.heapprofile` → `crash.heap.pb.gz`).
pub fn default_output(input: &Path, kind: Kind) -> PathBuf {
    let name = input.file_name().unwrap_or_default().to_string_lossy();
    let stem = [".heapprofile", ".cpuprofile", ".json"]
        .iter()
        .find_map(|ext| name.strip_suffix(ext).filter(|s| !s.is_empty()))
        .unwrap_or(&name);
    input.with_file_name(format!("{stem}{}", kind.output_ext()))
}

/// Converts the profile at `input` and writes it to `output` (default: [`default_output`]),
/// atomically (mode 0600, temporary + fsync + rename), replacing a file of that name. Nothing is
/// written when the input is not a profile.
pub fn convert_file(input: &Path, output: Option<&Path>) -> Result<Summary, Error> {
    convert_opened(input, &input::open(input)?, output)
}

/// [`convert_file`] from `file`, open already (`input` names it): what is converted is what was
/// opened, whatever stands under the name by then.
pub fn convert_opened(input: &Path, file: &File, output: Option<&Path>) -> Result<Summary, Error> {
    let bytes = input::read_bounded(input, file)?;
    // The heap profile's time is when it was read from V8, which is when its file was written;
    // a CPU profile's is its file's time less its duration. Both in wall-clock nanoseconds.
    let written = file
        .metadata()
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as i64);
    let (kind, profile, totals, notes) = match input::parse(input, &bytes)? {
        input::Parsed::Heap(h) => {
            let (p, t) = h.to_pprof(written);
            (Kind::Heap, p, t, h.notes())
        }
        input::Parsed::Cpu(c) => {
            let start = if written > 0 {
                written - c.duration_nanos()
            } else {
                0
            };
            let (p, t) = c.to_pprof(start).map_err(|why| Error::Malformed {
                path: input.to_owned(),
                kind: "CPU profile",
                why,
            })?;
            (Kind::Cpu, p, t, Vec::new())
        }
    };
    drop(bytes);
    let output = output.map_or_else(|| default_output(input, kind), Path::to_owned);
    if same_file(input, &output) {
        return Err(Error::SameFile(output));
    }
    let gz = encode::gzipped(&profile);
    let write_err = |source| Error::Write {
        path: output.clone(),
        source,
    };
    let mut file = AtomicFile::create(&output).map_err(write_err)?;
    file.write_all(&gz).map_err(write_err)?;
    let output = file.commit(Landing::Replace).map_err(write_err)?;
    Ok(Summary {
        kind,
        output,
        bytes: gz.len() as u64,
        samples: profile.sample.len(),
        functions: profile.function.len(),
        locations: profile.location.len(),
        totals,
        notes,
    })
}

/// Whether `a` and `b` are the same file (by device and inode, when `b` exists).
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn tempdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ohd-pprof-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn default_names_sit_beside_the_input() {
        assert_eq!(
            default_output(Path::new("/d/crash.heapprofile"), Kind::Heap),
            Path::new("/d/crash.heap.pb.gz")
        );
        assert_eq!(
            default_output(Path::new("p.cpuprofile"), Kind::Cpu),
            Path::new("p.cpu.pb.gz")
        );
        assert_eq!(
            default_output(Path::new("/d/noext"), Kind::Cpu),
            Path::new("/d/noext.cpu.pb.gz")
        );
    }

    #[test]
    fn a_file_is_written_0600_and_decodes_to_its_summary_and_bad_input_writes_nothing() {
        let d = tempdir("file");
        // The kind is the content's: a CPU profile named .heapprofile is a CPU profile.
        let input = d.join("odd.heapprofile");
        std::fs::write(
            &input,
            r#"{"nodes":[{"id":1,"callFrame":{"functionName":"(root)"},"children":[2]},{"id":2,"callFrame":{"functionName":"work","url":"file:///w.js","lineNumber":2}}],"startTime":0,"endTime":3000,"samples":[2,2],"timeDeltas":[1000,1000]}"#,
        )
        .unwrap();
        let s = convert_file(&input, None).unwrap();
        assert_eq!(s.kind, Kind::Cpu);
        assert_eq!(s.output, d.join("odd.cpu.pb.gz"));
        let meta = std::fs::metadata(&s.output).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(meta.len(), s.bytes);
        let p = encode::decode(&std::fs::read(&s.output).unwrap()).unwrap();
        assert_eq!(p.sample.len(), s.samples);
        assert_eq!(p.sample[0].value, [2, 2_000_000]);
        assert!(p.time_nanos > 0);

        let bad = d.join("bad.cpuprofile");
        std::fs::write(&bad, b"{\"nodes\": [").unwrap();
        let err = convert_file(&bad, None).unwrap_err();
        assert!(matches!(err, Error::NotJson { .. }), "{err}");
        assert!(convert_file(&input, Some(&input)).is_err());
        let mut names: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["bad.cpuprofile", "odd.cpu.pb.gz", "odd.heapprofile"]
        );
        std::fs::remove_dir_all(&d).unwrap();
    }
}
