//! Shapes that made steps of the analysis quadratic: a linked list of two million cells and a deep
//! tree. Each runs under a watchdog (`within`): linear or n log n work takes seconds, quadratic work
//! on these sizes takes hours, so a generous limit tells them apart without timing anything.

mod util;

use std::time::Duration;

use oom_heapdump_analyzer::diff::compare;
use oom_heapdump_analyzer::report::{analyze, Limits};

use util::{read, within, Big};

/// Generous for a debug build on a slow machine (these take a few seconds in release).
const LIMIT: Duration = Duration::from_secs(if cfg!(debug_assertions) { 180 } else { 60 });

/// `(root) -> Global`, with the root's shortcut edge named `global`.
fn with_global() -> (Big, usize) {
    let mut b = Big::default();
    let root = b.node("synthetic", "", 0);
    let global = b.node("object", "Global", 10);
    b.edge(root, "shortcut", "global", global);
    (b, global)
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
    let (mut b, global) = with_global();
    let mut previous = global;
    for i in 0..CELLS {
        let cell = b.node("object", "Cell", 32);
        b.edge(
            previous,
            "property",
            if i == 0 { "head" } else { "next" },
            cell,
        );
        previous = cell;
    }
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
    let (mut b, global) = with_global();
    let mut previous = global;
    for i in 0..DEPTH {
        let node = b.node("object", "Node", 32);
        let leaf = b.node("object", "Leaf", 16);
        b.edge(
            previous,
            "property",
            if i == 0 { "root" } else { "next" },
            node,
        );
        b.edge(node, "property", "leaf", leaf);
        previous = node;
    }
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
