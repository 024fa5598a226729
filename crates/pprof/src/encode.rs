//! pprof's `profile.proto` (github.com/google/pprof, proto/profile.proto), the messages we write,
//! declared here with prost's derive rather than generated (no protoc at build time), and a
//! [`Builder`] that keeps its string table, functions and locations deduplicated. The output is
//! gzipped, as `go tool pprof` and Pyroscope expect of a `.pb.gz`.

use std::collections::HashMap;
use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;

/// `perftools.profiles.Profile`. Tags and types as in profile.proto; fields we never set
/// (`mapping`, `drop_frames`, `keep_frames`, `comment`) are declared all the same, so that a
/// decoded profile is checked against the whole schema.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Profile {
    #[prost(message, repeated, tag = "1")]
    pub sample_type: Vec<ValueType>,
    #[prost(message, repeated, tag = "2")]
    pub sample: Vec<Sample>,
    #[prost(message, repeated, tag = "3")]
    pub mapping: Vec<Mapping>,
    #[prost(message, repeated, tag = "4")]
    pub location: Vec<Location>,
    #[prost(message, repeated, tag = "5")]
    pub function: Vec<Function>,
    #[prost(string, repeated, tag = "6")]
    pub string_table: Vec<String>,
    #[prost(int64, tag = "7")]
    pub drop_frames: i64,
    #[prost(int64, tag = "8")]
    pub keep_frames: i64,
    #[prost(int64, tag = "9")]
    pub time_nanos: i64,
    #[prost(int64, tag = "10")]
    pub duration_nanos: i64,
    #[prost(message, optional, tag = "11")]
    pub period_type: Option<ValueType>,
    #[prost(int64, tag = "12")]
    pub period: i64,
    #[prost(int64, repeated, tag = "13")]
    pub comment: Vec<i64>,
    #[prost(int64, tag = "14")]
    pub default_sample_type: i64,
}

/// `perftools.profiles.ValueType`: indices into the string table.
#[derive(Clone, Copy, PartialEq, Eq, prost::Message)]
pub struct ValueType {
    #[prost(int64, tag = "1")]
    pub r#type: i64,
    #[prost(int64, tag = "2")]
    pub unit: i64,
}

/// `perftools.profiles.Sample`: the stack, leaf first, and one value per sample type.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Sample {
    #[prost(uint64, repeated, tag = "1")]
    pub location_id: Vec<u64>,
    #[prost(int64, repeated, tag = "2")]
    pub value: Vec<i64>,
    #[prost(message, repeated, tag = "3")]
    pub label: Vec<Label>,
}

/// `perftools.profiles.Label`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Label {
    #[prost(int64, tag = "1")]
    pub key: i64,
    #[prost(int64, tag = "2")]
    pub str: i64,
    #[prost(int64, tag = "3")]
    pub num: i64,
    #[prost(int64, tag = "4")]
    pub num_unit: i64,
}

/// `perftools.profiles.Mapping` (JavaScript has no binaries to map; never written).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Mapping {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(uint64, tag = "2")]
    pub memory_start: u64,
    #[prost(uint64, tag = "3")]
    pub memory_limit: u64,
    #[prost(uint64, tag = "4")]
    pub file_offset: u64,
    #[prost(int64, tag = "5")]
    pub filename: i64,
    #[prost(int64, tag = "6")]
    pub build_id: i64,
}

/// `perftools.profiles.Location`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Location {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(uint64, tag = "2")]
    pub mapping_id: u64,
    #[prost(uint64, tag = "3")]
    pub address: u64,
    #[prost(message, repeated, tag = "4")]
    pub line: Vec<Line>,
    #[prost(bool, tag = "5")]
    pub is_folded: bool,
}

/// `perftools.profiles.Line`: 1-based line and column.
#[derive(Clone, Copy, PartialEq, Eq, prost::Message)]
pub struct Line {
    #[prost(uint64, tag = "1")]
    pub function_id: u64,
    #[prost(int64, tag = "2")]
    pub line: i64,
    #[prost(int64, tag = "3")]
    pub column: i64,
}

/// `perftools.profiles.Function`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Function {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(int64, tag = "2")]
    pub name: i64,
    #[prost(int64, tag = "3")]
    pub system_name: i64,
    #[prost(int64, tag = "4")]
    pub filename: i64,
    #[prost(int64, tag = "5")]
    pub start_line: i64,
}

/// A JavaScript frame as V8 reports it: line and column 0-based, -1 when unknown.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Frame<'a> {
    pub function_name: &'a str,
    pub url: &'a str,
    pub line: i64,
    pub column: i64,
}

/// Builds a [`Profile`], interning strings, functions and locations.
pub struct Builder {
    profile: Profile,
    strings: HashMap<String, i64>,
    functions: HashMap<(i64, i64, i64), u64>,
    locations: HashMap<(u64, i64, i64), u64>,
}

impl Builder {
    /// A profile with these sample types (`(type, unit)`), the last one the default.
    pub fn new(sample_types: &[(&str, &str)]) -> Builder {
        let mut b = Builder {
            profile: Profile::default(),
            strings: HashMap::new(),
            functions: HashMap::new(),
            locations: HashMap::new(),
        };
        // The string table starts with "", as profile.proto requires.
        b.string("");
        b.profile.sample_type = sample_types
            .iter()
            .map(|(t, u)| b.value_type(t, u))
            .collect();
        b
    }

