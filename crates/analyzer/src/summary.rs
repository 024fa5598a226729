//! The Summary view's numbers, computed the way Chrome DevTools computes them (DEVTOOLS-MODEL.md,
//! sections 2-6): user roots, page-owned nodes, the move of hidden/array sizes onto their single
//! owner, the edges that count for dominators, dominators, retained sizes, classes
//! (`classes.rs`), and per class the count, shallow size and retained size (members not dominated
//! by another member of the same class).
//!
//! Two threads: the `{a, b}` names while the edges that count are marked; the distances while the
//! self sizes are adjusted; the classes while the retained sizes add up. The dominators, which take
//! the most memory, run alone, with nothing else held that could be made after them.

use std::collections::HashMap;

use crate::classes::{classify, infer_interfaces, Classes, NO_CLASS};
use crate::distances::{distances, has_user_roots, Distances};
use crate::dominators::{dominators, retained_sizes, Csr, Successors};
use crate::graph::{Graph, Types, ROOT};
use crate::sizes::SelfSizes;
use crate::snapshot::Location;
use crate::snapshot::Snapshot;

/// One Summary row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassRow {
    pub name: String,
    pub count: u64,
    pub self_size: u64,
    pub retained_size: u64,
    /// The constructor's location, for classes that DevTools splits by location.
    pub location: Option<Location>,
}

/// Everything the Summary view knows of a snapshot.
pub(crate) struct Model<'a> {
    pub g: Graph<'a>,
    pub t: Types,
    /// Self sizes after the move of hidden/array sizes onto their owners.
    pub self_size: SelfSizes,
    pub retained: Vec<u64>,
    pub idom: Vec<u32>,
    pub classes: Classes,
    pub distances: Distances,
}

/// Computes the Summary rows, sorted by retained size (descending), then name.
pub fn summarize(s: &Snapshot) -> Vec<ClassRow> {
    let m = Model::new(s);
    m.rows()
}

