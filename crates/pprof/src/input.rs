//! Reading a V8 profile: at most [`MAX_INPUT_BYTES`] of JSON, whose kind is told by its content
//! (`head`: a sampling heap profile; `nodes`: a CPU profile), not by the file's extension.
//!
//! The heap profile's tree nests one JSON object per stack frame, deeper than serde_json's default
//! limit of 128 levels: it is read with that limit off and the stack grown on the heap as needed
//! (serde_stacker), into a flat list of nodes whose children are indices, so that neither
//! reading nor dropping it recurses on the thread's stack.

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::cpu::{CpuNode, CpuProfile};
use crate::heap::{HeapNode, HeapProfile, HeapSample};
use crate::Error;

/// The largest profile read: far above a sampling heap profile (kilobytes to a few megabytes) and
/// a CPU profile of an hour at Node's default 1 ms interval (about 100 MB).
pub const MAX_INPUT_BYTES: u64 = 512 << 20;

/// A V8 call frame, as both profiles write it: 0-based line and column, -1 when unknown.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallFrame {
    #[serde(default)]
    pub function_name: String,
    #[serde(default)]
    pub url: String,
    #[serde(default = "unknown")]
    pub line_number: i64,
    #[serde(default = "unknown")]
    pub column_number: i64,
}

fn unknown() -> i64 {
    -1
}

/// A profile read, by kind.
pub enum Parsed {
    Heap(HeapProfile),
    Cpu(CpuProfile),
}

/// Opens `path` for reading without waiting on a FIFO (the type is checked once it is open).
pub fn open(path: &Path) -> Result<File, Error> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })
}

