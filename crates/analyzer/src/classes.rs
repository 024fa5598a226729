//! Which Summary row (class) each node belongs to, by DevTools' rules (DEVTOOLS-MODEL.md 3):
//! names by node type, `<tag>` trimming, `{a, b}` names of plain objects from inferred property
//! sets, and, for `object` nodes with a constructor location, one row per location.

use std::collections::HashMap;

use rustc_hash::{FxHashMap, FxHashSet};

use crate::graph::{Graph, Types};
use crate::sizes::SelfSizes;
use crate::snapshot::Location;

/// Marks a node that belongs to no class (its adjusted self size is 0).
pub(crate) const NO_CLASS: u32 = u32::MAX;

/// One class: its display name and DevTools' public key (`",Name"`, or
/// `"scriptId,line,column,Name"` for a location-split row), which is what the Comparison view
/// matches across snapshots.
pub(crate) struct Class {
    pub name: String,
    pub key: String,
    pub location: Option<Location>,
}

/// The class of every node (`NO_CLASS` for zero-size nodes), and the classes in the order their
/// first member appears.
pub(crate) struct Classes {
    pub list: Vec<Class>,
    pub of: Vec<u32>,
}

/// Plain-object names inferred from one snapshot (DEVTOOLS-MODEL.md 3.2), owned so that the
/// Comparison view can apply the current snapshot's names to the base snapshot.
pub(crate) struct Interfaces {
    /// `{a, b}` texts, most common first.
    names: Vec<String>,
    /// The raw property names of each definition.
    props: Vec<Vec<String>>,
}

/// Assigns every node with a non-zero adjusted self size to its class.
pub(crate) fn classify(g: &Graph, t: &Types, self_size: &SelfSizes, defs: &Interfaces) -> Classes {
    const NONE: u32 = u32::MAX;
    let n = g.len();
    let detached = detached_natives(g, t);
    let mut interfaces = apply_interfaces(g, t, defs).into_iter().peekable();
    let mut locations = g.s.locations.iter().peekable();
    // DevTools' class index (DEVTOOLS-MODEL.md 3.1), here a "name id" into `names`: the raw name
    // string of objects and natives (a detached native's renamed string), one per computed name
    // (`<div>`, `Detached <div>`, `(system)`, `Function`, ... shared by text), one per interface.
    // By kept text (`string_table`: the names of objects and natives are kept).
    let mut by_name = vec![NONE; g.s.strings.kept_len()];
    let mut by_detached_name: HashMap<u32, u32> = HashMap::new();
    let mut by_computed_name: HashMap<String, u32> = HashMap::new();
    let mut by_interface = vec![NONE; defs.names.len()];
    let mut by_type = vec![NONE; g.s.meta.node_types.len()];
    let mut names: Vec<String> = Vec::new();
    // Then the class: by name id alone, or, for objects with a location, by location and name
    // text (DevTools' internal class keys).
    let mut unlocated: Vec<u32> = Vec::new();
    let mut located: HashMap<(Location, u32), u32> = HashMap::new();
    let mut located_by_text: HashMap<(Location, String), u32> = HashMap::new();
    let mut list: Vec<Class> = Vec::new();
    let mut of = vec![NO_CLASS; n];
    for v in 0..n {
        // Interfaces and locations are sorted by node, and nodes come in order.
        let interface = interfaces
            .next_if(|&(node, _)| node as usize == v)
            .map(|x| x.1);
        while locations.next_if(|l| (l.0 as usize) < v).is_some() {}
        if self_size.get(v) == 0 {
            continue;
        }
        let ty = g.node_type(v);
        let is_detached = detached.get(v).is_some_and(|&d| d);
        let raw = g.name(v);
        let mut new_name = |text: String, names: &mut Vec<String>| {
            names.push(text);
            unlocated.push(NONE);
            names.len() as u32 - 1
        };
        let name = match interface {
            Some(i) => {
                let slot = &mut by_interface[i as usize];
                if *slot == NONE {
                    *slot = new_name(defs.names[i as usize].clone(), &mut names);
                }
                *slot
            }
            // Other types: one computed name per type (looked up once).
            None if !is_detached
                && ty != t.object
                && ty != t.native
                && by_type[ty as usize] != NONE =>
            {
                by_type[ty as usize]
            }
            None if (is_detached && raw.starts_with('<'))
                || (!is_detached && !raw_named(g, t, v)) =>
            {
                let text = if is_detached {
                    trimmed_name(&format!("Detached {raw}"))
                } else {
                    class_name(g, t, v)
                };
                let id = match by_computed_name.get(&text) {
                    Some(&id) => id,
                    None => {
                        let id = new_name(text.clone(), &mut names);
                        by_computed_name.insert(text, id);
                        id
                    }
                };
                if !is_detached && ty != t.object && ty != t.native {
                    by_type[ty as usize] = id;
                }
                id
            }
            None if is_detached => *by_detached_name
                .entry(g.name_index(v))
                .or_insert_with(|| new_name(format!("Detached {raw}"), &mut names)),
            None => {
                let slot = &mut by_name[kept(g, g.name_index(v))];
                if *slot == NONE {
                    *slot = new_name(raw.to_owned(), &mut names);
                }
                *slot
            }
        };
        let location = match locations.peek() {
            Some(&&(node, l)) if node as usize == v && ty == t.object => Some(l),
            _ => None,
        };
        let mut class = |location: Option<Location>| {
            let name = names[name as usize].clone();
            let key = match location {
                Some(l) => format!("{},{},{},{name}", l.script_id, l.line, l.column),
                None => format!(",{name}"),
            };
            list.push(Class {
                name,
                key,
                location,
            });
            list.len() as u32 - 1
        };
        of[v] = match location {
            None => {
                if unlocated[name as usize] == NONE {
                    unlocated[name as usize] = class(None);
                }
                unlocated[name as usize]
            }
            Some(l) => match located.get(&(l, name)) {
                Some(&c) => c,
                None => {
                    // Name ids with the same text share a located class.
                    let text = names[name as usize].clone();
                    let c = match located_by_text.get(&(l, text.clone())) {
                        Some(&c) => c,
                        None => {
                            let c = class(Some(l));
                            located_by_text.insert((l, text), c);
                            c
                        }
                    };
                    located.insert((l, name), c);
                    c
                }
            },
        };
    }
    Classes { list, of }
}

