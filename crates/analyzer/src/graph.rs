//! The snapshot seen as a graph: nodes by ordinal (row number), edges by ordinal in file order, and
//! the node and edge type numbers looked up by name in `meta`.

use crate::snapshot::Snapshot;

/// The root node: V8 always writes it first.
pub(crate) const ROOT: usize = 0;

/// Node and edge type numbers, looked up by name (absent types never match).
pub(crate) struct Types {
    pub hidden: u32,
    pub array: u32,
    pub object: u32,
    pub native: u32,
    pub synthetic: u32,
    pub code: u32,
    pub closure: u32,
    pub regexp: u32,
    pub property: u32,
    pub weak: u32,
    pub shortcut: u32,
    pub internal: u32,
}

impl Types {
    pub fn new(s: &Snapshot) -> Types {
        let find = |list: &[String], n: &str| {
            list.iter()
                .position(|t| t == n)
                .map_or(u32::MAX, |i| i as u32)
        };
        let node = |n: &str| find(&s.meta.node_types, n);
        let edge = |n: &str| find(&s.meta.edge_types, n);
        Types {
            hidden: node("hidden"),
            array: node("array"),
            object: node("object"),
            native: node("native"),
            synthetic: node("synthetic"),
            code: node("code"),
            closure: node("closure"),
            regexp: node("regexp"),
            property: edge("property"),
            weak: edge("weak"),
            shortcut: edge("shortcut"),
            internal: edge("internal"),
        }
    }
}

pub(crate) struct Graph<'a> {
    pub s: &'a Snapshot,
    nf: usize,
    ef: usize,
    /// first_edge[n]..first_edge[n + 1] are the edges of node n.
    first_edge: Vec<u32>,
}

impl<'a> Graph<'a> {
    pub fn new(s: &'a Snapshot) -> Graph<'a> {
        let nf = s.meta.node_fields.len();
        let mut first_edge = Vec::with_capacity(s.node_count as usize + 1);
        let mut at = 0u32;
        first_edge.push(0);
        for row in s.nodes.chunks_exact(nf) {
            at += row[s.meta.node_edge_count];
            first_edge.push(at);
        }
        Graph {
            s,
            nf,
            ef: s.meta.edge_fields.len(),
            first_edge,
        }
    }
    pub fn len(&self) -> usize {
        self.s.node_count as usize
    }
    pub fn field(&self, n: usize, f: usize) -> u32 {
        self.s.nodes[n * self.nf + f]
    }
    pub fn node_type(&self, n: usize) -> u32 {
        self.field(n, self.s.meta.node_type)
    }
    pub fn type_name(&self, n: usize) -> &str {
        self.s
            .meta
            .node_types
            .get(self.node_type(n) as usize)
            .map_or("unknown", String::as_str)
    }
    pub fn name_index(&self, n: usize) -> u32 {
        self.field(n, self.s.meta.node_name)
    }
    pub fn name(&self, n: usize) -> &'a str {
        &self.s.strings[self.name_index(n) as usize]
    }
    pub fn id(&self, n: usize) -> u32 {
        self.field(n, self.s.meta.node_id)
    }
    pub fn self_size(&self, n: usize) -> u32 {
        self.field(n, self.s.meta.node_self_size)
    }
    pub fn edges(&self, n: usize) -> std::ops::Range<usize> {
        self.first_edge[n] as usize..self.first_edge[n + 1] as usize
    }
    /// The node an edge comes from.
    pub fn source(&self, e: usize) -> usize {
        self.first_edge.partition_point(|&f| f as usize <= e) - 1
    }
    pub fn edge_type(&self, e: usize) -> u32 {
        self.s.edges[e * self.ef + self.s.meta.edge_type]
    }
    /// The edge's `name_or_index` number: a string index or, for `element` and `hidden` edges, the
    /// index itself.
    pub fn edge_name_or_index(&self, e: usize) -> u32 {
        self.s.edges[e * self.ef + self.s.meta.edge_name_or_index]
    }
    /// The edge's name, for edges named by a string.
    pub fn edge_name(&self, e: usize) -> Option<&'a str> {
        let t = self.edge_type(e) as usize;
        let by_index = matches!(
            self.s.meta.edge_types.get(t).map(String::as_str),
            Some("element" | "hidden")
        );
        (!by_index).then(|| self.s.strings[self.edge_name_or_index(e) as usize].as_str())
    }
    pub fn target(&self, e: usize) -> usize {
        self.s.edges[e * self.ef + self.s.meta.edge_to_node] as usize / self.nf
    }
}
