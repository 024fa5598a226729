//! Leak suspects, as Eclipse MAT opens with them: the few objects that hold most of the heap, each
//! at its accumulation point (the collection where the memory piles up), with the path a user
//! would write to reach it and the classes of what it holds.
//!
//! The rule (README, Analyzer): walk the dominator tree from the root, only into nodes that retain
//! at least [`SUSPECT_SHARE`] of the heap. V8's and Node's containers (the root and the GC roots,
//! the global object, contexts and closures, hidden and internal arrays, code) are passed through,
//! never reported. From a node, while its children of that size together retain more than
//! [`DOMINANT_SHARE`] of it, the memory is theirs: go down into each. Where it is spread over many
//! smaller children instead, the user object whose storage this is (the collection above its
//! backing store or hash table, found by a chain of single steps) is the accumulation point,
//! reported once; nothing under it is reported again. A scope (a closure, a context, the global
//! object) belongs to no object: where memory spreads there, each of its children of that size is
//! looked at on its own. A chain of one class (a linked list, a tree, a string built by `+=`) stops
//! at its head. Each node is visited at most once and each child list scanned once: linear; the
//! elements are counted over the reported subtrees, which are disjoint: linear too.

use serde::Serialize;

use crate::classes::{kept, NO_CLASS};
use crate::distances::NO_EDGE;
use crate::dominators::Csr;
use crate::graph::ROOT;
use crate::report::{class_of, one_line};
use crate::summary::Model;

/// A suspect retains at least this share of the heap (Eclipse MAT's default for its Leak Suspects
/// report): 10% singles out the few structures that matter on a leaking heap, where the leak
/// typically holds well over half, and leaves out the caches and module state every app has.
pub const SUSPECT_SHARE: f64 = 0.10;

/// Going down the dominator tree continues while the children that are suspects by size hold more
/// than this share of their parent (MAT uses 80% for its accumulation point too): a collection's
/// backing store holds all of it, a wrapper object nearly all; a collection's entries each hold
/// little.
pub const DOMINANT_SHARE: f64 = 0.80;

/// The most parts a path shows (`global`, `.audit`, `.entries` are three); longer paths keep their
/// first and last parts.
const MAX_PATH_PARTS: usize = 12;

/// How many classes of what a suspect holds are reported.
pub const ELEMENT_CLASSES: usize = 5;

/// One leak suspect: an accumulation point.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Suspect {
    /// The node id (`@id` in DevTools).
    pub id: u32,
    /// Its class, as in `classes`.
    pub name: String,
    /// V8's node type.
    #[serde(rename = "type")]
    pub node_type: String,
    pub retained_size: u64,
    /// `retainedSize` as a fraction of `totalSize`.
    pub share: f64,
    /// How a user reaches it: `global.audit.entries (Array)`, `sessionCache (Map) in the closure
    /// of handleRequest`.
    pub retainer_path: String,
    /// The classes of what it holds, by retained size, descending (the first few).
    pub elements: Vec<Element>,
}

/// One class of what a suspect holds.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Element {
    pub name: String,
    /// Objects of the class under the suspect (in its dominator subtree).
    pub count: u64,
    /// What they retain (members not under another member of the class, as in `classes`).
    pub retained_size: u64,
}

/// Nodes that are V8's or Node's containers, never a suspect: the root, synthetic nodes (GC roots,
/// `(Global handles)`), the global object, `system / ...` objects (contexts), closures, and the
/// internal kinds (hidden, arrays, code, shapes).
pub(crate) struct Containers {
    global: Vec<bool>,
}

impl Containers {
    pub(crate) fn new(m: &Model) -> Containers {
        let g = &m.g;
        let mut global = vec![false; g.len()];
        if g.len() > 0 {
            // The user roots (Node's `global` up to Node 24), and the global object and its proxy
            // where the root links to the native context (Node 26).
            for e in g.edges(ROOT) {
                let c = g.target(e);
                if g.node_type(c) != m.t.synthetic {
                    global[c] = true;
                }
            }
            for v in 0..g.len() {
                if g.node_type(v) == m.t.hidden && g.name(v) == "system / NativeContext" {
                    for e in g.edges(v) {
                        if matches!(
                            g.edge_name(e),
                            Some("global_object" | "global_proxy_object")
                        ) {
                            global[g.target(e)] = true;
                        }
                    }
                }
            }
        }
        Containers { global }
    }

