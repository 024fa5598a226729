//! A heap snapshot in flat columns, holding only what the analysis uses: per node its type, name,
//! id and self size, where its edges start; per edge its type, name (or index) and target node
//! (as a node number, not V8's offset into the node array); the strings in one buffer, without
//! the texts nothing reads (`string_table`); and the constructor locations. Field positions in V8's rows are found by name in `meta`, because they
//! differ across Node versions.

use serde_json::Value;

use crate::error::ParseError;
use crate::string_table::Strings;

/// The layout described by the snapshot's `meta`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    pub node_fields: Vec<String>,
    /// Names of the values of the node `type` field.
    pub node_types: Vec<String>,
    pub edge_fields: Vec<String>,
    /// Names of the values of the edge `type` field.
    pub edge_types: Vec<String>,
    pub node_type: usize,
    pub node_name: usize,
    pub node_id: usize,
    pub node_self_size: usize,
    pub node_edge_count: usize,
    /// Present since V8 9.x: 0 unknown, 1 attached, 2 detached (DOM and other embedder objects).
    pub node_detachedness: Option<usize>,
    pub edge_type: usize,
    pub edge_name_or_index: usize,
    pub edge_to_node: usize,
    /// Fields of a `locations` row (`object_index`, `script_id`, `line`, `column`); empty in
    /// snapshots older than V8 8.x, which have no locations.
    pub location_fields: Vec<String>,
}

impl Meta {
    /// Reads `meta` out of the snapshot's header object.
    pub fn from_header(header: &Value) -> Result<Meta, ParseError> {
        let meta = header
            .get("meta")
            .ok_or_else(|| ParseError::Meta("the header has no \"meta\"".into()))?;
        let names = |key: &str| -> Result<Vec<String>, ParseError> {
            meta.get(key)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|v| v.as_str().unwrap_or("").to_owned())
                        .collect()
                })
                .ok_or_else(|| ParseError::Meta(format!("meta has no {key:?} list")))
        };
        let node_fields = names("node_fields")?;
        let edge_fields = names("edge_fields")?;
        let find = |fields: &[String], kind: &str, name: &str| -> Result<usize, ParseError> {
            fields.iter().position(|f| f == name).ok_or_else(|| {
                ParseError::Meta(format!("{kind} fields {} have no {name:?}", listed(fields)))
            })
        };
        let type_names = |key: &str, at: usize| -> Result<Vec<String>, ParseError> {
            meta.get(key)
                .and_then(|t| t.get(at))
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|v| v.as_str().unwrap_or("").to_owned())
                        .collect()
                })
                .ok_or_else(|| ParseError::Meta(format!("meta.{key} has no list of type names")))
        };
        let location_fields = match meta.get("location_fields") {
            None => Vec::new(),
            Some(_) => names("location_fields")?,
        };
        if !location_fields.is_empty() {
            for name in ["object_index", "script_id", "line", "column"] {
                find(&location_fields, "location", name)?;
            }
        }
        let node_type = find(&node_fields, "node", "type")?;
        let edge_type = find(&edge_fields, "edge", "type")?;
        let edge_types = type_names("edge_types", edge_type)?;
        let node_types = type_names("node_types", node_type)?;
        // One node type is kept for nodes of a type meta does not name.
        for (kind, types, most) in [("node", &node_types, 255), ("edge", &edge_types, 256)] {
            if types.len() > most {
                return Err(ParseError::Meta(format!(
                    "{} {kind} types, at most {most} are supported",
                    types.len()
                )));
            }
        }
        Ok(Meta {
            node_types,
            edge_types,
            node_type,
            node_name: find(&node_fields, "node", "name")?,
            node_id: find(&node_fields, "node", "id")?,
            node_self_size: find(&node_fields, "node", "self_size")?,
            node_edge_count: find(&node_fields, "node", "edge_count")?,
            node_detachedness: node_fields.iter().position(|f| f == "detachedness"),
            edge_name_or_index: find(&edge_fields, "edge", "name_or_index")?,
            edge_to_node: find(&edge_fields, "edge", "to_node")?,
            edge_type,
            node_fields,
            edge_fields,
            location_fields,
        })
    }

    /// Position of a field of a `locations` row (only called once the fields are known to exist).
    pub fn location_field(&self, name: &str) -> usize {
        self.location_fields
            .iter()
            .position(|f| f == name)
            .unwrap_or(0)
    }

    /// True for edge types whose `name_or_index` is an index, not a string.
    pub fn edge_type_by_index(&self, t: u8) -> bool {
        matches!(
            self.edge_types.get(usize::from(t)).map(String::as_str),
            Some("element" | "hidden")
        )
    }
}

/// Where an object's constructor is defined, as the snapshot's `locations` section gives it
/// (`line` and `column` count from 0, as V8 writes them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Location {
    pub script_id: u32,
    pub line: u32,
    pub column: u32,
}

