//! Helpers shared by the analyzer's integration tests: snapshots made by node, snapshots built by
//! hand, reading a snapshot from text, and (`cases`) running many generated inputs under a
//! watchdog. Each test binary uses only some of them.
#![allow(dead_code)]

pub mod cases;

use std::io::Cursor;
use std::path::PathBuf;
use std::process::Command;

use oom_heapdump_analyzer::{read_snapshot_from, ParseError, Snapshot};
use serde_json::{json, Value};

/// Runs `setup` (JavaScript) in a fresh node, then writes a heap snapshot of that process; returns
/// the file, in a folder of its own that the caller may remove.
pub fn real_snapshot(tag: &str, setup: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ohd-analyzer-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("real.heapsnapshot");
    let script = format!(
        "{setup}\nrequire('v8').writeHeapSnapshot({:?})",
        file.display().to_string()
    );
    let status = Command::new("node")
        .args(["-e", &script])
        .status()
        .expect("node makes the snapshot");
    assert!(status.success());
    file
}

/// A script that keeps 3000 instances of `KeptThing`.
pub const KEPT_THINGS: &str =
    "class KeptThing { constructor(i) { this.i = i; this.s = 'k' + i } }\n\
     globalThis.kept = Array.from({ length: 3000 }, (_, i) => new KeptThing(i));";

/// Reads a snapshot from its text (or bytes).
pub fn read(text: impl AsRef<[u8]>) -> Result<Snapshot, ParseError> {
    read_snapshot_from(Cursor::new(text.as_ref().to_vec()))
}

/// V8's node types, in its order.
pub const NODE_TYPES: [&str; 15] = [
    "hidden",
    "array",
    "string",
    "object",
    "code",
    "closure",
    "regexp",
    "number",
    "native",
    "synthetic",
    "concatenated string",
    "sliced string",
    "symbol",
    "bigint",
    "object shape",
];
/// V8's edge types, in its order.
pub const EDGE_TYPES: [&str; 7] = [
    "context", "element", "property", "internal", "hidden", "shortcut", "weak",
];

/// The text of a snapshot with these columns, laid out as V8 writes it: the header (meta, node and
/// edge counts), then nodes, edges and strings. `node_types` and `edge_types` are the meta's
/// lists, one entry per field (the list of type names at the type field's place).
pub fn snapshot_text(
    node_fields: &[String],
    node_types: &Value,
    edge_fields: &[String],
    edge_types: &Value,
    nodes: &[u32],
    edges: &[u32],
    strings: &[String],
) -> String {
    format!(
        r#"{{"snapshot":{{"meta":{{"node_fields":{},"node_types":{node_types},"edge_fields":{},"edge_types":{edge_types}}},"node_count":{},"edge_count":{}}},"nodes":{},"edges":{},"strings":{}}}"#,
        json!(node_fields),
        json!(edge_fields),
        nodes.len() / node_fields.len(),
        edges.len() / edge_fields.len(),
        json!(nodes),
        json!(edges),
        json!(strings),
    )
}

/// Builds a snapshot in V8's layout without trace or detachedness fields: nodes are (type, name,
/// self size), ids 1, 3, 5...; edges are (from, type, name, to), where the name of an element or
/// hidden edge is its index. Node 0 is the root.
pub fn snapshot(nodes: &[(&str, &str, u32)], edges: &[(usize, &str, &str, usize)]) -> String {
    let mut strings: Vec<String> = vec![];
    let mut intern = |s: &str| -> u32 {
        if let Some(i) = strings.iter().position(|x| x == s) {
            return i as u32;
        }
        strings.push(s.to_owned());
        strings.len() as u32 - 1
    };
    let mut node_columns = Vec::new();
    for (i, (ty, name, size)) in nodes.iter().enumerate() {
        let t = NODE_TYPES.iter().position(|x| x == ty).unwrap() as u32;
        let count = edges.iter().filter(|e| e.0 == i).count() as u32;
        node_columns.extend([t, intern(name), i as u32 * 2 + 1, *size, count]);
    }
    let mut sorted = edges.to_vec();
    sorted.sort_by_key(|e| e.0);
    let mut edge_columns = Vec::new();
    for (_, ty, name, to) in sorted {
        let t = EDGE_TYPES.iter().position(|x| *x == ty).unwrap() as u32;
        let n = if ty == "element" || ty == "hidden" {
            name.parse().unwrap()
        } else {
            intern(name)
        };
        edge_columns.extend([t, n, to as u32 * 5]);
    }
    let fields = |names: &[&str]| -> Vec<String> { names.iter().map(|s| s.to_string()).collect() };
    snapshot_text(
        &fields(&["type", "name", "id", "self_size", "edge_count"]),
        &json!([NODE_TYPES, "string", "number", "number", "number"]),
        &fields(&["type", "name_or_index", "to_node"]),
        &json!([EDGE_TYPES, "string_or_number", "node"]),
        &node_columns,
        &edge_columns,
        &strings,
    )
}