impl<'a> Model<'a> {
    pub fn new(s: &'a Snapshot) -> Model<'a> {
        let g = Graph::new(s);
        let t = Types::new(s);
        // The dominators take the most memory: nothing that stays is made while they run (the
        // self sizes, classes and distances are made after, beside the retained sizes).
        let (defs, essential) = std::thread::scope(|scope| {
            let other = scope.spawn(|| {
                let defs = infer_interfaces(&g, &t);
                crate::phases::mark("interfaces (thread 2)");
                defs
            });
            // (A snapshot without nodes has no root.)
            let essential = (g.len() > 0).then(|| essential_edges(&g, &t));
            crate::phases::mark("essential edges");
            (other.join().expect("the interfaces' thread"), essential)
        });
        let doms = essential.as_ref().map(|e| dominators(e, ROOT));
        drop(essential);
        let (self_size, distances) = std::thread::scope(|scope| {
            let other = scope.spawn(|| {
                let distances = distances(&g, &t);
                crate::phases::mark("distances (thread 2)");
                distances
            });
            let self_size = adjusted_self_sizes(&g, &t);
            crate::phases::mark("adjusted self sizes");
            (self_size, other.join().expect("the distances' thread"))
        });
        let ((idom, retained), classes) = std::thread::scope(|scope| {
            let other = scope.spawn(|| {
                let classes = classify(&g, &t, &self_size, &defs);
                crate::phases::mark("classes (thread 2)");
                classes
            });
            let (idom, retained) = match doms {
                Some(doms) => {
                    let retained = retained_sizes(&doms, |v| self_size.get(v), g.len());
                    (doms.idom, retained)
                }
                None => (Vec::new(), Vec::new()),
            };
            crate::phases::mark("retained sizes");
            ((idom, retained), other.join().expect("the classes' thread"))
        });
        Model {
            g,
            t,
            self_size,
            retained,
            idom,
            classes,
            distances,
        }
    }

    /// Total size as DevTools shows it: the root's retained size plus V8's extra native bytes.
    pub fn total_size(&self) -> u64 {
        // (A hostile header's extra bytes must not wrap the total.)
        (self.retained.first().copied().unwrap_or(0)).saturating_add(self.g.s.extra_native_bytes)
    }

    /// The dominator tree's children of every node, in compressed rows.
    pub fn dominated(&self) -> Csr {
        let n = self.g.len();
        let mut offsets = vec![0u32; n + 1];
        for v in 0..n {
            if v != ROOT {
                offsets[self.idom[v] as usize + 1] += 1;
            }
        }
        for i in 0..n {
            offsets[i + 1] += offsets[i];
        }
        let mut fill = offsets.clone();
        let mut targets = vec![0u32; n.saturating_sub(1)];
        for v in 0..n {
            if v != ROOT {
                let d = self.idom[v] as usize;
                targets[fill[d] as usize] = v as u32;
                fill[d] += 1;
            }
        }
        Csr { offsets, targets }
    }

    /// The Summary rows, sorted by retained size (descending), then name.
    pub fn rows(&self) -> Vec<ClassRow> {
        self.rows_in(&self.dominated())
    }

    /// The same, given the dominator tree from [`Model::dominated`].
    pub fn rows_in(&self, tree: &Csr) -> Vec<ClassRow> {
        let n = self.g.len();
        let class_of = &self.classes.of;
        let mut rows: Vec<ClassRow> = self
            .classes
            .list
            .iter()
            .map(|c| ClassRow {
                name: c.name.clone(),
                count: 0,
                self_size: 0,
                retained_size: 0,
                location: c.location,
            })
            .collect();
        for (&c, size) in class_of.iter().zip(self.self_size.iter()) {
            if let Some(row) = rows.get_mut(c as usize) {
                row.count += 1;
                row.self_size += size;
            }
        }
        if n == 0 {
            return rows;
        }
        // Class retained size: members with no contributing dominator of the same class, found by
        // a depth-first walk of the dominator tree counting open contributors per class.
        let mut open = vec![0u32; rows.len()];
        let retained = &self.retained;
        let enter = |v: usize, open: &mut [u32], rows: &mut [ClassRow]| -> bool {
            let c = class_of[v];
            if c == NO_CLASS || open[c as usize] > 0 {
                return false;
            }
            open[c as usize] += 1;
            rows[c as usize].retained_size += retained[v];
            true
        };
        // (node, next child index, contributed)
        let mut stack: Vec<(u32, u32, bool)> = vec![(ROOT as u32, tree.offsets[ROOT], false)];
        stack[0].2 = enter(ROOT, &mut open, &mut rows);
        while let Some(top) = stack.last_mut() {
            let (v, next, contributed) = *top;
            if next < tree.offsets[v as usize + 1] {
                top.1 += 1;
                let c = tree.targets[next as usize] as usize;
                let contributed_c = enter(c, &mut open, &mut rows);
                stack.push((c as u32, tree.offsets[c], contributed_c));
            } else {
                if contributed {
                    open[class_of[v as usize] as usize] -= 1;
                }
                stack.pop();
            }
        }
        // Classes whose public keys are equal (an object named `Function` and the closures, say):
        // DevTools keeps the one whose first member comes last, as its object keyed by public key
        // is filled in that order.
        let mut last: HashMap<&str, usize> = HashMap::new();
        for (i, c) in self.classes.list.iter().enumerate() {
            last.insert(c.key.as_str(), i);
        }
        let mut i = 0;
        rows.retain(|_| {
            let keep = last.get(self.classes.list[i].key.as_str()) == Some(&i);
            i += 1;
            keep
        });
        rows.sort_by(|a, b| {
            b.retained_size
                .cmp(&a.retained_size)
                .then_with(|| a.name.cmp(&b.name))
        });
        rows
    }
}

/// Self sizes after DevTools' move of hidden and array sizes onto their single owner, which it
/// does only when the snapshot has user roots (DEVTOOLS-MODEL.md 4).
pub(crate) fn adjusted_self_sizes(g: &Graph, t: &Types) -> SelfSizes {
    let mut self_size = SelfSizes::new(g.len(), |v| g.self_size(v));
    if g.len() > 0 && has_user_roots(g, t) {
        move_sizes_to_owners(g, t, &mut self_size);
    }
    self_size
}

/// The snapshot's graph with only the edges that count for dominators (DEVTOOLS-MODEL.md 5.2),
/// marked in a bitset so that the filter runs once per edge.
struct EssentialEdges<'a> {
    g: &'a Graph<'a>,
    essential: Vec<u64>,
}