/// A whole snapshot, checked for consistency.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub meta: Meta,
    pub node_count: u32,
    pub edge_count: u32,
    pub node_type: Vec<u8>,
    pub node_name: Vec<u32>,
    pub node_id: Vec<u32>,
    pub node_self_size: Vec<u32>,
    /// The `detachedness` field (empty when the snapshot has none).
    pub node_detachedness: Vec<u8>,
    /// `first_edge[n]..first_edge[n + 1]` are the edges of node `n` (`node_count + 1` entries).
    pub first_edge: Vec<u32>,
    pub edge_type: Vec<u8>,
    /// A string index, or for `element` and `hidden` edges the index itself.
    pub edge_name_or_index: Vec<u32>,
    /// The node each edge points to, by node number.
    pub edge_to: Vec<u32>,
    pub strings: Strings,
    /// Constructor locations by node number, sorted by node.
    pub locations: Vec<(u32, Location)>,
    /// Native memory V8 attributes to the heap but not to any node (newer V8 only; else 0).
    pub extra_native_bytes: u64,
}

impl Snapshot {
    /// Address space the analysis takes at its peak besides the snapshot, counted high: per node
    /// the dominators' seven words, or after them the adjusted and retained sizes, classes,
    /// distances and the dominator tree; per edge the dominators' retainers and the bitset of the
    /// edges that count; and room for threads and the allocator. Measured as the smallest
    /// `ulimit -v` under which the analysis completes, less the address space in use at this check
    /// (README, Analyzer): 67 MB for the bench's snapshot (2.05 M nodes, 6.2 M edges; this counts
    /// 136 MB), 1.78 GB for the 4.17 GB file (40 M nodes, 107 M edges; this counts 2.26 GB).
    pub fn analysis_bytes(&self) -> u64 {
        u64::from(self.node_count) * 40 + u64::from(self.edge_count) * 6 + (16 << 20)
    }

    /// Fails with [`ParseError::Memory`] when the memory the analysis needs cannot be had now:
    /// reserving it (address space, not touched) is refused. The analysis allocates as it goes and
    /// an allocation failure there aborts the process, so this runs before it starts (under
    /// `ulimit -v`, or with less memory than the snapshot needs, the answer is an error, not
    /// SIGABRT).
    pub fn check_room_for_analysis(&self) -> Result<(), ParseError> {
        let need = self.analysis_bytes();
        let mut probe: Vec<u8> = Vec::new();
        probe
            .try_reserve_exact(usize::try_from(need).unwrap_or(usize::MAX))
            .map_err(|e| {
                ParseError::Memory(format!(
                    "the analysis needs about {} MB more: {e}",
                    need.div_ceil(1_000_000)
                ))
            })?;
        // Keep the reservation from being optimized away.
        std::hint::black_box(probe.as_ptr());
        Ok(())
    }

    /// Checks what could not be checked while reading (string references need the strings, which
    /// come last); the first problem found is the error.
    pub fn validate(&self) -> Result<(), ParseError> {
        let m = &self.meta;
        let bad = |s: String| Err(ParseError::Inconsistent(s));
        let n = self.node_count as usize;
        if self.node_type.len() != n {
            return bad(format!(
                "{} nodes in \"nodes\", the header says {n}",
                self.node_type.len()
            ));
        }
        let e = self.edge_count as usize;
        if self.edge_to.len() != e {
            return bad(format!(
                "{} edges in \"edges\", the header says {e}",
                self.edge_to.len()
            ));
        }
        if self.first_edge.last().copied().unwrap_or(0) as usize != e {
            return bad(format!(
                "nodes claim {} edges, the header says {e}",
                self.first_edge.last().copied().unwrap_or(0)
            ));
        }
        let strings = self.strings.len() as u64;
        if let Some(i) = self.node_name.iter().position(|&s| u64::from(s) >= strings) {
            return bad(format!(
                "node {i} names string {}, there are {strings}",
                self.node_name[i]
            ));
        }
        for (i, (&t, &name)) in self
            .edge_type
            .iter()
            .zip(&self.edge_name_or_index)
            .enumerate()
        {
            if !m.edge_type_by_index(t) && u64::from(name) >= strings {
                return bad(format!("edge {i} names string {name}, there are {strings}"));
            }
        }
        Ok(())
    }
}

/// Field names for a message, as `["a", "b"]`: at most 16 of them, each cut at 40 characters (a
/// hostile header's list can be as long as the header).
fn listed(fields: &[String]) -> String {
    const MOST: usize = 16;
    let cut = |f: &String| -> String {
        let short: String = f.chars().take(40).collect();
        if short.len() < f.len() {
            format!("{short:?}...")
        } else {
            format!("{short:?}")
        }
    };
    let mut parts: Vec<String> = fields.iter().take(MOST).map(cut).collect();
    if fields.len() > MOST {
        parts.push(format!("... {} in all", fields.len()));
    }
    format!("[{}]", parts.join(", "))
}