    /// The string table index of `s`.
    pub fn string(&mut self, s: &str) -> i64 {
        if let Some(&i) = self.strings.get(s) {
            return i;
        }
        let i = self.profile.string_table.len() as i64;
        self.profile.string_table.push(s.to_owned());
        self.strings.insert(s.to_owned(), i);
        i
    }

    fn value_type(&mut self, r#type: &str, unit: &str) -> ValueType {
        ValueType {
            r#type: self.string(r#type),
            unit: self.string(unit),
        }
    }

    /// The location id of `frame` (one per function and position); its function is one per name,
    /// file and start line. V8's 0-based line and column become pprof's 1-based ones (0: unknown).
    pub fn location(&mut self, frame: &Frame) -> u64 {
        let name = if frame.function_name.is_empty() {
            "(anonymous)"
        } else {
            frame.function_name
        };
        let line = one_based(frame.line);
        let column = one_based(frame.column);
        let name = self.string(name);
        let filename = self.string(frame.url);
        let next_function = self.profile.function.len() as u64 + 1;
        let function_id = *self
            .functions
            .entry((name, filename, line))
            .or_insert(next_function);
        if function_id == next_function {
            self.profile.function.push(Function {
                id: function_id,
                name,
                system_name: name,
                filename,
                start_line: line,
            });
        }
        let next_location = self.profile.location.len() as u64 + 1;
        let location_id = *self
            .locations
            .entry((function_id, line, column))
            .or_insert(next_location);
        if location_id == next_location {
            self.profile.location.push(Location {
                id: location_id,
                line: vec![Line {
                    function_id,
                    line,
                    column,
                }],
                ..Location::default()
            });
        }
        location_id
    }

    /// Adds a sample: its stack (location ids, leaf first) and one value per sample type.
    pub fn sample(&mut self, location_id: Vec<u64>, value: Vec<i64>) {
        debug_assert_eq!(value.len(), self.profile.sample_type.len());
        self.profile.sample.push(Sample {
            location_id,
            value,
            label: Vec::new(),
        });
    }

    /// Sets what one sampling period is (`period` of `type`/`unit`).
    pub fn period(&mut self, r#type: &str, unit: &str, period: i64) {
        self.profile.period_type = Some(self.value_type(r#type, unit));
        self.profile.period = period;
    }

    /// Sets when the profile was taken and how long it covers, in nanoseconds.
    pub fn time(&mut self, time_nanos: i64, duration_nanos: i64) {
        self.profile.time_nanos = time_nanos;
        self.profile.duration_nanos = duration_nanos;
    }

    /// Adds a comment line (`go tool pprof -comments` prints them).
    pub fn comment(&mut self, text: &str) {
        let i = self.string(text);
        self.profile.comment.push(i);
    }

    pub fn finish(mut self) -> Profile {
        self.profile.default_sample_type = self.profile.sample_type.last().map_or(0, |t| t.r#type);
        self.profile
    }
}

/// V8's 0-based position as pprof's 1-based one; 0 (unknown) for V8's -1.
fn one_based(v8: i64) -> i64 {
    if v8 < 0 {
        0
    } else {
        v8 + 1
    }
}

/// The profile encoded and gzipped.
pub fn gzipped(profile: &Profile) -> Vec<u8> {
    let encoded = prost::Message::encode_to_vec(profile);
    let mut gz = GzEncoder::new(
        Vec::with_capacity(encoded.len() / 4 + 64),
        Compression::default(),
    );
    gz.write_all(&encoded).expect("writing to memory");
    gz.finish().expect("writing to memory")
}

/// The profile in a `.pb.gz` (gzipped or not): for tests and checks.
pub fn decode(bytes: &[u8]) -> Result<Profile, std::io::Error> {
    let mut raw = Vec::new();
    if bytes.starts_with(&[0x1f, 0x8b]) {
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(bytes), &mut raw)?;
    } else {
        raw.extend_from_slice(bytes);
    }
    <Profile as prost::Message>::decode(raw.as_slice())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_functions_and_locations_are_interned_and_lines_become_one_based() {
        let mut b = Builder::new(&[("objects", "count"), ("space", "bytes")]);
        let f = Frame {
            function_name: "leak",
            url: "file:///app.js",
            line: 9,
            column: 2,
        };
        let a = b.location(&f);
        assert_eq!(b.location(&f.clone()), a);
        let other_column = b.location(&Frame {
            column: 7,
            ..f.clone()
        });
        assert_ne!(other_column, a);
        let anon = b.location(&Frame {
            function_name: "",
            url: "",
            line: -1,
            column: -1,
        });
        b.sample(vec![a, anon], vec![1, 100]);
        let p = b.finish();
        assert_eq!(p.string_table[0], "");
        let mut sorted = p.string_table.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), p.string_table.len(), "no string twice");
        assert_eq!(p.function.len(), 2, "leak once, (anonymous) once");
        assert_eq!(p.location.len(), 3);
        let line = p.location[0].line[0];
        assert_eq!((line.line, line.column), (10, 3));
        assert_eq!(p.function[0].start_line, 10);
        assert_eq!(p.string_table[p.function[1].name as usize], "(anonymous)");
        assert_eq!(p.location[2].line[0].line, 0, "unknown stays unknown");
        assert_eq!(
            p.string_table[p.default_sample_type as usize], "space",
            "the last type is the default"
        );
        let round = decode(&gzipped(&p)).unwrap();
        assert_eq!(round, p);
    }
}
