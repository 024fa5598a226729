//! A heap snapshot in flat columns: `nodes` and `edges` exactly as V8 lays them out (a row of
//! `node_fields.len()` numbers per node, `edge_fields.len()` per edge), `strings` decoded, and the
//! positions of the fields we use, found by name in `meta`.

use serde_json::Value;

use crate::error::ParseError;

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
    /// Present since V8 9.x; absent in older snapshots.
    pub node_detachedness: Option<usize>,
    pub edge_type: usize,
    pub edge_name_or_index: usize,
    pub edge_to_node: usize,
    /// Fields of a `locations` row (`object_index`, `script_id`, `line`, `column`); empty in
    /// snapshots older than V8 8.x, which have no locations.
    pub location_fields: Vec<String>,
}

impl Meta {
    /// Position of a field of a `locations` row (only called once the fields are known to exist).
    pub fn location_field(&self, name: &str) -> usize {
        self.location_fields
            .iter()
            .position(|f| f == name)
            .unwrap_or(0)
    }

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
                ParseError::Meta(format!("{kind} fields {fields:?} have no {name:?}"))
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
        for name in ["object_index", "script_id", "line", "column"] {
            if !location_fields.is_empty() {
                find(&location_fields, "location", name)?;
            }
        }
        let node_type = find(&node_fields, "node", "type")?;
        let edge_type = find(&edge_fields, "edge", "type")?;
        Ok(Meta {
            node_types: type_names("node_types", node_type)?,
            edge_types: type_names("edge_types", edge_type)?,
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
}

/// A whole snapshot, checked for consistency.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub meta: Meta,
    pub node_count: u32,
    pub edge_count: u32,
    pub nodes: Vec<u32>,
    pub edges: Vec<u32>,
    pub strings: Vec<String>,
    /// The `locations` rows, `meta.location_fields.len()` numbers each (empty when absent).
    pub locations: Vec<u32>,
    /// Native memory V8 attributes to the heap but not to any node (newer V8 only; else 0).
    pub extra_native_bytes: u64,
}

impl Snapshot {
    /// Checks counts, edge targets and string references; the first problem found is the error.
    pub fn validate(&self) -> Result<(), ParseError> {
        let m = &self.meta;
        let (nf, ef) = (m.node_fields.len(), m.edge_fields.len());
        let bad = |s: String| Err(ParseError::Inconsistent(s));
        if self.nodes.len() != self.node_count as usize * nf {
            return bad(format!(
                "{} numbers in nodes, header says {} nodes of {nf} fields",
                self.nodes.len(),
                self.node_count
            ));
        }
        if self.edges.len() != self.edge_count as usize * ef {
            return bad(format!(
                "{} numbers in edges, header says {} edges of {ef} fields",
                self.edges.len(),
                self.edge_count
            ));
        }
        let strings = self.strings.len() as u64;
        let mut edges_claimed: u64 = 0;
        for (i, row) in self.nodes.chunks_exact(nf).enumerate() {
            if row[m.node_type] as usize >= m.node_types.len() {
                return bad(format!(
                    "node {i} has type {}, meta names {}",
                    row[m.node_type],
                    m.node_types.len()
                ));
            }
            if u64::from(row[m.node_name]) >= strings {
                return bad(format!(
                    "node {i} names string {}, there are {strings}",
                    row[m.node_name]
                ));
            }
            edges_claimed += u64::from(row[m.node_edge_count]);
        }
        if edges_claimed != u64::from(self.edge_count) {
            return bad(format!(
                "nodes claim {edges_claimed} edges, header says {}",
                self.edge_count
            ));
        }
        let by_index = |t: u32| {
            matches!(
                m.edge_types.get(t as usize).map(String::as_str),
                Some("element" | "hidden")
            )
        };
        for (i, row) in self.edges.chunks_exact(ef).enumerate() {
            let to = row[m.edge_to_node] as usize;
            if !to.is_multiple_of(nf) || to >= self.nodes.len() {
                return bad(format!(
                    "edge {i} points at {to}, not a node (node rows are {nf} wide, {} in all)",
                    self.nodes.len()
                ));
            }
            let t = row[m.edge_type];
            if t as usize >= m.edge_types.len() {
                return bad(format!(
                    "edge {i} has type {t}, meta names {}",
                    m.edge_types.len()
                ));
            }
            if !by_index(t) && u64::from(row[m.edge_name_or_index]) >= strings {
                return bad(format!(
                    "edge {i} names string {}, there are {strings}",
                    row[m.edge_name_or_index]
                ));
            }
        }
        let lf = m.location_fields.len();
        if !self.locations.is_empty() {
            if lf == 0 || !self.locations.len().is_multiple_of(lf) {
                return bad(format!(
                    "{} numbers in locations, rows are {lf} wide",
                    self.locations.len()
                ));
            }
            let at = m.location_field("object_index");
            for (i, row) in self.locations.chunks_exact(lf).enumerate() {
                let node = row[at] as usize;
                if !node.is_multiple_of(nf) || node >= self.nodes.len() {
                    return bad(format!("location {i} points at {node}, not a node"));
                }
            }
        }
        Ok(())
    }
}
