//! DevTools' Comparison view (DEVTOOLS-MODEL.md 7): per class, which objects are new in the target
//! snapshot and which of the base are gone, matched by node id within the same class key, with
//! shallow (adjusted) sizes. The base's plain objects are named with the target's `{a, b}`
//! definitions, as DevTools does, so that the same object keeps its class across the two.

use std::collections::HashMap;
use std::path::Path;

use serde::Serialize;

use crate::classes::{classify, infer_interfaces, Interfaces};
use crate::graph::{Graph, Types};
use crate::report::{grouped, human_size};
use crate::snapshot::Snapshot;
use crate::summary::adjusted_self_sizes;
use crate::{read_snapshot, ParseError};

/// The Comparison view. The JSON shape is part of the package's interface.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Comparison {
    /// Classes with new or deleted objects, by size delta (descending), then count delta, then
    /// name.
    pub classes: Vec<ClassDiff>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClassDiff {
    pub name: String,
    pub added_count: u64,
    pub removed_count: u64,
    pub count_delta: i64,
    pub added_size: u64,
    pub removed_size: u64,
    pub size_delta: i64,
}

/// One snapshot's objects per public class key: (name, [(id, adjusted self size)] sorted by id).
struct Side(HashMap<String, (String, Vec<(u32, u64)>)>);

impl Side {
    fn of(s: &Snapshot, defs: Option<&Interfaces>) -> (Side, Option<Interfaces>) {
        let g = Graph::new(s);
        let t = Types::new(s);
        let self_size = adjusted_self_sizes(&g, &t);
        let own = match defs {
            Some(_) => None,
            None => Some(infer_interfaces(&g, &t)),
        };
        let classes = classify(
            &g,
            &t,
            &self_size,
            defs.or(own.as_ref()).expect("definitions"),
        );
        let mut members: Vec<Vec<(u32, u64)>> = vec![Vec::new(); classes.list.len()];
        for (v, &c) in classes.of.iter().enumerate() {
            if let Some(m) = members.get_mut(c as usize) {
                m.push((g.id(v), self_size.get(v)));
            }
        }
        let mut by_key = HashMap::with_capacity(classes.list.len());
        for (class, mut ids) in classes.list.into_iter().zip(members) {
            ids.sort_unstable_by_key(|&(id, _)| id);
            by_key.insert(class.key, (class.name, ids));
        }
        (Side(by_key), own)
    }
}

/// Compares two snapshots in memory.
pub fn compare(base: &Snapshot, target: &Snapshot) -> Comparison {
    let (target_side, defs) = Side::of(target, None);
    let (base_side, _) = Side::of(base, defs.as_ref());
    merge(base_side, target_side)
}

/// Compares two snapshot files, holding one graph in memory at a time.
pub fn compare_files(base: &Path, target: &Path) -> Result<Comparison, ParseError> {
    let (target_side, defs) = Side::of(&read_snapshot(target)?, None);
    let (base_side, _) = Side::of(&read_snapshot(base)?, defs.as_ref());
    Ok(merge(base_side, target_side))
}

fn merge(base: Side, mut target: Side) -> Comparison {
    let mut classes = Vec::new();
    let mut keys: Vec<String> = target.0.keys().cloned().collect();
    keys.extend(
        base.0
            .keys()
            .filter(|k| !target.0.contains_key(*k))
            .cloned(),
    );
    let mut base = base.0;
    for key in keys {
        let (name, now) = target.0.remove(&key).unwrap_or_default();
        let (base_name, before) = base.remove(&key).unwrap_or_default();
        let mut d = ClassDiff {
            name: if now.is_empty() { base_name } else { name },
            added_count: 0,
            removed_count: 0,
            count_delta: 0,
            added_size: 0,
            removed_size: 0,
            size_delta: 0,
        };
        let (mut i, mut j) = (0, 0);
        while i < before.len() || j < now.len() {
            match (before.get(i), now.get(j)) {
                (Some(b), Some(n)) if b.0 == n.0 => {
                    i += 1;
                    j += 1;
                }
                (Some(b), n) if n.is_none_or(|n| b.0 < n.0) => {
                    d.removed_count += 1;
                    d.removed_size += b.1;
                    i += 1;
                }
                (_, Some(n)) => {
                    d.added_count += 1;
                    d.added_size += n.1;
                    j += 1;
                }
                (_, None) => unreachable!("the loop runs while either list has entries"),
            }
        }
        if d.added_count == 0 && d.removed_count == 0 {
            continue;
        }
        d.count_delta = d.added_count as i64 - d.removed_count as i64;
        d.size_delta = d.added_size as i64 - d.removed_size as i64;
        classes.push(d);
    }
    classes.sort_by(|a, b| {
        b.size_delta
            .cmp(&a.size_delta)
            .then(b.count_delta.cmp(&a.count_delta))
            .then_with(|| a.name.cmp(&b.name))
    });
    Comparison { classes }
}

fn signed(n: i64, text: impl Fn(u64) -> String) -> String {
    match n {
        0 => "0".into(),
        n if n > 0 => format!("+{}", text(n as u64)),
        n => format!("\u{2212}{}", text(n.unsigned_abs())),
    }
}

/// The readable Comparison table (`diff` without `--json`); `top` rows at most.
pub fn comparison_text(c: &Comparison, top: usize) -> String {
    let mut out = format!(
        "{} classes changed; the {} that grew most first (Chrome DevTools' Comparison view):\n",
        c.classes.len(),
        c.classes.len().min(top)
    );
    out.push_str(&format!(
        "{:>10} {:>10} {:>10} {:>10} {:>10} {:>11}  Class\n",
        "New", "Deleted", "Delta", "Alloc", "Freed", "Size delta"
    ));
    for d in c.classes.iter().take(top) {
        out.push_str(&format!(
            "{:>10} {:>10} {:>10} {:>10} {:>10} {:>11}  {}\n",
            grouped(d.added_count),
            grouped(d.removed_count),
            signed(d.count_delta, grouped),
            human_size(d.added_size),
            human_size(d.removed_size),
            signed(d.size_delta, human_size),
            d.name
        ));
    }
    out
}
