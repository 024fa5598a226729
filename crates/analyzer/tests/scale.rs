//! Shapes that made steps of the analysis quadratic: a linked list of two million cells, a deep
//! tree, and a long chain with many nodes hanging from its end that something found later holds
//! too; and for the leak suspects, a chain of two alternating classes (walked a node at a time, with
//! a long path) above a large collection. Each runs under a watchdog (`within`): linear or n log n work takes seconds, quadratic work
//! on these sizes takes hours, so a generous limit tells them apart without timing anything.

mod util;

use std::time::Duration;

use oom_heapdump_analyzer::diff::compare;
use oom_heapdump_analyzer::leaks::leaks_in;
use oom_heapdump_analyzer::report::{analyze, Limits};
use oom_heapdump_analyzer::summary::{summarize, ClassRow};
use util::{read, within, Big};

/// Generous for a debug build on a slow machine (these take a few seconds in release).
const LIMIT: Duration = Duration::from_secs(if cfg!(debug_assertions) { 180 } else { 60 });

fn row<'a>(rows: &'a [ClassRow], name: &str) -> &'a ClassRow {
    rows.iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no row {name}: {rows:?}"))
}

/// The largest objects as (class, retained size, retainer path).
fn largest(text: Vec<u8>) -> Vec<(String, u64, String)> {
    let s = read(text).unwrap();
    let a = analyze(&s, Limits::default());
    assert!(compare(&s, &s).classes.is_empty());
    a.largest_objects
        .into_iter()
        .map(|o| (o.name, o.retained_size, o.retainer_path))
        .collect()
}

#[test]
fn a_linked_list_of_two_million_cells_is_analyzed_in_n_log_n() {
    // `head = { next: head }`, two million times: shown once, by its head.
    const CELLS: usize = 2_000_000;
    let (mut b, global) = Big::with_global();
    b.linked_list(global, CELLS);
    let text = b.text();
    let listed = within(LIMIT, "analyzing a list of 2,000,000 cells", move || {
        largest(text)
    });
    assert_eq!(
        listed,
        vec![(
            "Cell".into(),
            32 * CELLS as u64,
            "Global.head (Cell)".into()
        )]
    );
}

#[test]
fn a_deep_tree_is_analyzed_in_n_log_n() {
    // A spine of a million nodes, each with a leaf of another class: the spine shows by its head,
    // then leaves (another class, retaining less than half of the head).
    const DEPTH: usize = 1_000_000;
    let (mut b, global) = Big::with_global();
    b.chain(global, "root", DEPTH, |b, _| {
        let node = b.node("object", "Node", 32);
        let leaf = b.node("object", "Leaf", 16);
        b.edge(node, "property", "leaf", leaf);
        node
    });
    let text = b.text();
    let listed = within(LIMIT, "analyzing a tree 1,000,000 deep", move || {
        largest(text)
    });
    assert_eq!(listed.len(), Limits::default().objects, "{listed:?}");
    assert_eq!(
        listed[0],
        (
            "Node".into(),
            48 * DEPTH as u64,
            "Global.root (Node)".into()
        )
    );
    assert_eq!(
        listed[1],
        (
            "Leaf".into(),
            16,
            "Global.root (Node) -> leaf (Leaf)".into()
        )
    );
    assert!(listed[1..].iter().all(|(class, ..)| class == "Leaf"));
}

#[test]
fn many_nodes_hanging_from_the_end_of_a_long_chain_get_their_dominators_in_n_log_n() {
    // Global -> a chain of a million cells -> a million payloads, which an array that the
    // depth-first search reaches last holds too: each payload's semidominator is Global, far above
    // its parent (a climb up the dominator tree per payload would take a million steps).
    const N: usize = 1_000_000;
    let (mut b, global) = Big::with_global();
    let previous = b.linked_list(global, N);
    let all = b.node("object", "All", 16);
    b.edge(global, "property", "all", all);
    for i in 0..N {
        let payload = b.node("object", "Payload", 8);
        b.edge(previous, "element", &i.to_string(), payload);
        b.edge(all, "element", &i.to_string(), payload);
    }
    let text = b.text();
    let rows = within(
        LIMIT,
        "dominators of a chain with 1,000,000 nodes at its end",
        move || summarize(&read(text).unwrap()),
    );
    assert_eq!(row(&rows, "Cell").retained_size, 32 * N as u64);
    assert_eq!(row(&rows, "Payload").retained_size, 8 * N as u64);
    assert_eq!(row(&rows, "All").retained_size, 16);
    assert_eq!(row(&rows, "Global").retained_size, 10 + 16 + 40 * N as u64);
}

