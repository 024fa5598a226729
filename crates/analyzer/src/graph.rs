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
    pub object_shape: u32,
    pub property: u32,
    /// A closure's context variable (an edge from a `system / Context`).
    pub context: u32,
    pub weak: u32,
    pub shortcut: u32,
    pub internal: u32,
    pub hidden_edge: u32,
    pub element: u32,
    pub invisible: u32,
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
            object_shape: node("object shape"),
            property: edge("property"),
            context: edge("context"),
            weak: edge("weak"),
            shortcut: edge("shortcut"),
            internal: edge("internal"),
            hidden_edge: edge("hidden"),
            element: edge("element"),
            invisible: edge("invisible"),
        }
    }
}

pub(crate) struct Graph<'a> {
    pub s: &'a Snapshot,
}

impl<'a> Graph<'a> {
    pub fn new(s: &'a Snapshot) -> Graph<'a> {
        Graph { s }
    }
    pub fn len(&self) -> usize {
        self.s.node_count as usize
    }
    pub fn node_type(&self, n: usize) -> u32 {
        u32::from(self.s.node_type[n])
    }
    pub fn type_name(&self, n: usize) -> &'a str {
        self.s
            .meta
            .node_types
            .get(self.s.node_type[n] as usize)
            .map_or("unknown", String::as_str)
    }
    pub fn name_index(&self, n: usize) -> u32 {
        self.s.node_name[n]
    }
    pub fn name(&self, n: usize) -> &'a str {
        self.s.strings.get(self.name_index(n) as usize)
    }
    pub fn id(&self, n: usize) -> u32 {
        self.s.node_id[n]
    }
    pub fn self_size(&self, n: usize) -> u32 {
        self.s.node_self_size[n]
    }
    pub fn edges(&self, n: usize) -> std::ops::Range<usize> {
        self.s.first_edge[n] as usize..self.s.first_edge[n + 1] as usize
    }
    /// The node an edge comes from.
    pub fn source(&self, e: usize) -> usize {
        self.s.first_edge.partition_point(|&f| f as usize <= e) - 1
    }
    pub fn edge_type(&self, e: usize) -> u32 {
        u32::from(self.s.edge_type[e])
    }
    /// The edge's `name_or_index` number: a string index or, for `element` and `hidden` edges, the
    /// index itself.
    pub fn edge_name_or_index(&self, e: usize) -> u32 {
        self.s.edge_name_or_index[e]
    }
    /// The edge's name, for edges named by a string.
    pub fn edge_name(&self, e: usize) -> Option<&'a str> {
        (!self.s.meta.edge_type_by_index(self.s.edge_type[e]))
            .then(|| self.s.strings.get(self.edge_name_or_index(e) as usize))
    }
    pub fn target(&self, e: usize) -> usize {
        self.s.edge_to[e] as usize
    }
}
