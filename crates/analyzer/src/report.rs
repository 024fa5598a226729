//! What `analyze` answers: totals, the top classes of the Summary view, and the largest objects,
//! each with its shortest retainer path from the roots. The JSON shape is part of the package's
//! interface (README, `index.d.ts`): add fields, never rename or remove them.

use serde::Serialize;

use crate::distances::NO_EDGE;
use crate::dominators::Csr;
use crate::graph::ROOT;
use crate::snapshot::Location;
use crate::snapshot::Snapshot;
use crate::strings::{duplicate_strings, DuplicateStrings};
use crate::summary::{ClassRow, Model};
use crate::suspects::{suspects, Suspect, SUSPECT_SHARE};

/// How much to report.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Classes, by retained size.
    pub top: usize,
    /// Largest objects.
    pub objects: usize,
    /// Duplicated string texts listed.
    pub strings: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            top: 10,
            objects: 5,
            strings: 10,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Analysis {
    pub node_count: u64,
    pub edge_count: u64,
    /// The root's retained size (every node's adjusted self size) plus V8's extra native bytes:
    /// the total DevTools shows.
    pub total_size: u64,
    /// The leak suspects, largest first (`suspects.rs`).
    pub suspects: Vec<Suspect>,
    /// The top classes by retained size, descending.
    pub classes: Vec<ClassSummary>,
    pub largest_objects: Vec<LargeObject>,
    /// Strings of equal text, and the bytes their copies waste (`strings.rs`).
    pub duplicate_strings: DuplicateStrings,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClassSummary {
    pub name: String,
    pub count: u64,
    pub self_size: u64,
    pub retained_size: u64,
    /// Only for classes DevTools splits by their constructor's location.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LargeObject {
    /// The node's id in the snapshot (`@id` in DevTools).
    pub id: u32,
    /// Its class, as in `classes`.
    pub name: String,
    /// V8's node type (`object`, `closure`, `string`, ...).
    #[serde(rename = "type")]
    pub node_type: String,
    pub self_size: u64,
    pub retained_size: u64,
    /// The shortest path from a root, e.g. `global.logs (Array) -> [123] (LogEntry)`.
    pub retainer_path: String,
}

impl From<ClassRow> for ClassSummary {
    fn from(r: ClassRow) -> Self {
        ClassSummary {
            name: r.name,
            count: r.count,
            self_size: r.self_size,
            retained_size: r.retained_size,
            location: r.location,
        }
    }
}

/// Analyzes a snapshot.
pub fn analyze(s: &Snapshot, limits: Limits) -> Analysis {
    let m = Model::new(s);
    crate::phases::mark("model");
    let tree = m.dominated();
    crate::phases::mark("dominator tree");
    let suspects = suspects(&m, &tree);
    crate::phases::mark("suspects");
    let largest_objects = largest_objects(&m, &tree, limits.objects);
    crate::phases::mark("largest objects");
    let mut rows = m.rows_in(&tree);
    rows.truncate(limits.top);
    crate::phases::mark("class rows");
    let duplicate_strings = duplicate_strings(&m, limits.strings);
    crate::phases::mark("duplicate strings");
    Analysis {
        node_count: u64::from(s.node_count),
        edge_count: u64::from(s.edge_count),
        total_size: m.total_size(),
        suspects,
        classes: rows.into_iter().map(ClassSummary::from).collect(),
        largest_objects,
        duplicate_strings,
    }
}

/// A node worth reporting as an object: not the root, not synthetic, not V8's internals (hidden,
/// code, internal arrays, maps): those are where the memory of real objects sits, not what holds it.
fn reportable(m: &Model, v: usize) -> bool {
    let t = &m.t;
    let ty = m.g.node_type(v);
    v != ROOT
        && ty != t.synthetic
        && ty != t.hidden
        && ty != t.code
        && ty != t.array
        && ty != t.object_shape
        && m.self_size.get(v) > 0
}

/// The objects that retain the most. An object gives way to one it dominates that retains at least
/// half as much and is of another class (so `global` gives way to `global.logs`, and `global.logs`
/// stays when no single entry dominates); an object inside one already listed is not listed when it
/// retains at least half as much or is of the same class (so a linked list or a tree shows as its
/// head, not as its cells).
fn largest_objects(m: &Model, tree: &Csr, count: usize) -> Vec<LargeObject> {
    if count == 0 || m.g.len() == 0 {
        return Vec::new();
    }
    let passes_through = |v: usize| {
        let half = m.retained[v].div_ceil(2);
        let class = m.classes.of[v];
        // Children of hidden and array nodes it dominates count as its own (an array's entries
        // sit under its elements store).
        let mut todo = vec![v];
        while let Some(x) = todo.pop() {
            for &c in &tree.targets[tree.offsets[x] as usize..tree.offsets[x + 1] as usize] {
                let c = c as usize;
                if reportable(m, c) {
                    if m.retained[c] >= half && m.classes.of[c] != class {
                        return true;
                    }
                } else if m.g.node_type(c) == m.t.hidden || m.g.node_type(c) == m.t.array {
                    todo.push(c);
                }
            }
        }
        false
    };
    // The candidates by retained size, sorted a batch at a time: a few times more than needed at
    // first (most are kept), then eight times more each round, continuing where the last stopped
    // (so the rounds cost O(n log n) in all however many are passed over, as in a linked list).
    let mut candidates: Vec<u32> = (0..m.g.len() as u32)
        .filter(|&v| reportable(m, v as usize))
        .collect();
    let by_retained = |a: &u32, b: &u32| {
        m.retained[*b as usize]
            .cmp(&m.retained[*a as usize])
            .then(a.cmp(b))
    };
    let mut listed = Listed::new(m);
    let mut chosen: Vec<usize> = Vec::new();
    let mut done = 0;
    let mut batch = count * 16;
    while chosen.len() < count && done < candidates.len() {
        let rest = &mut candidates[done..];
        let take = batch.min(rest.len());
        if rest.len() > take {
            rest.select_nth_unstable_by(take, by_retained);
        }
        let top = &mut rest[..take];
        top.sort_unstable_by(by_retained);
        for &v in top.iter() {
            let v = v as usize;
            if chosen.len() == count {
                break;
            }
            if let Some(z) = listed.innermost_above(v) {
                if m.retained[v] * 2 >= m.retained[z] || m.classes.of[v] == m.classes.of[z] {
                    continue;
                }
            }
            if !passes_through(v) {
                listed.add(v);
                chosen.push(v);
            }
        }
        done += take;
        batch = batch.saturating_mul(8);
    }
    chosen
        .into_iter()
        .map(|v| LargeObject {
            id: m.g.id(v),
            name: class_of(m, v),
            node_type: m.g.type_name(v).to_owned(),
            self_size: m.self_size.get(v),
            retained_size: m.retained[v],
            retainer_path: retainer_path(m, v),
        })
        .collect()
}

/// The listed objects, and for each node the nearest listed node above it in the dominator tree,
/// found by walking up with path compression: each node remembers how far up it is known that
/// nothing is listed. That stays true as more are listed, because candidates come by decreasing
/// retained size and a reportable node (self size > 0) retains strictly more than any node it
/// dominates: every node above a candidate was judged before it, and a later listing is below
/// every node walked so far. So a linked list of a million cells costs about a million steps, not
/// half a million million.
struct Listed {
    /// A node above each node (at first its immediate dominator) with nothing listed between.
    up: Vec<u32>,
    listed: Vec<bool>,
    path: Vec<u32>,
}

impl Listed {
    fn new(m: &Model) -> Listed {
        Listed {
            up: m.idom.clone(),
            listed: vec![false; m.g.len()],
            path: Vec::new(),
        }
    }

    fn add(&mut self, v: usize) {
        self.listed[v] = true;
    }

    /// The nearest listed node strictly above `v` in the dominator tree.
    fn innermost_above(&mut self, v: usize) -> Option<usize> {
        let mut d = v;
        self.path.clear();
        loop {
            self.path.push(d as u32);
            d = self.up[d] as usize;
            if d == ROOT || self.listed[d] {
                break;
            }
        }
        for &x in &self.path {
            self.up[x as usize] = d as u32;
        }
        (d != ROOT).then_some(d)
    }
}

pub(crate) fn class_of(m: &Model, v: usize) -> String {
    match m.classes.list.get(m.classes.of[v] as usize) {
        Some(c) => c.name.clone(),
        None => crate::classes::class_name(&m.g, &m.t, v),
    }
}

/// The most steps a path shows; longer paths keep their first and last steps.
const MAX_PATH_STEPS: usize = 12;

/// `holder.edge (Class) -> edge (Class) -> ...` from the first node below the root down to `v`.
fn retainer_path(m: &Model, v: usize) -> String {
    if !m.distances.reached(v) {
        return "(unreachable: held only by weak references, or by nothing)".into();
    }
    let mut steps = Vec::new();
    let mut at = v;
    while m.distances.parent_edge[at] != NO_EDGE {
        let e = m.distances.parent_edge[at] as usize;
        steps.push(e);
        at = m.g.source(e);
    }
    steps.reverse();
    // Paths from the root start at the root's child, named.
    if at == ROOT && !steps.is_empty() {
        at = m.g.target(steps.remove(0));
    }
    let synthetic = |n: usize| m.g.node_type(n) == m.t.synthetic;
    let mut text = one_line(m.g.name(at));
    let shown = steps.len();
    for (i, &e) in steps.iter().enumerate() {
        if shown > MAX_PATH_STEPS && i >= MAX_PATH_STEPS / 2 && i < shown - MAX_PATH_STEPS / 2 {
            if i == MAX_PATH_STEPS / 2 {
                text.push_str(&format!(" -> ... {} more ...", shown - MAX_PATH_STEPS));
            }
            continue;
        }
        let c = m.g.target(e);
        // GC root groups are named, not reached by a meaningful edge: `(GC roots) -> (Stack roots)`.
        if synthetic(c) {
            text.push_str(" -> ");
            text.push_str(&one_line(m.g.name(c)));
            continue;
        }
        let edge = match m.g.edge_name(e) {
            Some(name) => one_line(name),
            None => format!("[{}]", m.g.edge_name_or_index(e)),
        };
        if i == 0 && !synthetic(at) {
            // `global.logs`, `global[3]`
            if !edge.starts_with('[') {
                text.push('.');
            }
        } else {
            text.push_str(" -> ");
        }
        text.push_str(&edge);
        text.push_str(&format!(" ({})", class_of(m, c)));
    }
    if steps.is_empty() {
        text = class_of(m, v);
    }
    text
}

/// A name as one short line: control characters become spaces, and long names are cut at 80
/// characters.
pub(crate) fn one_line(name: &str) -> String {
    let mut out: String = name
        .chars()
        .take(80)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if name.chars().nth(80).is_some() {
        out.push('\u{2026}');
    }
    out
}

/// Sizes for people: `512 B`, `1.5 kB`, `89.6 MB` (powers of 1000, as DevTools shows them).
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// `1234567` as `1,234,567`.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The leak suspects, first in the readable report: each with its share of the heap, its path,
/// and the classes of what it holds.
fn write_suspects(f: &mut std::fmt::Formatter<'_>, suspects: &[Suspect]) -> std::fmt::Result {
    let percent = (SUSPECT_SHARE * 100.0).round();
    if suspects.is_empty() {
        return writeln!(
            f,
            "Leak suspects: none (no object of the app holds {percent}% of the heap or more)"
        );
    }
    writeln!(
        f,
        "Leak suspects (objects of the app holding {percent}% of the heap or more, where it piles up):"
    )?;
    for (i, s) in suspects.iter().enumerate() {
        writeln!(
            f,
            "{:>3}. {:>9} {:>4.0}%  {}  @{}",
            i + 1,
            human_size(s.retained_size),
            s.share * 100.0,
            s.retainer_path,
            s.id
        )?;
        for e in &s.elements {
            writeln!(
                f,
                "{:>25} x {}  {}",
                grouped(e.count),
                one_line(&e.name),
                human_size(e.retained_size)
            )?;
        }
    }
    Ok(())
}

/// The readable report (`analyze` without `--json`, and the summary printed after an OOM dump).
impl std::fmt::Display for Analysis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{} nodes, {} edges, {} in all",
            grouped(self.node_count),
            grouped(self.edge_count),
            human_size(self.total_size)
        )?;
        writeln!(f)?;
        write_suspects(f, &self.suspects)?;
        writeln!(f)?;
        writeln!(
            f,
            "Top {} classes by retained size (Chrome DevTools' Summary view):",
            self.classes.len()
        )?;
        writeln!(
            f,
            "{:>12} {:>10} {:>10} {:>5}  Class",
            "Count", "Shallow", "Retained", "%"
        )?;
        for c in &self.classes {
            let share = if self.total_size > 0 {
                c.retained_size as f64 * 100.0 / self.total_size as f64
            } else {
                0.0
            };
            let place = match c.location {
                Some(l) => format!("  (script {}, line {})", l.script_id, l.line + 1),
                None => String::new(),
            };
            writeln!(
                f,
                "{:>12} {:>10} {:>10} {:>4.0}%  {}{place}",
                grouped(c.count),
                human_size(c.self_size),
                human_size(c.retained_size),
                share,
                one_line(&c.name)
            )?;
        }
        if !self.largest_objects.is_empty() {
            writeln!(f)?;
            writeln!(
                f,
                "Largest objects by retained size, with their shortest path from a root:"
            )?;
            for o in &self.largest_objects {
                writeln!(
                    f,
                    "{:>10}  {} @{}: {}",
                    human_size(o.retained_size),
                    one_line(&o.name),
                    o.id,
                    o.retainer_path
                )?;
            }
        }
        write_duplicate_strings(f, &self.duplicate_strings, self.total_size)
    }
}

/// Duplicate strings: what they waste, and the texts that waste the most (quoted and escaped as
/// Rust debug strings, so a control character or a quote cannot break the line).
fn write_duplicate_strings(
    f: &mut std::fmt::Formatter<'_>,
    d: &DuplicateStrings,
    total: u64,
) -> std::fmt::Result {
    writeln!(f)?;
    if d.values == 0 {
        return writeln!(f, "Duplicate strings: none");
    }
    let share = if total > 0 {
        d.wasted_size as f64 * 100.0 / total as f64
    } else {
        0.0
    };
    writeln!(
        f,
        "Duplicate strings: {} wasted ({share:.1}% of the heap) by {} copies of {} texts:",
        human_size(d.wasted_size),
        grouped(d.copies),
        grouped(d.values)
    )?;
    writeln!(f, "{:>10} {:>12} {:>10}  Text", "Wasted", "Copies", "Each")?;
    for s in &d.top {
        writeln!(
            f,
            "{:>10} {:>12} {:>10}  {:?}{}",
            human_size(s.wasted_size),
            grouped(s.count),
            human_size(s.self_size),
            s.value,
            if s.truncated { "\u{2026}" } else { "" }
        )?;
    }
    Ok(())
}