/// Builds large snapshots (millions of nodes) in V8's layout, in time linear in their size (the
/// [`snapshot`] helper above is for small graphs): nodes are (type, name, self size), ids 1, 3,
/// 5...; node 0 is the root.
#[derive(Default)]
pub struct Big {
    strings: Vec<String>,
    interned: std::collections::HashMap<String, u32>,
    nodes: Vec<[u32; 4]>,
    /// (from, [type, name or index, to])
    edges: Vec<(u32, [u32; 3])>,
}

impl Big {
    fn intern(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.interned.get(s) {
            return i;
        }
        self.strings.push(s.to_owned());
        self.interned
            .insert(s.to_owned(), self.strings.len() as u32 - 1);
        self.strings.len() as u32 - 1
    }

    pub fn node(&mut self, ty: &str, name: &str, size: u32) -> usize {
        let t = NODE_TYPES.iter().position(|x| *x == ty).unwrap() as u32;
        let name = self.intern(name);
        let id = self.nodes.len() as u32 * 2 + 1;
        self.nodes.push([t, name, id, size]);
        self.nodes.len() - 1
    }

    /// An edge; the name of an element or hidden edge is its index.
    pub fn edge(&mut self, from: usize, ty: &str, name: &str, to: usize) {
        let t = EDGE_TYPES.iter().position(|x| *x == ty).unwrap() as u32;
        let n = if ty == "element" || ty == "hidden" {
            name.parse().unwrap()
        } else {
            self.intern(name)
        };
        self.edges.push((from as u32, [t, n, to as u32 * 5]));
    }

    /// `(root) -> Global`, with the root's shortcut edge named `global`: a builder and Global.
    pub fn with_global() -> (Big, usize) {
        let mut b = Big::default();
        let root = b.node("synthetic", "", 0);
        let global = b.node("object", "Global", 10);
        b.edge(root, "shortcut", "global", global);
        (b, global)
    }

    /// `from.head -> Cell -> next -> Cell ...`, `cells` long (`head = { next: head }`); the last cell.
    pub fn linked_list(&mut self, from: usize, cells: usize) -> usize {
        self.chain(from, "head", cells, |b, _| b.node("object", "Cell", 32))
    }

    /// `from.<first> -> cell -> next -> cell ...`, `cells` long, the `i`th cell made by
    /// `cell(builder, i)` (which may hang more nodes from it); the last cell, or `from` if none.
    pub fn chain(
        &mut self,
        from: usize,
        first: &str,
        cells: usize,
        mut cell: impl FnMut(&mut Big, usize) -> usize,
    ) -> usize {
        let mut previous = from;
        for i in 0..cells {
            let next = cell(self, i);
            self.edge(
                previous,
                "property",
                if i == 0 { first } else { "next" },
                next,
            );
            previous = next;
        }
        previous
    }

    pub fn text(mut self) -> Vec<u8> {
        use std::fmt::Write;
        self.edges.sort_by_key(|e| e.0);
        let mut counts = vec![0u32; self.nodes.len()];
        for e in &self.edges {
            counts[e.0 as usize] += 1;
        }
        let mut out = format!(
            r#"{{"snapshot":{{"meta":{{"node_fields":["type","name","id","self_size","edge_count"],"node_types":[{},"string","number","number","number"],"edge_fields":["type","name_or_index","to_node"],"edge_types":[{},"string_or_number","node"]}},"node_count":{},"edge_count":{}}},"nodes":["#,
            json!(NODE_TYPES),
            json!(EDGE_TYPES),
            self.nodes.len(),
            self.edges.len()
        );
        for (i, n) in self.nodes.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            writeln!(
                out,
                "{sep}{},{},{},{},{}",
                n[0], n[1], n[2], n[3], counts[i]
            )
            .unwrap();
        }
        out.push_str("],\"edges\":[");
        for (i, (_, e)) in self.edges.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            writeln!(out, "{sep}{},{},{}", e[0], e[1], e[2]).unwrap();
        }
        write!(out, "],\"strings\":{}}}", json!(self.strings)).unwrap();
        out.into_bytes()
    }
}

/// Runs `f` on a thread of its own and returns its result; fails the test, saying `what` took too
/// long, if it is still running after `limit`. For inputs where a linear algorithm takes seconds
/// and a quadratic one hours: a watchdog, not a measure of speed.
pub fn within<T: Send + 'static>(
    limit: std::time::Duration,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
    });
    match rx.recv_timeout(limit) {
        Ok(Ok(value)) => value,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => {
            panic!(
                "{what} still runs after {limit:?}: a hang, or work that grows faster than n log n"
            )
        }
    }
}