    /// A container that is a scope, not an object's storage: the root and the GC roots, the
    /// global object, closures and their contexts. The memory under it is not its holder's.
    fn is_scope(&self, m: &Model, v: usize) -> bool {
        let ty = m.g.node_type(v);
        v == ROOT
            || self.global[v]
            || ty == m.t.synthetic
            || ty == m.t.closure
            || matches!(m.g.name(v), "system / Context" | "system / NativeContext")
    }

    fn is(&self, m: &Model, v: usize) -> bool {
        let t = &m.t;
        let ty = m.g.node_type(v);
        v == ROOT
            || self.global[v]
            || ty == t.synthetic
            || ty == t.hidden
            || ty == t.array
            || ty == t.code
            || ty == t.object_shape
            || ty == t.closure
            || m.g.name(v).starts_with("system / ")
    }
}

/// The leak suspects, largest first.
pub(crate) fn suspects(m: &Model, tree: &Csr) -> Vec<Suspect> {
    let total = m.total_size();
    if m.g.len() == 0 || total == 0 {
        return Vec::new();
    }
    let containers = Containers::new(m);
    let floor = (total as f64 * SUSPECT_SHARE).ceil() as u64;
    let children = |v: usize| &tree.targets[tree.offsets[v] as usize..tree.offsets[v + 1] as usize];
    let mut found: Vec<usize> = Vec::new();
    // (node, the user object whose memory it is: the nearest on a run of single dominant steps)
    let mut todo: Vec<(usize, Option<usize>)> = vec![(ROOT, None)];
    let mut big: Vec<usize> = Vec::new();
    while let Some((v, holder)) = todo.pop() {
        let user = !containers.is(m, v);
        let holder = if user {
            Some(v)
        } else if containers.is_scope(m, v) {
            None
        } else {
            holder
        };
        big.clear();
        big.extend(
            children(v)
                .iter()
                .map(|&c| c as usize)
                .filter(|&c| m.retained[c] >= floor),
        );
        let held: u64 = big.iter().map(|&c| m.retained[c]).sum();
        let same_class_below = user
            && big
                .iter()
                .any(|&c| m.classes.of[c] == m.classes.of[v] && m.classes.of[v] != NO_CLASS);
        let goes_down = held as f64 > DOMINANT_SHARE * m.retained[v] as f64 && !same_class_below;
        match holder {
            Some(h) if !goes_down => found.push(h),
            _ => {
                // One child carries the holder on; several split the memory, each on its own.
                let carried = if big.len() == 1 { holder } else { None };
                todo.extend(big.iter().map(|&c| (c, carried)));
            }
        }
    }
    if found.is_empty() {
        return Vec::new();
    }
    found.sort_unstable_by(|&a, &b| m.retained[b].cmp(&m.retained[a]).then(a.cmp(&b)));
    found.dedup();
    let mut counter = ElementCounter::new(m);
    let paths = UserPaths::new(m);
    found
        .into_iter()
        .map(|v| Suspect {
            id: m.g.id(v),
            name: class_of(m, v),
            node_type: m.g.type_name(v).to_owned(),
            retained_size: m.retained[v],
            share: m.retained[v] as f64 / total as f64,
            retainer_path: user_path(m, &paths, &containers, v, false, None),
            elements: counter.elements(m, tree, &containers, v),
        })
        .collect()
}

/// Counts the classes in a dominator subtree, reusing its buffers across suspects.
struct ElementCounter {
    /// Per class: members open on the walk's stack (a member under another counts in `count` only).
    open: Vec<u32>,
    count: Vec<u64>,
    retained: Vec<u64>,
    touched: Vec<u32>,
}

impl ElementCounter {
    fn new(m: &Model) -> ElementCounter {
        let n = m.classes.list.len() + m.g.s.strings.kept_len();
        ElementCounter {
            open: vec![0; n],
            count: vec![0; n],
            retained: vec![0; n],
            touched: Vec::new(),
        }
    }

