//! The three-snapshot technique (memlab's `find-leaks`, DevTools' "objects allocated between
//! snapshots"): take a snapshot, let the app do what leaks, take a second and a third. Objects
//! allocated after the first (their id is not in it) and still alive in the second and the third
//! (their id is in both) are what the app kept. V8 assigns ids as it allocates, once per object for
//! the life of the process, so an id names the same object in every snapshot of one process.
//!
//! They are reported from the third snapshot, grouped by where they are held, as memlab groups its
//! leak traces: the memory of a leak piles up under a few objects that are themselves new (an entry
//! of a cache, the head of a list), held by something that is not (the cache, the list's owner).
//! Those are the *leak roots*: new objects whose parent on the shortest path from the roots (the
//! path a user reads, `suspects.rs`) is old, or is new but only V8's storage (a grown array's
//! backing store, a Map's hash table: hidden, array, code and shape nodes are never roots). Every
//! other new object is counted with the leak root above it on its path. Groups are keyed by the
//! leak root's path with the keys of collections left out (`global.audit.entries[*]
//! (AuditRecord)`); retained sizes are DevTools' in the third snapshot, a group's counting each
//! object once (a leak root inside another's retained subtree is counted with that one).

use std::collections::HashMap;
use std::path::Path;

use serde::Serialize;

use crate::graph::ROOT;
use crate::report::{grouped, human_size};
use crate::snapshot::Snapshot;
use crate::summary::Model;
use crate::suspects::{user_path, Containers, PathIndex, UserPaths};
use crate::{read_snapshot, ParseError};

/// Ids of leak roots given per group, as examples to look up (`@id` in DevTools).
pub const EXAMPLES: usize = 3;

/// The JSON of `leaks`; a shape of the package's interface (README).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Leaks {
    /// Objects of the third snapshot allocated after the first and alive in the second.
    pub objects: u64,
    /// Their self sizes (DevTools' adjusted sizes) in all.
    pub self_size: u64,
    /// Where they are held, by retained size (descending), then count, then path.
    pub groups: Vec<LeakGroup>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LeakGroup {
    /// The leak roots' path from the roots, collection keys as `[*]`.
    pub retainer_path: String,
    /// The leak roots' class.
    pub name: String,
    /// Leak roots.
    pub count: u64,
    /// New objects in all: the leak roots and the new objects counted with them.
    pub objects: u64,
    /// The self sizes of those objects.
    pub self_size: u64,
    /// What the leak roots retain in the third snapshot.
    pub retained_size: u64,
    /// Ids of the first leak roots (by id).
    pub examples: Vec<u32>,
}

/// Reads the three snapshots (one at a time: of the first two only the ids are kept) and finds
/// the objects leaked between them.
pub fn find_leaks(first: &Path, second: &Path, third: &Path) -> Result<Leaks, ParseError> {
    let before = sorted_ids(&read_snapshot(first)?);
    let during = sorted_ids(&read_snapshot(second)?);
    Ok(leaks_in(&before, &during, &read_snapshot(third)?))
}

