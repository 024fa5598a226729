//! Which Summary row (class) each node belongs to, by DevTools' rules (DEVTOOLS-MODEL.md 3):
//! names by node type, `<tag>` trimming, `{a, b}` names of plain objects from inferred property
//! sets, and, for `object` nodes with a constructor location, one row per location.

use std::collections::{HashMap, HashSet};

use crate::graph::{Graph, Types};
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
pub(crate) fn classify(g: &Graph, t: &Types, self_size: &[u64], defs: &Interfaces) -> Classes {
    const NONE: u32 = u32::MAX;
    let n = g.len();
    let detached = detached_natives(g, t);
    let mut by_detached_name: HashMap<u32, u32> = HashMap::new();
    let mut interfaces = apply_interfaces(g, t, defs).into_iter().peekable();
    let mut locations = g.s.locations.iter().peekable();
    // A node's class name depends on its type, its name string (objects and natives) or its
    // interface: resolved once each through these arrays into `names`.
    let mut by_name = vec![NONE; g.s.strings.len()];
    let mut by_type = vec![NONE; g.s.meta.node_types.len()];
    let mut by_interface = vec![NONE; defs.names.len()];
    let mut names: Vec<String> = Vec::new();
    // Then the class: by name alone, or by name and location.
    let mut unlocated: Vec<u32> = Vec::new();
    let mut located: HashMap<(u32, Location), u32> = HashMap::new();
    let mut list: Vec<Class> = Vec::new();
    let mut by_key: HashMap<String, u32> = HashMap::new();
    let mut of = vec![NO_CLASS; n];
    for v in 0..n {
        // Interfaces and locations are sorted by node, and nodes come in order.
        let interface = interfaces
            .next_if(|&(node, _)| node as usize == v)
            .map(|x| x.1);
        while locations.next_if(|l| (l.0 as usize) < v).is_some() {}
        if self_size[v] == 0 {
            continue;
        }
        let ty = g.node_type(v);
        let is_detached = detached.get(v).is_some_and(|&d| d);
        let slot = match interface {
            Some(i) => &mut by_interface[i as usize],
            None if is_detached => by_detached_name.entry(g.name_index(v)).or_insert(NONE),
            None if ty == t.object || ty == t.native => &mut by_name[g.name_index(v) as usize],
            None => &mut by_type[ty as usize],
        };
        if *slot == NONE {
            names.push(match interface {
                Some(i) => defs.names[i as usize].clone(),
                None if is_detached => trimmed_name(&format!("Detached {}", g.name(v))),
                None => class_name(g, t, v),
            });
            unlocated.push(NONE);
            *slot = names.len() as u32 - 1;
        }
        let name = *slot;
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
            *by_key.entry(key.clone()).or_insert_with(|| {
                list.push(Class {
                    name,
                    key,
                    location,
                });
                list.len() as u32 - 1
            })
        };
        of[v] = match location {
            None => {
                if unlocated[name as usize] == NONE {
                    unlocated[name as usize] = class(None);
                }
                unlocated[name as usize]
            }
            Some(l) => *located.entry((name, l)).or_insert_with(|| class(Some(l))),
        };
    }
    Classes { list, of }
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
    s.encode_utf16().count()
}

/// Plain JS objects: `object` nodes named exactly `Object`.
fn plain_objects<'a>(g: &'a Graph, t: &'a Types) -> impl Iterator<Item = usize> + 'a {
    (0..g.len()).filter(move |&v| g.node_type(v) == t.object && g.name(v) == "Object")
}

/// The names of a node's `property` edges, in file order.
fn properties<'a>(g: &'a Graph, t: &'a Types, v: usize) -> impl Iterator<Item = &'a str> + 'a {
    g.edges(v)
        .filter(move |&e| g.edge_type(e) == t.property)
        .filter_map(move |e| g.edge_name(e))
}

/// DevTools' inference of `{a, b}` names (DEVTOOLS-MODEL.md 3.2): a name from each plain object's
/// property edges in file order (no `__proto__`, at most 120 UTF-16 units); the names shared by at
/// least max(2, plain objects / 1000) objects are kept, most common first (ties: first seen).
pub(crate) fn infer_interfaces(g: &Graph, t: &Types) -> Interfaces {
    // Candidate text -> (count, first seen, raw names).
    let mut candidates: HashMap<String, (u32, usize, Vec<&str>)> = HashMap::new();
    let mut plain = 0usize;
    for (order, v) in plain_objects(g, t).enumerate() {
        plain += 1;
        let mut text = String::from("{");
        let mut raw: Vec<&str> = Vec::new();
        for name in properties(g, t, v).filter(|n| *n != "__proto__") {
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
    let min = (plain / 1000).max(2) as u32;
    let mut kept: Vec<(String, u32, usize, Vec<&str>)> = candidates
        .into_iter()
        .filter(|(_, (count, _, _))| *count >= min)
        .map(|(text, (count, first, raw))| (text, count, first, raw))
        .collect();
    kept.sort_by(|a, b| b.1.cmp(&a.1).then(a.2.cmp(&b.2)));
    Interfaces {
        props: kept
            .iter()
            .map(|k| k.3.iter().map(|&p| p.to_owned()).collect())
            .collect(),
        names: kept.into_iter().map(|k| k.0).collect(),
    }
}

/// DevTools' application of interface names: each plain object takes the definition with the most
/// properties contained in its own property set, then the earlier (more common) one.
fn apply_interfaces(g: &Graph, t: &Types, defs: &Interfaces) -> Vec<(u32, u32)> {
    let sets: Vec<HashSet<&str>> = defs
        .props
        .iter()
        .map(|p| p.iter().map(String::as_str).collect())
        .collect();
    let mut order: Vec<usize> = (0..sets.len()).collect();
    order.sort_by(|&a, &b| sets[b].len().cmp(&sets[a].len()).then(a.cmp(&b)));
    // Exact property sets: the best match when the object has no other property.
    let mut exact: HashMap<Vec<&str>, u32> = HashMap::new();
    for &i in order.iter().rev() {
        let mut key: Vec<&str> = defs.props[i].iter().map(String::as_str).collect();
        key.sort_unstable();
        key.dedup();
        exact.insert(key, i as u32);
    }
    let mut of = Vec::new();
    if sets.is_empty() {
        return of;
    }
    for v in plain_objects(g, t) {
        let mut own: Vec<&str> = properties(g, t, v).collect();
        own.sort_unstable();
        own.dedup();
        let found = exact.get(&own).copied().or_else(|| {
            let own_set: HashSet<&str> = own.iter().copied().collect();
            order
                .iter()
                .find(|&&i| sets[i].len() <= own_set.len() && sets[i].is_subset(&own_set))
                .map(|&i| i as u32)
        });
        if let Some(i) = found {
            of.push((v as u32, i));
        }
    }
    of
}
