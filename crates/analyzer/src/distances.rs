//! Distances from the roots, as Chrome DevTools computes them (DEVTOOLS-MODEL.md 5.1), and for
//! each node the edge that first reached it, which gives a shortest retainer path.
//!
//! User roots (the root's non-synthetic children, e.g. Node's `global`) are at distance 1; then
//! the root, at 100000000 when there were user roots (0 otherwise), reaches what is left. Weak
//! edges never count, and three kinds of edge are filtered as DevTools does: `sloppy_function_map`
//! of a native context, every third entry of a descriptor array (the accessors' owners), and the
//! first of the two internal edges of a WeakMap entry (so that the value's distance comes from the
//! later of its table and its key).

use std::collections::{HashSet, VecDeque};

use crate::graph::{Graph, Types, ROOT};

/// Marks a node with no parent edge (the root, user roots, unreachable nodes).
pub const NO_EDGE: u32 = u32::MAX;

/// The breadth-first search's result. The distances themselves are not kept (a path's length is
/// its node's distance, counted from 1 at a user root, or from 100000000 at the root when there
/// are user roots).
pub(crate) struct Distances {
    /// The edge through which the breadth-first search first reached each node.
    pub parent_edge: Vec<u32>,
    /// Which nodes it reached (a bitset): the others are what DevTools shows at no distance.
    reached: Vec<u64>,
}

impl Distances {
    pub fn reached(&self, v: usize) -> bool {
        self.reached[v / 64] & (1 << (v % 64)) != 0
    }
    fn reach(&mut self, v: usize) {
        self.reached[v / 64] |= 1 << (v % 64);
    }
}

/// True when the root has children that are not synthetic (or the document DOM trees).
pub(crate) fn has_user_roots(g: &Graph, t: &Types) -> bool {
    g.edges(ROOT).any(|e| is_user_root(g, t, g.target(e)))
}

fn is_user_root(g: &Graph, t: &Types, v: usize) -> bool {
    g.node_type(v) != t.synthetic || g.name(v) == "(Document DOM trees)"
}

pub(crate) fn distances(g: &Graph, t: &Types) -> Distances {
    let n = g.len();
    let mut d = Distances {
        parent_edge: vec![NO_EDGE; n],
        reached: vec![0; n.div_ceil(64)],
    };
    if n == 0 {
        return d;
    }
    let mut weakmap_pairs_seen: HashSet<&str> = HashSet::new();
    let mut queue = VecDeque::new();
    for e in g.edges(ROOT) {
        let c = g.target(e);
        if is_user_root(g, t, c) && !d.reached(c) {
            d.reach(c);
            queue.push_back(c as u32);
        }
    }
    bfs(g, t, &mut d, &mut queue, &mut weakmap_pairs_seen);
    d.reach(ROOT);
    queue.push_back(ROOT as u32);
    bfs(g, t, &mut d, &mut queue, &mut weakmap_pairs_seen);
    d
}

fn bfs<'a>(
    g: &Graph<'a>,
    t: &Types,
    d: &mut Distances,
    queue: &mut VecDeque<u32>,
    weakmap_pairs_seen: &mut HashSet<&'a str>,
) {
    while let Some(v) = queue.pop_front() {
        let v = v as usize;
        for e in g.edges(v) {
            let c = g.target(e);
            if g.edge_type(e) == t.weak || d.reached(c) {
                continue;
            }
            if !edge_counts(g, t, v, e, weakmap_pairs_seen) {
                continue;
            }
            d.reach(c);
            d.parent_edge[c] = e as u32;
            queue.push_back(c as u32);
        }
    }
}

/// DevTools' distance filter (`JSHeapSnapshot.calculateDistances`).
fn edge_counts<'a>(
    g: &Graph<'a>,
    t: &Types,
    from: usize,
    e: usize,
    weakmap_pairs_seen: &mut HashSet<&'a str>,
) -> bool {
    let ty = g.node_type(from);
    if ty == t.hidden
        && g.name(from) == "system / NativeContext"
        && g.edge_name(e) == Some("sloppy_function_map")
    {
        return false;
    }
    if ty == t.array && g.name(from) == "(map descriptors)" {
        let index = match g.edge_name(e) {
            Some(name) => js_parse_int(name),
            None => Some(i64::from(g.edge_name_or_index(e))),
        };
        if index.is_some_and(|i| i >= 2 && i % 3 == 1) {
            return false;
        }
    }
    if g.edge_type(e) == t.internal {
        if let Some((pair, _)) = g.edge_name(e).and_then(weakmap_edge) {
            // The first edge of a pair is refused, the second allowed (and the pair forgotten).
            return !weakmap_pairs_seen.insert(pair) && weakmap_pairs_seen.remove(pair);
        }
    }
    true
}

/// JavaScript's `parseInt(text, 10)`: leading whitespace, a sign, then the digits there are
/// (None where JavaScript gives NaN).
fn js_parse_int(text: &str) -> Option<i64> {
    let t = text.trim_start();
    let (negative, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    let value = t[..digits.min(18)].parse::<i64>().ok()?;
    Some(if negative { -value } else { value })
}

/// For an internal edge named like `12 / part of key (Object @3) -> value (Object @5) pair in
/// WeakMap (table @7)` (DevTools' pattern, exactly), the text after the leading number, which both
/// edges of the entry share, and the table's node id.
pub(crate) fn weakmap_edge(name: &str) -> Option<(&str, u64)> {
    let digits = name.bytes().take_while(u8::is_ascii_digit).count();
    let pair = &name[digits..];
    let middle = pair.strip_prefix(" / part of key (")?;
    let (middle, table) = middle
        .strip_suffix(')')?
        .rsplit_once(") pair in WeakMap (table @")?;
    let table_id = all_digits(table)?;
    // middle is `K @k) -> value (V @v`: some split of it must fit. A side fits when it ends with
    // " @" and digits (what follows its last " @" is all digits), checked from its end so that
    // trying every split costs O(length), not O(length²).
    let value_ok = |v: &str| {
        let digits = v.bytes().rev().take_while(u8::is_ascii_digit).count();
        digits > 0 && v[..v.len() - digits].ends_with(" @")
    };
    let fits = middle
        .match_indices(") -> value (")
        .any(|(i, sep)| value_ok(&middle[..i]) && value_ok(&middle[i + sep.len()..]));
    (digits > 0 && fits).then_some((pair, table_id))
}

/// The number a non-empty run of ASCII digits spells (saturating: only compared with node ids).
fn all_digits(s: &str) -> Option<u64> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| {
        s.bytes().fold(0u64, |n, b| {
            n.saturating_mul(10).saturating_add(u64::from(b - b'0'))
        })
    })
}