    fn elements(
        &mut self,
        m: &Model,
        tree: &Csr,
        containers: &Containers,
        a: usize,
    ) -> Vec<Element> {
        // A class is counted when its member is a user object with a size (the backing stores
        // and contexts it passes through are not what the user put there).
        // Closures count by their function (`onConfig()`), after the classes.
        let classes = m.classes.list.len();
        let class = |v: usize| {
            let c = m.classes.of[v];
            if c == NO_CLASS || v == a {
                None
            } else if m.g.node_type(v) == m.t.closure {
                Some(classes + kept(&m.g, m.g.name_index(v)))
            } else {
                (!containers.is(m, v)).then_some(c as usize)
            }
        };
        // (node, next child, class it opened)
        let mut stack: Vec<(u32, u32, u32)> = vec![(a as u32, tree.offsets[a], NO_CLASS)];
        while let Some(top) = stack.last_mut() {
            let (v, next, opened) = *top;
            if next < tree.offsets[v as usize + 1] {
                top.1 += 1;
                let c = tree.targets[next as usize] as usize;
                let mut opened_c = NO_CLASS;
                if let Some(k) = class(c) {
                    if self.count[k] == 0 {
                        self.touched.push(k as u32);
                    }
                    self.count[k] += 1;
                    if self.open[k] == 0 {
                        self.retained[k] += m.retained[c];
                    }
                    self.open[k] += 1;
                    opened_c = k as u32;
                }
                stack.push((c as u32, tree.offsets[c], opened_c));
            } else {
                if opened != NO_CLASS {
                    self.open[opened as usize] -= 1;
                }
                stack.pop();
            }
        }
        let mut out: Vec<Element> = self
            .touched
            .iter()
            .map(|&k| Element {
                name: match m.classes.list.get(k as usize) {
                    Some(c) => c.name.clone(),
                    None => match m.g.s.strings.kept_text(k as usize - m.classes.list.len()) {
                        "" => "(anonymous function)".into(),
                        f => format!("{}()", one_line(f)),
                    },
                },
                count: self.count[k as usize],
                retained_size: self.retained[k as usize],
            })
            .collect();
        for &k in &self.touched {
            self.count[k as usize] = 0;
            self.retained[k as usize] = 0;
        }
        self.touched.clear();
        out.sort_by(|x, y| {
            y.retained_size
                .cmp(&x.retained_size)
                .then_with(|| y.count.cmp(&x.count))
                .then_with(|| x.name.cmp(&y.name))
        });
        out.truncate(ELEMENT_CLASSES);
        out
    }
}

/// For each node, the edge through which a breadth-first search from the roots first reached it,
/// for paths a user can read: from the user roots (the global object) first, then from the scopes
/// on the stack (`(GC roots) -> (Stack roots)`: the running functions' variables), and only last
/// through the stack's other slots and the other GC root groups, which are V8's and Node's own
/// references (`(Handle scope)`, `(Strong roots)`, `(Global handles)`, ...), so that a path goes
/// through the app's variables where there is one. Weak edges do not count. Linear.
pub(crate) struct UserPaths {
    pub(crate) parent_edge: Vec<u32>,
    pub(crate) reached: Vec<bool>,
}

impl UserPaths {
    pub(crate) fn new(m: &Model) -> UserPaths {
        let g = &m.g;
        let n = g.len();
        let mut p = UserPaths {
            parent_edge: vec![NO_EDGE; n],
            reached: vec![false; n],
        };
        if n == 0 {
            return p;
        }
        // GC root groups other than the stack: V8's and Node's own references.
        let internal_roots = |v: usize| {
            v != ROOT
                && g.node_type(v) == m.t.synthetic
                && !matches!(g.name(v), "(GC roots)" | "(Stack roots)")
        };
        // Node numbers fit 32 bits: the queue can hold most of the graph at once.
        let mut queue: std::collections::VecDeque<u32> = std::collections::VecDeque::new();
        let mut later: Vec<u32> = Vec::new();
        // The root first: an edge back to it must not give it a parent (a path would never end).
        p.reached[ROOT] = true;
        for e in g.edges(ROOT) {
            let c = g.target(e);
            if g.node_type(c) != m.t.synthetic && !p.reached[c] {
                p.reached[c] = true;
                p.parent_edge[c] = e as u32;
                queue.push_back(c as u32);
            }
        }
        for phase in 0..3 {
            match phase {
                1 => queue.push_back(ROOT as u32),
                2 => queue.extend(later.drain(..)),
                _ => {}
            }
            while let Some(v) = queue.pop_front() {
                let v = v as usize;
                if phase < 2 && internal_roots(v) {
                    later.push(v as u32);
                    continue;
                }
                // The stack's scopes first: a collection also held in a stack slot (a temporary of
                // the running function) reads by its variable's name.
                let stack =
                    phase < 2 && g.node_type(v) == m.t.synthetic && g.name(v) == "(Stack roots)";
                if stack {
                    later.push(v as u32);
                }
                for e in g.edges(v) {
                    let c = g.target(e);
                    if stack && g.name(c) != "system / Context" {
                        continue;
                    }
                    if g.edge_type(e) != m.t.weak && !p.reached[c] {
                        p.reached[c] = true;
                        p.parent_edge[c] = e as u32;
                        queue.push_back(c as u32);
                    }
                }
            }
        }
        p
    }
}