impl Successors for EssentialEdges<'_> {
    fn node_count(&self) -> usize {
        self.g.len()
    }
    fn edges(&self, n: usize) -> std::ops::Range<usize> {
        self.g.edges(n)
    }
    fn target(&self, _: usize, e: usize) -> Option<u32> {
        (self.essential[e / 64] & (1 << (e % 64)) != 0).then(|| self.g.target(e) as u32)
    }
}

fn essential_edges<'a>(g: &'a Graph<'a>, t: &Types) -> EssentialEdges<'a> {
    let n = g.len();
    // Page-owned nodes: from the root's shortcut targets (and DOM trees), along non-weak edges.
    let mut page = vec![false; n];
    let mut todo: Vec<usize> = g
        .edges(ROOT)
        .filter(|&e| {
            let c = g.target(e);
            g.edge_type(e) == t.shortcut
                || (g.edge_type(e) == t.element
                    && g.node_type(c) == t.synthetic
                    && g.name(c) == "(Document DOM trees)")
        })
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
    let mut essential = vec![0u64; (g.s.edge_count as usize).div_ceil(64)];
    for v in 0..n {
        for e in g.edges(v) {
            let c = g.target(e);
            let et = g.edge_type(e);
            if et != t.weak
                && c != v
                && !(v != ROOT && et == t.shortcut)
                && !(v != ROOT && page[c] && !page[v])
                && !(et == t.internal && weakmap_table_edge(g.edge_name(e), g.id(v)))
            {
                essential[e / 64] |= 1 << (e % 64);
            }
        }
    }
    EssentialEdges { g, essential }
}

/// True for the internal edge from a WeakMap's table to a value ("N / part of key (K @k) -> value
/// (V @v) pair in WeakMap (table @T)" from the node with id T): it does not retain the value.
fn weakmap_table_edge(name: Option<&str>, from_id: u32) -> bool {
    name.and_then(crate::distances::weakmap_edge)
        .is_some_and(|(_, table)| table == u64::from(from_id))
}

/// Moves the size of every hidden or array node with a single owner onto that owner, unless the
/// owner is the root or synthetic (DEVTOOLS-MODEL.md 4).
fn move_sizes_to_owners(g: &Graph, t: &Types, self_size: &mut SelfSizes) {
    const NONE: u32 = u32::MAX;
    const MANY: u32 = u32::MAX - 1;
    let n = g.len();
    let candidate = |v: usize| {
        let ty = g.node_type(v);
        ty == t.hidden
            || ty == t.array
            || (ty == t.native && g.name(v) == "system / ExternalStringData")
    };
    let mut owner: Vec<u32> = (0..n)
        .map(|v| if candidate(v) { NONE } else { v as u32 })
        .collect();
    let mut todo: Vec<u32> = (0..n as u32).filter(|&v| !candidate(v as usize)).collect();
    while let Some(v) = todo.pop() {
        let v = v as usize;
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
            todo.push(c as u32);
        }
    }
    for (v, &o) in owner.iter().enumerate() {
        if candidate(v)
            && o != NONE
            && o != MANY
            && o as usize != ROOT
            && g.node_type(o as usize) != t.synthetic
        {
            self_size.set(o as usize, self_size.get(o as usize) + self_size.get(v));
            self_size.set(v, 0);
        }
    }
}
