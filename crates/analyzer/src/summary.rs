//! The Summary view's numbers, computed the way Chrome DevTools computes them (DEVTOOLS-MODEL.md,
//! sections 2-6): user roots, page-owned nodes, the move of hidden/array sizes onto their single
//! owner, the edges that count for dominators, dominators, retained sizes, class names by node
//! type, and per-class count, shallow size and retained size (members not dominated by another
//! member of the same class).
//!
//! Plain objects (`Object`) are named by their most common property sets, `{a, b}`
//! (DEVTOOLS-MODEL.md 3.2, the newest rule: a set must cover at least max(2, plain objects / 1000)
//! objects).
//!
//! Not yet here (next steps of issue 5): location-split class rows, `Detached` DOM names, distances
//! and retainer paths.

use std::collections::HashMap;

use crate::dominators::{dominators, retained_sizes, Csr};
use crate::snapshot::Snapshot;

/// One Summary row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassRow {
    pub name: String,
    pub count: u64,
    pub self_size: u64,
    pub retained_size: u64,
}

/// Node and edge type numbers, looked up by name (absent types never match).
struct Types {
    hidden: u32,
    array: u32,
    object: u32,
    native: u32,
    synthetic: u32,
    code: u32,
    closure: u32,
    regexp: u32,
    weak: u32,
    shortcut: u32,
    internal: u32,
}

impl Types {
    fn new(s: &Snapshot) -> Types {
        let node = |n: &str| {
            s.meta
                .node_types
                .iter()
                .position(|t| t == n)
                .map_or(u32::MAX, |i| i as u32)
        };
        let edge = |n: &str| {
            s.meta
                .edge_types
                .iter()
                .position(|t| t == n)
                .map_or(u32::MAX, |i| i as u32)
        };
        Types {
            hidden: node("hidden"),
            array: node("array"),
            object: node("object"),
            native: node("native"),
            synthetic: node("synthetic"),
            code: node("code"),
            closure: node("closure"),
            regexp: node("regexp"),
            weak: edge("weak"),
            shortcut: edge("shortcut"),
            internal: edge("internal"),
        }
    }
}

/// The snapshot as a graph: nodes by ordinal, edges by ordinal in file order.
struct Graph<'a> {
    s: &'a Snapshot,
    nf: usize,
    ef: usize,
    /// first_edge[n]..first_edge[n + 1] are the edges of node n.
    first_edge: Vec<u32>,
}