/// Reads `file` (named `path`), a regular file, at most [`MAX_INPUT_BYTES`].
pub fn read_bounded(path: &Path, file: &File) -> Result<Vec<u8>, Error> {
    let read_err = |source| Error::Read {
        path: path.to_owned(),
        source,
    };
    let meta = file.metadata().map_err(read_err)?;
    if !meta.is_file() {
        return Err(read_err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        )));
    }
    let too_large = |bytes| Error::TooLarge {
        path: path.to_owned(),
        bytes,
        limit: MAX_INPUT_BYTES,
    };
    if meta.len() > MAX_INPUT_BYTES {
        return Err(too_large(meta.len()));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // The file may grow while it is read: never more than the limit, plus one byte to tell.
    file.take(MAX_INPUT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

/// Parses a profile of either kind.
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Parsed, Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    de.disable_recursion_limit();
    let json_err = |source: serde_json::Error| match source.classify() {
        serde_json::error::Category::Data => Error::Malformed {
            path: path.to_owned(),
            kind: "V8 profile",
            why: source.to_string(),
        },
        _ => Error::NotJson {
            path: path.to_owned(),
            source,
        },
    };
    let top = Top::deserialize(serde_stacker::Deserializer::new(&mut de)).map_err(json_err)?;
    de.end().map_err(json_err)?;
    let malformed = |kind| {
        move |why| Error::Malformed {
            path: path.to_owned(),
            kind,
            why,
        }
    };
    match top {
        Top { snapshot: true, .. } => Err(Error::HeapSnapshot {
            path: path.to_owned(),
        }),
        Top {
            head: Some(nodes), ..
        } => {
            let samples = match top.samples {
                None => None,
                Some(Samples::Empty) => Some(Vec::new()),
                Some(Samples::Heap(s)) => Some(s),
                Some(Samples::Cpu(_)) => {
                    return Err(malformed("heap profile")(
                        "its samples are node ids, as in a CPU profile".into(),
                    ))
                }
            };
            HeapProfile::new(nodes, samples, top.sampling_interval)
                .map(Parsed::Heap)
                .map_err(malformed("heap profile"))
        }
        Top {
            nodes: Some(nodes), ..
        } => {
            let samples = match top.samples {
                None => None,
                Some(Samples::Empty) => Some(Vec::new()),
                Some(Samples::Cpu(s)) => Some(s),
                Some(Samples::Heap(_)) => {
                    return Err(malformed("CPU profile")(
                        "its samples are objects, as in a heap profile".into(),
                    ))
                }
            };
            CpuProfile::new(
                nodes,
                samples,
                top.time_deltas,
                top.start_time,
                top.end_time,
            )
            .map(Parsed::Cpu)
            .map_err(malformed("CPU profile"))
        }
        _ => Err(Error::NotAProfile {
            path: path.to_owned(),
        }),
    }
}

/// The top-level object, fields of both kinds.
#[derive(Default)]
struct Top {
    /// The heap profile's tree, flattened; the root is the last node.
    head: Option<Vec<HeapNode>>,
    samples: Option<Samples>,
    sampling_interval: Option<u64>,
    nodes: Option<Vec<CpuNode>>,
    time_deltas: Option<Vec<i64>>,
    start_time: Option<f64>,
    end_time: Option<f64>,
    snapshot: bool,
}

enum Samples {
    Empty,
    Heap(Vec<HeapSample>),
    Cpu(Vec<u64>),
}

impl<'de> Deserialize<'de> for Top {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Top, D::Error> {
        d.deserialize_map(TopVisitor)
    }
}

struct TopVisitor;

impl<'de> Visitor<'de> for TopVisitor {
    type Value = Top;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a V8 profile (a JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Top, A::Error> {
        let mut top = Top::default();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "head" => {
                    let mut nodes = Vec::new();
                    map.next_value_seed(NodeSeed { arena: &mut nodes })?;
                    top.head = Some(nodes);
                }
                "samples" => top.samples = Some(map.next_value_seed(SamplesSeed)?),
                "samplingInterval" => top.sampling_interval = Some(map.next_value()?),
                // A heap snapshot has nodes too (numbers): it is not read.
                "snapshot" => {
                    map.next_value::<IgnoredAny>()?;
                    top.snapshot = true;
                }
                "nodes" if !top.snapshot => top.nodes = Some(map.next_value()?),
                "timeDeltas" => top.time_deltas = Some(map.next_value()?),
                "startTime" => top.start_time = Some(map.next_value()?),
                "endTime" => top.end_time = Some(map.next_value()?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(top)
    }
}

/// One heap profile node, its children first, into the arena; its index.
struct NodeSeed<'a> {
    arena: &'a mut Vec<HeapNode>,
}

impl<'de> DeserializeSeed<'de> for NodeSeed<'_> {
    type Value = usize;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<usize, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for NodeSeed<'_> {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a heap profile node (callFrame, selfSize, id, children)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<usize, A::Error> {
        let mut node = HeapNode::default();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "callFrame" => node.frame = map.next_value()?,
                "selfSize" => node.self_size = map.next_value()?,
                "id" => node.id = map.next_value()?,
                "children" => {
                    node.children = map.next_value_seed(ChildrenSeed {
                        arena: &mut *self.arena,
                    })?
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        self.arena.push(node);
        Ok(self.arena.len() - 1)
    }
}

struct ChildrenSeed<'a> {
    arena: &'a mut Vec<HeapNode>,
}

impl<'de> DeserializeSeed<'de> for ChildrenSeed<'_> {
    type Value = Vec<usize>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<usize>, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ChildrenSeed<'_> {
    type Value = Vec<usize>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of heap profile nodes")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<usize>, A::Error> {
        let mut children = Vec::new();
        while let Some(i) = seq.next_element_seed(NodeSeed {
            arena: &mut *self.arena,
        })? {
            children.push(i);
        }
        Ok(children)
    }
}

/// `samples`: node ids (CPU profile) or objects (heap profile), told by the first element.
struct SamplesSeed;

impl<'de> DeserializeSeed<'de> for SamplesSeed {
    type Value = Samples;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Samples, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for SamplesSeed {
    type Value = Samples;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of samples (node ids, or objects with size and nodeId)")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Samples, A::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum First {
            Cpu(u64),
            Heap(HeapSample),
        }
        match seq.next_element::<First>()? {
            // An empty array fits either kind; the other fields decide.
            None => Ok(Samples::Empty),
            Some(First::Cpu(id)) => {
                let mut ids = vec![id];
                while let Some(id) = seq.next_element()? {
                    ids.push(id);
                }
                Ok(Samples::Cpu(ids))
            }
            Some(First::Heap(s)) => {
                let mut all = vec![s];
                while let Some(s) = seq.next_element()? {
                    all.push(s);
                }
                Ok(Samples::Heap(all))
            }
        }
    }
}