/// The number among the kept texts of a string the analysis reads by index (`string_table`: the
/// names of edges and of nodes other than string values are always kept).
pub(crate) fn kept(g: &Graph, i: u32) -> usize {
    g.s.strings
        .kept_index(i as usize)
        .expect("names read by index are kept")
}

/// True for objects and natives whose class is their raw name string (not starting with `<`).
fn raw_named(g: &Graph, t: &Types, v: usize) -> bool {
    let ty = g.node_type(v);
    let name = g.name(v);
    (ty == t.object || ty == t.native) && !name.starts_with('<') && !name.starts_with("Detached <")
}

/// DevTools' class name by node type (DEVTOOLS-MODEL.md 3.1).
pub(crate) fn class_name(g: &Graph, t: &Types, v: usize) -> String {
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
        return trimmed_name(g.name(v));
    }
    format!("({})", g.type_name(v))
}

/// An object's or native's class name: `<div id="a">` is `<div>`, `Detached <div id="a">` is
/// `Detached <div>`.
fn trimmed_name(name: &str) -> String {
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
    name.to_owned()
}

/// DevTools' `propagateDOMState`: native (embedder) nodes whose `detachedness` is known pass it on
/// to the natives they reach (attached wins over detached; hidden, invisible and weak edges do not
/// count; JS objects stop it), and detached ones are named `Detached <name>`. Empty when the
/// snapshot has no `detachedness` field.
fn detached_natives(g: &Graph, t: &Types) -> Vec<bool> {
    const UNKNOWN: u8 = 0;
    const ATTACHED: u8 = 1;
    const DETACHED: u8 = 2;
    let n = g.len();
    if g.s.node_detachedness.len() != n {
        return Vec::new();
    }
    let mut state = g.s.node_detachedness.clone();
    let mut visited = vec![false; n];
    let (mut attached, mut detached) = (Vec::new(), Vec::new());
    let mut process = |v: usize,
                       new: u8,
                       state: &mut [u8],
                       attached: &mut Vec<usize>,
                       detached: &mut Vec<usize>| {
        if visited[v] {
            return;
        }
        visited[v] = true;
        if g.node_type(v) != t.native {
            return;
        }
        state[v] = new;
        match new {
            ATTACHED => attached.push(v),
            DETACHED => detached.push(v),
            _ => {}
        }
    };
    for v in 0..n {
        let s = state[v];
        if s != UNKNOWN {
            process(v, s, &mut state, &mut attached, &mut detached);
        }
    }
    let counts = |e: usize| {
        let et = g.edge_type(e);
        et != t.hidden_edge && et != t.invisible && et != t.weak
    };
    while let Some(v) = attached.pop() {
        for e in g.edges(v).filter(|&e| counts(e)) {
            process(
                g.target(e),
                ATTACHED,
                &mut state,
                &mut attached,
                &mut detached,
            );
        }
    }
    while let Some(v) = detached.pop() {
        if state[v] == ATTACHED {
            continue;
        }
        for e in g.edges(v).filter(|&e| counts(e)) {
            process(
                g.target(e),
                DETACHED,
                &mut state,
                &mut attached,
                &mut detached,
            );
        }
    }
    (0..n)
        .map(|v| state[v] == DETACHED && g.node_type(v) == t.native)
        .collect()
}