/// The path from a root to `v`, written as a user would: `global.audit.entries (Array)`; from a
/// function's scope on, `sessionCache (Map) in the closure of handleRequest` (or `in a module's
/// scope`, for a module's variables reached from the stack). The expression starts again at each
/// global object and at each variable of a scope.
///
/// With `any_key`, the path stands for every object held the same way (a group of leak traces, as
/// memlab groups them): element indexes and numeric keys read `[*]`, and so does the last step's
/// key where the holder is a collection keyed by strings (more than [`MANY_KEYS`] properties).
///
/// With `index` (many paths to write: the leak roots of `leaks`), a path of any depth is written
/// in a bounded number of steps; without, it is walked from the root.
pub(crate) fn user_path(
    m: &Model,
    paths: &UserPaths,
    containers: &Containers,
    v: usize,
    any_key: bool,
    index: Option<&mut PathIndex>,
) -> String {
    if !paths.reached[v] {
        return format!(
            "{} (unreachable: held only by weak references, or by nothing)",
            class_of(m, v)
        );
    }
    let g = &m.g;
    let t = &m.t;
    let walk = match index {
        Some(index) => index.walk(m, paths, containers, v),
        None => Walk::from_root(m, paths, v),
    };
    // The expression in parts: where it starts, then `.name`, `[3]`, ` -> table` each.
    let mut expr: Vec<String> = Vec::new();
    // The function whose scope the path entered last, and whether it is in one now.
    let mut function: Option<String> = walk.function;
    let mut in_scope: Option<String> = None;
    let last = walk.edges.len().saturating_sub(1);
    for (i, e) in walk.edges.into_iter().enumerate() {
        if let Some((at, hidden)) = walk.gap {
            if i == at {
                expr.push(format!(" ... {hidden} more ... "));
            }
        }
        let from = g.source(e);
        let c = g.target(e);
        if containers.global[c] {
            expr = vec!["global".into()];
            function = None;
            in_scope = None;
            continue;
        }
        if g.node_type(c) == t.synthetic {
            expr = vec![one_line(g.name(c))];
            function = None;
            in_scope = None;
            continue;
        }
        let et = g.edge_type(e);
        let name = g.edge_name(e);
        if g.node_type(from) == t.closure && et == t.internal && name == Some("context") {
            let f = g.name(from);
            function = Some(if f.is_empty() {
                "an anonymous function".into()
            } else {
                one_line(f)
            });
            continue;
        }
        if et == t.internal && name == Some("previous") && g.name(c) == "system / Context" {
            continue;
        }
        match name {
            Some(n) if et == t.context => {
                expr = vec![one_line(n)];
                in_scope = Some(match function.take() {
                    Some(f) => format!("in the closure of {f}"),
                    None if module_scope(m, from) => "in a module's scope".into(),
                    None => "in a running function's scope".into(),
                });
            }
            Some(n)
                if any_key
                    && (et == t.property || et == t.shortcut)
                    && !expr.is_empty()
                    && ((!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                        || (i == last && many_keys(m, from))) =>
            {
                expr.push("[*]".into());
            }
            Some(n) if et == t.property || et == t.shortcut => {
                let n = one_line(n);
                expr.push(if expr.is_empty() {
                    n
                } else if is_identifier(&n) {
                    format!(".{n}")
                } else if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) {
                    format!("[{n}]")
                } else {
                    format!("[{}]", serde_json::Value::from(n))
                });
            }
            Some(n) => {
                // V8's internal links (a Map's table, a bound function's target): named as V8 does
                // (a hash table's slots are numbered).
                let sep = if expr.is_empty() { "" } else { " -> " };
                if any_key && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) {
                    expr.push(format!("{sep}[*]"));
                } else {
                    expr.push(format!("{sep}{}", one_line(n)));
                }
            }
            None if any_key => expr.push("[*]".into()),
            None => expr.push(format!("[{}]", g.edge_name_or_index(e))),
        }
    }
    // A long chain keeps its first and last steps.
    if walk.gap.is_none() && expr.len() > MAX_PATH_PARTS {
        let hidden = expr.len() - MAX_PATH_PARTS;
        expr.splice(
            MAX_PATH_PARTS / 2..expr.len() - MAX_PATH_PARTS / 2,
            [format!(" ... {hidden} more ... ")],
        );
    }
    let expr = expr.concat();
    let mut text = format!("{expr} ({})", class_of(m, v));
    if let Some(scope) = in_scope {
        text.push(' ');
        text.push_str(&scope);
    }
    text
}