/// A snapshot's node ids, sorted, each once.
pub fn sorted_ids(s: &Snapshot) -> Vec<u32> {
    let mut ids = s.node_id.clone();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// The leaks in `last`: objects whose id is in `during` (sorted) and not in `before` (sorted).
pub fn leaks_in(before: &[u32], during: &[u32], last: &Snapshot) -> Leaks {
    let m = Model::new(last);
    let g = &m.g;
    let n = g.len();
    let paths = UserPaths::new(&m);
    let is_new: Vec<bool> = (0..n)
        .map(|v| {
            let id = g.id(v);
            v != ROOT
                && paths.reached[v]
                && g.node_type(v) != m.t.synthetic
                && before.binary_search(&id).is_err()
                && during.binary_search(&id).is_ok()
        })
        .collect();
    let storage = |v: usize| {
        let ty = g.node_type(v);
        ty == m.t.hidden || ty == m.t.array || ty == m.t.code || ty == m.t.object_shape
    };
    let parent = |v: usize| {
        let e = paths.parent_edge[v];
        (e != crate::distances::NO_EDGE).then(|| g.source(e as usize))
    };
    // The leak root of each new object (NONE: a new storage node under no new object).
    const NONE: u32 = u32::MAX;
    const UNKNOWN: u32 = u32::MAX - 1;
    let mut root_of = vec![UNKNOWN; n];
    let mut chain = Vec::new();
    for v in 0..n {
        if !is_new[v] || root_of[v] != UNKNOWN {
            continue;
        }
        // Up the path while the nodes are new and not yet known.
        chain.clear();
        let mut at = v;
        let mut above = NONE;
        loop {
            chain.push(at);
            match parent(at) {
                Some(p) if is_new[p] => {
                    if root_of[p] != UNKNOWN {
                        above = root_of[p];
                        break;
                    }
                    at = p;
                }
                _ => break,
            }
        }
        // Down again: a node under a leak root belongs to it; else it is one, unless storage.
        for &x in chain.iter().rev() {
            above = if above != NONE {
                above
            } else if storage(x) {
                NONE
            } else {
                x as u32
            };
            root_of[x] = above;
        }
    }
    // Leak roots inside another's retained subtree: that one's retained size counts them.
    let is_root: Vec<bool> = (0..n).map(|v| root_of[v] == v as u32).collect();
    let mut covered = vec![0u8; n]; // 0 unknown, 1 under a leak root, 2 not
    let mut stack = Vec::new();
    let mut outermost = |v: usize| -> bool {
        stack.clear();
        let mut d = m.idom[v] as usize;
        let mut answer = 2;
        while d != ROOT && d < n {
            if is_root[d] || covered[d] == 1 {
                answer = 1;
                break;
            }
            if covered[d] == 2 {
                break;
            }
            stack.push(d);
            let up = m.idom[d] as usize;
            if up == d {
                break;
            }
            d = up;
        }
        for &x in &stack {
            covered[x] = answer;
        }
        answer == 2
    };
    let containers = Containers::new(&m);
    let mut groups: HashMap<String, LeakGroup> = HashMap::new();
    let mut group_of_root: HashMap<u32, String> = HashMap::new();
    let mut total = (0u64, 0u64);
    let roots: Vec<usize> = (0..n).filter(|&v| is_root[v]).collect();
    let mut index = PathIndex::new(&m);
    for v in roots {
        let path = user_path(&m, &paths, &containers, v, true, Some(&mut index));
        let group = groups.entry(path.clone()).or_insert_with(|| LeakGroup {
            retainer_path: path.clone(),
            name: crate::report::class_of(&m, v),
            count: 0,
            objects: 0,
            self_size: 0,
            retained_size: 0,
            examples: Vec::new(),
        });
        group.count += 1;
        if outermost(v) {
            group.retained_size += m.retained[v];
        }
        if group.examples.len() < EXAMPLES {
            group.examples.push(g.id(v));
        }
        group_of_root.insert(v as u32, path);
    }
    for v in 0..n {
        if !is_new[v] {
            continue;
        }
        total.0 += 1;
        total.1 += m.self_size.get(v);
        if let Some(group) = group_of_root
            .get(&root_of[v])
            .and_then(|p| groups.get_mut(p))
        {
            group.objects += 1;
            group.self_size += m.self_size.get(v);
        }
    }
    let mut groups: Vec<LeakGroup> = groups.into_values().collect();
    for group in &mut groups {
        group.examples.sort_unstable();
    }
    groups.sort_by(|a, b| {
        b.retained_size
            .cmp(&a.retained_size)
            .then(b.count.cmp(&a.count))
            .then_with(|| a.retainer_path.cmp(&b.retainer_path))
    });
    Leaks {
        objects: total.0,
        self_size: total.1,
        groups,
    }
}

/// The readable report: the totals, then the top `top` groups.
pub fn leaks_text(l: &Leaks, top: usize) -> String {
    let mut out = format!(
        "{} objects ({}) allocated after the first snapshot are alive in the second and the third\n",
        grouped(l.objects),
        human_size(l.self_size)
    );
    if l.groups.is_empty() {
        return out;
    }
    out.push_str(&format!(
        "\nWhere they are held in the third, by retained size (top {} of {} groups; Count: the new \
         objects held there, Objects: with the new objects under them):\n",
        top.min(l.groups.len()),
        l.groups.len()
    ));
    out.push_str(&format!(
        "{:>10} {:>10} {:>10}  Retainer path (examples)\n",
        "Retained", "Count", "Objects"
    ));
    for group in l.groups.iter().take(top) {
        let examples: Vec<String> = group.examples.iter().map(|id| format!("@{id}")).collect();
        out.push_str(&format!(
            "{:>10} {:>10} {:>10}  {}  ({})\n",
            human_size(group.retained_size),
            grouped(group.count),
            grouped(group.objects),
            group.retainer_path,
            examples.join(" ")
        ));
    }
    out
}