/// Length in UTF-16 code units, as DevTools measures names.
fn utf16_len(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.encode_utf16().count()
    }
}

/// Plain JS objects: `object` nodes named exactly `Object`.
fn plain_objects<'a>(g: &'a Graph, t: &'a Types) -> impl Iterator<Item = usize> + 'a {
    (0..g.len()).filter(move |&v| g.node_type(v) == t.object && g.name(v) == "Object")
}

/// The property names of plain objects as numbers, equal names equal numbers (V8 writes each
/// string once, other producers may not): a string index stands for the first index seen with the
/// same text. Comparing and hashing these is much cheaper than the text.
struct PropertyNames<'a> {
    g: &'a Graph<'a>,
    canonical: Vec<u32>,
    by_text: FxHashMap<&'a str, u32>,
}

impl<'a> PropertyNames<'a> {
    const UNSEEN: u32 = u32::MAX;

    fn new(g: &'a Graph<'a>) -> Self {
        PropertyNames {
            g,
            canonical: vec![Self::UNSEEN; g.s.strings.kept_len()],
            by_text: FxHashMap::default(),
        }
    }

    /// Makes `text` stand for the string at `index` (called before any other use of that text).
    fn seed(&mut self, text: &'a str, index: u32) {
        self.by_text.entry(text).or_insert(index);
    }

    /// The number of a property edge's name.
    fn of(&mut self, e: usize) -> u32 {
        let i = self.g.edge_name_or_index(e);
        let c = &mut self.canonical[kept(self.g, i)];
        if *c == Self::UNSEEN {
            *c = *self
                .by_text
                .entry(self.g.s.strings.get(i as usize))
                .or_insert(i);
        }
        *c
    }

    /// The numbers of a node's `property` edge names, in file order, into `out`.
    fn of_node(&mut self, t: &Types, v: usize, out: &mut Vec<u32>) {
        out.clear();
        for e in self.g.edges(v) {
            if self.g.edge_type(e) == t.property {
                out.push(self.of(e));
            }
        }
    }
}

/// How a property name reads in an interface name: as it is, or as a JSON string when it holds
/// one of `,'"{}`.
fn formatted(name: &str) -> String {
    if name.contains([',', '\'', '"', '{', '}']) {
        serde_json::to_string(name).unwrap_or_default()
    } else {
        name.to_owned()
    }
}