/// The edges a path is written from: from the root, or from where its expression starts again,
/// with the function whose closure it entered just before (see [`PathIndex`]); `gap`: before the
/// edge at this index, so many edges of a long chain are left out.
struct Walk {
    edges: Vec<usize>,
    function: Option<String>,
    gap: Option<(usize, usize)>,
}

impl Walk {
    fn from_root(m: &Model, paths: &UserPaths, v: usize) -> Walk {
        let mut edges = Vec::new();
        let mut at = v;
        while paths.parent_edge[at] != NO_EDGE {
            let e = paths.parent_edge[at] as usize;
            edges.push(e);
            at = m.g.source(e);
        }
        edges.reverse();
        Walk {
            edges,
            function: None,
            gap: None,
        }
    }
}

/// Edges a path written through [`PathIndex`] shows before the gap (after the one its expression
/// starts with) and after it: the parts [`MAX_PATH_PARTS`] keeps of a chain.
const HEAD_EDGES: u32 = (MAX_PATH_PARTS / 2 - 1) as u32;
const TAIL_EDGES: u32 = (MAX_PATH_PARTS / 2) as u32;
/// Longer than this from where it starts again, a path is written with a gap.
const GAP_AFTER: u32 = 64;
/// The most edges looked up for the function a scope's variable is in.
const FUNCTION_LOOKUP: usize = 64;

/// For writing many paths (any number of leak roots) in bounded steps each, however deep: a
/// path's expression starts again at each global object, GC root group and scope variable (the
/// steps above do not show, except the closure whose scope it entered), so each node's path is
/// written from its `start` (the nearest such node above it, or the root), `steps` edges above
/// it, with a gap in the middle when long: the first edges from `head` (the node [`HEAD_EDGES`]
/// below the start) up, the last from the node itself. Filled lazily, each node once.
pub(crate) struct PathIndex {
    start: Vec<u32>,
    steps: Vec<u32>,
    head: Vec<u32>,
}

const UNKNOWN: u32 = u32::MAX;

impl PathIndex {
    pub(crate) fn new(m: &Model) -> PathIndex {
        let n = m.g.len();
        PathIndex {
            start: vec![UNKNOWN; n],
            steps: vec![0; n],
            head: vec![UNKNOWN; n],
        }
    }

    /// Whether the expression starts again at `v` (the edge that reached it names a global object,
    /// a GC root group or a scope's variable; or it is the root).
    fn starts_again(m: &Model, paths: &UserPaths, containers: &Containers, v: usize) -> bool {
        let e = paths.parent_edge[v];
        if e == NO_EDGE {
            return true;
        }
        let e = e as usize;
        containers.global[v]
            || m.g.node_type(v) == m.t.synthetic
            || (m.g.edge_type(e) == m.t.context && m.g.edge_name(e).is_some())
    }