#[test]
fn long_weakmap_like_edge_names_are_parsed_in_linear_time() {
    // 20,000 internal edges named like a WeakMap entry whose middle repeats ") -> value (" 1,300
    // times: each split was checked by a search back to its start (O(length²) per edge).
    let name = format!(
        "1 / part of key ({}x) pair in WeakMap (table @1)",
        ") -> value (".repeat(1300)
    );
    let (mut b, global) = Big::with_global();
    for _ in 0..20_000 {
        let v = b.node("object", "V", 8);
        b.edge(global, "internal", &name, v);
    }
    let text = b.text();
    let rows = within(
        LIMIT,
        "reading 20,000 long WeakMap-like edge names",
        move || summarize(&read(text).unwrap()),
    );
    assert_eq!(row(&rows, "V").count, 20_000);
}

#[test]
fn leak_suspects_of_a_million_deep_chain_of_two_classes_are_found_in_linear_time() {
    // Global.head -> A -> B -> A -> ... a million deep (no same-class stop: each node passes its
    // memory on to the next), then an array of a million entries: the walk goes down the whole
    // chain, the path is a million steps long, and the elements are counted over two million
    // nodes.
    const DEPTH: usize = 1_000_000;
    const ENTRIES: usize = 1_000_000;
    let (mut b, global) = Big::with_global();
    let previous = b.chain(global, "head", DEPTH, |b, i| {
        b.node("object", if i % 2 == 0 { "A" } else { "B" }, 8)
    });
    let entries = b.node("object", "Array", 32);
    let store = b.node("array", "(object elements)", 16);
    b.edge(previous, "property", "entries", entries);
    b.edge(entries, "internal", "elements", store);
    for i in 0..ENTRIES {
        let entry = b.node("object", "Entry", 64);
        b.edge(store, "element", &i.to_string(), entry);
    }
    let text = b.text();
    let suspects = within(
        LIMIT,
        "leak suspects below a chain 1,000,000 deep",
        move || analyze(&read(text).unwrap(), Limits::default()).suspects,
    );
    assert_eq!(suspects.len(), 1, "{suspects:?}");
    let s = &suspects[0];
    assert_eq!(s.name, "Array");
    assert_eq!(s.retained_size, 48 + 64 * ENTRIES as u64);
    assert_eq!(
        s.retainer_path,
        format!(
            "global.head.next.next.next.next ... {} more ... .next.next.next.next.next.entries (Array)",
            DEPTH + 2 - 12
        )
    );
    assert_eq!(s.elements.len(), 1);
    assert_eq!(s.elements[0].name, "Entry");
    assert_eq!(s.elements[0].count, ENTRIES as u64);
}

#[test]
fn leaks_hanging_from_every_cell_of_a_long_old_chain_are_grouped_in_linear_time() {
    // `global.head.next...` 200,000 cells from before the first snapshot, and a new `leaf` on each:
    // 200,000 leak roots, each with a path of its own, as deep as its cell. Written from the root
    // each, that is 2e10 steps (it took 13 s for 10,000 cells, found in review).
    const CELLS: usize = 200_000;
    let (mut b, global) = Big::with_global();
    let mut cells = Vec::with_capacity(CELLS);
    b.chain(global, "head", CELLS, |b, _| {
        let cell = b.node("object", "Cell", 32);
        cells.push(cell);
        cell
    });
    let mut leaves = Vec::with_capacity(CELLS);
    for &cell in &cells {
        let leaf = b.node("object", "Leaf", 16);
        b.edge(cell, "property", "leaf", leaf);
        leaves.push(leaf);
    }
    // Big numbers node n with id 2n + 1; everything but the leaves is old.
    let old: Vec<u32> = (0..=*cells.last().unwrap() as u32)
        .map(|n| 2 * n + 1)
        .collect();
    let all: Vec<u32> = (0..=*leaves.last().unwrap() as u32)
        .map(|n| 2 * n + 1)
        .collect();
    let text = b.text();
    let leaks = within(LIMIT, "leaks under a chain of 200,000 cells", move || {
        leaks_in(&old, &all, &read(text).unwrap())
    });
    assert_eq!(leaks.objects, CELLS as u64);
    assert_eq!(leaks.groups.len(), CELLS, "a path for each depth");
    let deepest = format!(
        "global.head.next.next.next.next ... {} more ... .next.next.next.next.next.leaf (Leaf)",
        CELLS - 10
    );
    let g = leaks
        .groups
        .iter()
        .find(|g| g.retainer_path == deepest)
        .unwrap_or_else(|| panic!("no group {deepest:?}: {:?}", &leaks.groups[..3]));
    assert_eq!((g.count, g.retained_size), (1, 16));
    // A short one is written whole, as from the root.
    assert!(leaks
        .groups
        .iter()
        .any(|g| g.retainer_path == "global.head.next.leaf (Leaf)"));
}