/// DevTools' inference of `{a, b}` names (DEVTOOLS-MODEL.md 3.2): a name from each plain object's
/// property edges in file order (no `__proto__`, at most 120 UTF-16 units); the names shared by at
/// least max(2, plain objects / 1000) objects are kept, most common first (ties: first seen).
pub(crate) fn infer_interfaces(g: &Graph, t: &Types) -> Interfaces {
    const PROTO: u32 = u32::MAX;
    let mut names = PropertyNames::new(g);
    // UTF-16 length of each name as formatted, by name number (PROTO for `__proto__`).
    let mut units: FxHashMap<u32, u32> = FxHashMap::default();
    // Candidate (the name numbers it includes) -> (count, first seen).
    let mut candidates: FxHashMap<Vec<u32>, (u32, usize)> = FxHashMap::default();
    let (mut own, mut kept_names) = (Vec::new(), Vec::new());
    let mut plain = 0usize;
    for (order, v) in plain_objects(g, t).enumerate() {
        plain += 1;
        names.of_node(t, v, &mut own);
        kept_names.clear();
        let mut length = 1; // "{"
        for &n in &own {
            let u = *units.entry(n).or_insert_with(|| {
                let name = g.s.strings.get(n as usize);
                if name == "__proto__" {
                    PROTO
                } else {
                    utf16_len(&formatted(name)) as u32
                }
            });
            if u == PROTO {
                continue;
            }
            if !kept_names.is_empty() && length + u as usize > 120 {
                break;
            }
            length += u as usize + if kept_names.is_empty() { 0 } else { 2 };
            kept_names.push(n);
        }
        if kept_names.is_empty() {
            continue;
        }
        match candidates.get_mut(kept_names.as_slice()) {
            Some(c) => c.0 += 1,
            None => {
                candidates.insert(kept_names.clone(), (1, order));
            }
        }
    }
    // DevTools: count >= max(2, plain / 1000), in floating point.
    let enough = |count: u32| count >= 2 && u64::from(count) * 1000 >= plain as u64;
    let mut kept: Vec<(Vec<u32>, u32, usize)> = candidates
        .into_iter()
        .filter(|(_, (count, _))| enough(*count))
        .map(|(props, (count, first))| (props, count, first))
        .collect();
    kept.sort_by(|a, b| b.1.cmp(&a.1).then(a.2.cmp(&b.2)));
    let text = |i: &u32| g.s.strings.get(*i as usize);
    Interfaces {
        names: kept
            .iter()
            .map(|k| {
                let list: Vec<String> = k.0.iter().map(|i| formatted(text(i))).collect();
                format!("{{{}}}", list.join(", "))
            })
            .collect(),
        props: kept
            .iter()
            .map(|k| k.0.iter().map(|i| text(i).to_owned()).collect())
            .collect(),
    }
}

/// True when sorted `small` is a sub-multiset of sorted `big` (a name twice in `small` must be
/// there twice in `big`: two symbols can share a description).
fn sorted_subset(small: &[u32], big: &[u32]) -> bool {
    let mut rest = big;
    small.iter().all(|x| {
        let i = rest.partition_point(|y| y < x);
        if rest.get(i) == Some(x) {
            rest = &rest[i + 1..];
            true
        } else {
            false
        }
    })
}

/// DevTools' application of interface names: each plain object takes the definition with the most
/// properties contained in its own property set, then the earlier (more common) one.
fn apply_interfaces(g: &Graph, t: &Types, defs: &Interfaces) -> Vec<(u32, u32)> {
    let mut of = Vec::new();
    if defs.props.is_empty() {
        return of;
    }
    // The definitions' names as this snapshot's name numbers; a definition with a name no string
    // of this snapshot has matches nothing.
    let mut names = PropertyNames::new(g);
    let wanted: FxHashSet<&str> = defs.props.iter().flatten().map(String::as_str).collect();
    for (i, text) in g.s.strings.iter_kept() {
        if wanted.contains(text) {
            names.seed(text, i as u32);
        }
    }
    let sets: Vec<Option<Vec<u32>>> = defs
        .props
        .iter()
        .map(|p| {
            let mut set: Vec<u32> = p
                .iter()
                .map(|n| names.by_text.get(n.as_str()).copied())
                .collect::<Option<_>>()?;
            set.sort_unstable();
            Some(set)
        })
        .collect();
    let mut order: Vec<usize> = (0..sets.len()).filter(|&i| sets[i].is_some()).collect();
    let len = |i: usize| sets[i].as_ref().map_or(0, Vec::len);
    order.sort_by(|&a, &b| len(b).cmp(&len(a)).then(a.cmp(&b)));
    // Exact property sets: the best match when the object has no other property (no definition
    // larger than its own set can match).
    let mut exact: FxHashMap<&[u32], u32> = FxHashMap::default();
    for &i in order.iter().rev() {
        exact.insert(sets[i].as_deref().unwrap_or_default(), i as u32);
    }
    let mut own = Vec::new();
    for v in plain_objects(g, t) {
        names.of_node(t, v, &mut own);
        own.sort_unstable();
        let found = exact.get(own.as_slice()).copied().or_else(|| {
            order
                .iter()
                .find(|&&i| {
                    len(i) <= own.len()
                        && sorted_subset(sets[i].as_deref().unwrap_or_default(), &own)
                })
                .map(|&i| i as u32)
        });
        if let Some(i) = found {
            of.push((v as u32, i));
        }
    }
    of
}