impl<'a> Graph<'a> {
    fn new(s: &'a Snapshot) -> Graph<'a> {
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
    fn len(&self) -> usize {
        self.s.node_count as usize
    }
    fn field(&self, n: usize, f: usize) -> u32 {
        self.s.nodes[n * self.nf + f]
    }
    fn node_type(&self, n: usize) -> u32 {
        self.field(n, self.s.meta.node_type)
    }
    fn name(&self, n: usize) -> &str {
        &self.s.strings[self.field(n, self.s.meta.node_name) as usize]
    }
    fn id(&self, n: usize) -> u32 {
        self.field(n, self.s.meta.node_id)
    }
    fn edges(&self, n: usize) -> std::ops::Range<usize> {
        self.first_edge[n] as usize..self.first_edge[n + 1] as usize
    }
    fn edge_type(&self, e: usize) -> u32 {
        self.s.edges[e * self.ef + self.s.meta.edge_type]
    }
    fn edge_name(&self, e: usize) -> Option<&str> {
        let t = self.edge_type(e) as usize;
        let by_index = matches!(
            self.s.meta.edge_types.get(t).map(String::as_str),
            Some("element" | "hidden")
        );
        (!by_index).then(|| {
            self.s.strings[self.s.edges[e * self.ef + self.s.meta.edge_name_or_index] as usize]
                .as_str()
        })
    }
    fn target(&self, e: usize) -> usize {
        self.s.edges[e * self.ef + self.s.meta.edge_to_node] as usize / self.nf
    }
}

const ROOT: usize = 0;

/// Computes the Summary rows, sorted by retained size (descending), then name.
pub fn summarize(s: &Snapshot) -> Vec<ClassRow> {
    let g = Graph::new(s);
    let t = Types::new(s);
    let n = g.len();
    if n == 0 {
        return Vec::new();
    }
    let mut self_size: Vec<u64> = (0..n)
        .map(|v| u64::from(g.field(v, s.meta.node_self_size)))
        .collect();

    // User roots: children of the root that are not synthetic, or "(Document DOM trees)".
    let has_user_roots = g.edges(ROOT).any(|e| {
        let c = g.target(e);
        g.node_type(c) != t.synthetic || g.name(c) == "(Document DOM trees)"
    });

    // Page-owned nodes: from the root's shortcut targets (and DOM trees), along non-weak edges.
    let mut page = vec![false; n];
    let mut todo: Vec<usize> = g
        .edges(ROOT)
        .filter(|&e| g.edge_type(e) == t.shortcut || g.name(g.target(e)) == "(Document DOM trees)")
        .map(|e| g.target(e))
        .collect();
    for &v in &todo {
        page[v] = true;
    }
    while let Some(v) = todo.pop() {
        for e in g.edges(v) {
            let c = g.target(e);
            if g.edge_type(e) != t.weak && !page[c] {
                page[c] = true;
                todo.push(c);
            }
        }
    }

    if has_user_roots {
        move_sizes_to_owners(&g, &t, &mut self_size);
    }

    // Edges that count for dominators.
    let mut offsets = Vec::with_capacity(n + 1);
    let mut targets = Vec::new();
    offsets.push(0u32);
    for v in 0..n {
        for e in g.edges(v) {
            let c = g.target(e);
            let et = g.edge_type(e);
            let essential = et != t.weak
                && c != v
                && !(v != ROOT && et == t.shortcut)
                && !(v != ROOT && page[c] && !page[v])
                && !(et == t.internal && weakmap_table_edge(g.edge_name(e), g.id(v)));
            if essential {
                targets.push(c as u32);
            }
        }
        offsets.push(targets.len() as u32);
    }
    let doms = dominators(&Csr { offsets, targets }, ROOT);
    let retained = retained_sizes(&doms, |v| self_size[v], n);

    let interfaces = plain_object_names(&g, &t);

    // Class per node. The name depends only on the node type and, for objects and natives, the
    // name string: compute it once per (type, name) pair.
    let mut class_ids: HashMap<String, u32> = HashMap::new();
    let mut by_type_and_name: HashMap<(u32, u32), u32> = HashMap::new();
    let mut rows: Vec<ClassRow> = Vec::new();
    let mut class_of = vec![u32::MAX; n];
    for v in 0..n {
        if self_size[v] == 0 {
            continue;
        }
        let ty = g.node_type(v);
        let name_key = if ty == t.object || ty == t.native {
            g.field(v, s.meta.node_name)
        } else {
            u32::MAX
        };
        // A named plain object: its interface, keyed apart from the (type, name) pairs.
        let interface = interfaces.of.get(&(v as u32)).copied();
        let key = interface.map_or((ty, name_key), |i| (u32::MAX, i));
        let id = *by_type_and_name.entry(key).or_insert_with(|| {
            let name = match interface {
                Some(i) => interfaces.names[i as usize].clone(),
                None => class_name(&g, &t, v),
            };
            *class_ids.entry(name.clone()).or_insert_with(|| {
                rows.push(ClassRow {
                    name,
                    count: 0,
                    self_size: 0,
                    retained_size: 0,
                });
                rows.len() as u32 - 1
            })
        });
        class_of[v] = id;
        rows[id as usize].count += 1;
        rows[id as usize].self_size += self_size[v];
    }

    // Class retained size: members with no contributing dominator of the same class, found by a
    // depth-first walk of the dominator tree counting open contributors per class.
    let mut child_offsets = vec![0u32; n + 1];
    for v in 0..n {
        if v != ROOT {
            child_offsets[doms.idom[v] as usize + 1] += 1;
        }
    }
    for i in 0..n {
        child_offsets[i + 1] += child_offsets[i];
    }
    let mut fill = child_offsets.clone();
    let mut children = vec![0u32; n.saturating_sub(1)];
    for v in 0..n {
        if v != ROOT {
            let d = doms.idom[v] as usize;
            children[fill[d] as usize] = v as u32;
            fill[d] += 1;
        }
    }
    let mut open = vec![0u32; rows.len()];
    // (node, next child index, contributed)
    let mut stack: Vec<(u32, u32, bool)> = vec![(ROOT as u32, child_offsets[ROOT], false)];
    let enter = |v: usize, open: &mut Vec<u32>, rows: &mut Vec<ClassRow>| -> bool {
        let c = class_of[v];
        if c == u32::MAX || open[c as usize] > 0 {
            return false;
        }
        open[c as usize] += 1;
        rows[c as usize].retained_size += retained[v];
        true
    };
    stack[0].2 = enter(ROOT, &mut open, &mut rows);
    while let Some(top) = stack.last_mut() {
        let (v, next, contributed) = *top;
        if next < child_offsets[v as usize + 1] {
            top.1 += 1;
            let c = children[next as usize] as usize;
            let contributed_c = enter(c, &mut open, &mut rows);
            stack.push((c as u32, child_offsets[c], contributed_c));
        } else {
            if contributed {
                open[class_of[v as usize] as usize] -= 1;
            }
            stack.pop();
        }
    }

    rows.sort_by(|a, b| {
        b.retained_size
            .cmp(&a.retained_size)
            .then_with(|| a.name.cmp(&b.name))
    });
    rows
}

/// DevTools' class name by node type (DEVTOOLS-MODEL.md 3.1, without `{a, b}` names yet).
fn class_name(g: &Graph, t: &Types, v: usize) -> String {
    let ty = g.node_type(v);
    if ty == t.hidden {
        return "(system)".into();
    }
    if ty == t.code {
        return "(compiled code)".into();
    }
    if ty == t.closure {
        return "Function".into();
    }
    if ty == t.regexp {
        return "RegExp".into();
    }
    if ty == t.object || ty == t.native {
        let name = g.name(v);
        if let Some(tag) = name.strip_prefix("Detached <") {
            return match tag.find(' ') {
                Some(i) => format!("Detached <{}>", &tag[..i]),
                None => name.to_owned(),
            };
        }
        if name.starts_with('<') {
            if let Some(i) = name.find(' ') {
                return format!("{}>", &name[..i]);
            }
        }
        return name.to_owned();
    }
    format!(
        "({})",
        g.s.meta
            .node_types
            .get(ty as usize)
            .map_or("unknown", String::as_str)
    )
}

/// True for the internal edge from a WeakMap's table to a value ("N / part of key (K @k) -> value
/// (V @v) pair in WeakMap (table @T)" from the node with id T): it does not retain the value.
fn weakmap_table_edge(name: Option<&str>, from_id: u32) -> bool {
    let Some(name) = name else {
        return false;
    };
    let Some(rest) = name.split_once(" / part of key (") else {
        return false;
    };
    if !rest.0.bytes().all(|b| b.is_ascii_digit()) || !rest.1.contains(") -> value (") {
        return false;
    }
    let Some(table) = rest
        .1
        .strip_suffix(')')
        .and_then(|r| r.rsplit_once(" pair in WeakMap (table @"))
    else {
        return false;
    };
    table.1.parse::<u32>().is_ok_and(|id| id == from_id)
}

/// Moves the size of every hidden or array node with a single owner onto that owner, unless the
/// owner is the root or synthetic (DEVTOOLS-MODEL.md 4).
fn move_sizes_to_owners(g: &Graph, t: &Types, self_size: &mut [u64]) {
    const NONE: u32 = u32::MAX;
    const MANY: u32 = u32::MAX - 1;
    let n = g.len();
    let candidate = |v: usize| {
        let ty = g.node_type(v);
        ty == t.hidden || ty == t.array
    };
    let mut owner: Vec<u32> = (0..n)
        .map(|v| if candidate(v) { NONE } else { v as u32 })
        .collect();
    let mut todo: Vec<usize> = (0..n).filter(|&v| !candidate(v)).collect();
    while let Some(v) = todo.pop() {
        let o = owner[v];
        for e in g.edges(v) {
            let c = g.target(e);
            if g.edge_type(e) == t.weak || !candidate(c) {
                continue;
            }
            let next = match owner[c] {
                NONE => o,
                x if x == o || x == MANY => continue,
                _ => MANY,
            };
            owner[c] = next;
            todo.push(c);
        }
    }
    for v in 0..n {
        let o = owner[v];
        if candidate(v)
            && o != NONE
            && o != MANY
            && o as usize != ROOT
            && g.node_type(o as usize) != t.synthetic
        {
            self_size[o as usize] += self_size[v];
            self_size[v] = 0;
        }
    }
}

/// Names of plain objects: `of[node]` indexes `names`.
struct Interfaces {
    names: Vec<String>,
    of: HashMap<u32, u32>,
}

/// Length in UTF-16 code units, as DevTools measures names.
fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// DevTools' `{a, b}` names (DEVTOOLS-MODEL.md 3.2): infer a name from each plain object's property
/// edges in file order (no `__proto__`, at most 120 UTF-16 units), keep the names shared by at least
/// max(2, plain objects / 1000) objects, most common first, then name every plain object after the
/// largest kept property set contained in its own (ties: the more common).
fn plain_object_names(g: &Graph, t: &Types) -> Interfaces {
    let plain: Vec<usize> = (0..g.len())
        .filter(|&v| g.node_type(v) == t.object && g.name(v) == "Object")
        .collect();
    let property =
        g.s.meta
            .edge_types
            .iter()
            .position(|x| x == "property")
            .map_or(u32::MAX, |i| i as u32);
    let props = |v: usize| {
        g.edges(v)
            .filter(move |&e| g.edge_type(e) == property)
            .filter_map(move |e| g.edge_name(e))
    };

    // Inference: candidate text -> (count, first seen, raw names).
    let mut candidates: HashMap<String, (u32, usize, Vec<&str>)> = HashMap::new();
    for (order, &v) in plain.iter().enumerate() {
        let mut text = String::from("{");
        let mut raw: Vec<&str> = Vec::new();
        for name in props(v).filter(|n| *n != "__proto__") {
            let formatted = if name.contains([',', '\'', '"', '{', '}']) {
                serde_json::to_string(name).unwrap_or_default()
            } else {
                name.to_owned()
            };
            if !raw.is_empty() && utf16_len(&text) + utf16_len(&formatted) > 120 {
                break;
            }
            if !raw.is_empty() {
                text.push_str(", ");
            }
            text.push_str(&formatted);
            raw.push(name);
        }
        if raw.is_empty() {
            continue;
        }
        text.push('}');
        candidates.entry(text).or_insert((0, order, raw)).0 += 1;
    }
    let min = (plain.len() / 1000).max(2) as u32;
    let mut kept: Vec<(String, u32, usize, Vec<&str>)> = candidates
        .into_iter()
        .filter(|(_, (count, _, _))| *count >= min)
        .map(|(text, (count, first, raw))| (text, count, first, raw))
        .collect();
    kept.sort_by(|a, b| b.1.cmp(&a.1).then(a.2.cmp(&b.2)));

    // Application: the definition with the most properties contained in the object's, then the
    // earlier (more common) one.
    let mut sets: Vec<std::collections::HashSet<&str>> =
        kept.iter().map(|k| k.3.iter().copied().collect()).collect();
    let mut order: Vec<usize> = (0..kept.len()).collect();
    order.sort_by(|&a, &b| sets[b].len().cmp(&sets[a].len()).then(a.cmp(&b)));
    let mut exact: HashMap<Vec<&str>, u32> = HashMap::new();
    for &i in order.iter().rev() {
        let mut key: Vec<&str> = kept[i].3.clone();
        key.sort_unstable();
        key.dedup();
        exact.insert(key, i as u32);
    }
    let mut of = HashMap::new();
    for &v in &plain {
        let mut own: Vec<&str> = props(v).collect();
        own.sort_unstable();
        own.dedup();
        // Fast path: a definition with exactly this set, when no larger one can match (there is
        // none larger than the object's own set).
        let found = exact.get(&own).copied().or_else(|| {
            let own_set: std::collections::HashSet<&str> = own.iter().copied().collect();
            order
                .iter()
                .find(|&&i| sets[i].len() <= own_set.len() && sets[i].is_subset(&own_set))
                .map(|&i| i as u32)
        });
        if let Some(i) = found {
            of.insert(v as u32, i);
        }
    }
    sets.clear();
    Interfaces {
        names: kept.into_iter().map(|k| k.0).collect(),
        of,
    }
}