    /// Fills `v` and the nodes above it not filled yet.
    fn fill(&mut self, m: &Model, paths: &UserPaths, containers: &Containers, v: usize) {
        let mut chain = Vec::new();
        let mut at = v;
        while self.start[at] == UNKNOWN {
            chain.push(at);
            if Self::starts_again(m, paths, containers, at) {
                break;
            }
            at = m.g.source(paths.parent_edge[at] as usize);
        }
        for &x in chain.iter().rev() {
            if Self::starts_again(m, paths, containers, x) {
                (self.start[x], self.steps[x], self.head[x]) = (x as u32, 0, UNKNOWN);
                continue;
            }
            let p = m.g.source(paths.parent_edge[x] as usize);
            let steps = self.steps[p].saturating_add(1);
            self.start[x] = self.start[p];
            self.steps[x] = steps;
            self.head[x] = match steps.cmp(&HEAD_EDGES) {
                std::cmp::Ordering::Less => UNKNOWN,
                std::cmp::Ordering::Equal => x as u32,
                std::cmp::Ordering::Greater => self.head[p],
            };
        }
    }

    fn walk(&mut self, m: &Model, paths: &UserPaths, containers: &Containers, v: usize) -> Walk {
        self.fill(m, paths, containers, v);
        let start = self.start[v] as usize;
        let up = |from: usize, count: u32| -> Vec<usize> {
            let mut edges: Vec<usize> = Vec::new();
            let mut at = from;
            for _ in 0..count {
                let e = paths.parent_edge[at] as usize;
                edges.push(e);
                at = m.g.source(e);
            }
            edges.reverse();
            edges
        };
        // The edge the expression starts with (none at the root), then the rest.
        let mut edges = up(start, u32::from(paths.parent_edge[start] != NO_EDGE));
        let steps = self.steps[v];
        let gap = if steps > GAP_AFTER {
            edges.extend(up(self.head[v] as usize, HEAD_EDGES));
            let at = edges.len();
            edges.extend(up(v, TAIL_EDGES));
            Some((at, (steps - HEAD_EDGES - TAIL_EDGES) as usize))
        } else {
            edges.extend(up(v, steps));
            None
        };
        Walk {
            function: Self::function_above(m, paths, containers, start),
            edges,
            gap,
        }
    }

    /// The closure whose scope the path entered just before `start`, where its expression starts
    /// again at a scope's variable: the last `context` link of a closure above it, since the path
    /// last started again.
    fn function_above(
        m: &Model,
        paths: &UserPaths,
        containers: &Containers,
        start: usize,
    ) -> Option<String> {
        let e = paths.parent_edge[start];
        if e == NO_EDGE || m.g.edge_type(e as usize) != m.t.context {
            return None;
        }
        let mut at = m.g.source(e as usize);
        for _ in 0..FUNCTION_LOOKUP {
            if Self::starts_again(m, paths, containers, at) {
                return None;
            }
            let e = paths.parent_edge[at] as usize;
            let from = m.g.source(e);
            if m.g.node_type(from) == m.t.closure
                && m.g.edge_type(e) == m.t.internal
                && m.g.edge_name(e) == Some("context")
            {
                let f = m.g.name(from);
                return Some(if f.is_empty() {
                    "an anonymous function".into()
                } else {
                    one_line(f)
                });
            }
            at = from;
        }
        None
    }
}

/// Properties beyond which an object reads as a collection keyed by strings.
const MANY_KEYS: usize = 16;

/// More than [`MANY_KEYS`] property edges.
fn many_keys(m: &Model, v: usize) -> bool {
    m.g.edges(v)
        .filter(|&e| m.g.edge_type(e) == m.t.property)
        .nth(MANY_KEYS)
        .is_some()
}

/// A context whose outer context is the native context: a module's top-level scope (CommonJS
/// wraps each module in a function; an ES module has its own scope).
fn module_scope(m: &Model, context: usize) -> bool {
    m.g.edges(context).any(|e| {
        m.g.edge_name(e) == Some("previous") && m.g.name(m.g.target(e)) == "system / NativeContext"
    })
}

/// A JavaScript identifier (ASCII letters, digits, `_` and `$`, not starting with a digit), which
/// reads as `.name`; other names read as `["name"]`.
fn is_identifier(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_' || b == b'$')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$')
}
