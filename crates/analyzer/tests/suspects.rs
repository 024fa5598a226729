//! Leak suspects on hand-made heaps whose dominator trees are known: which object is the
//! accumulation point, its path and its element classes; that V8's containers (the global object,
//! closures, contexts, backing stores) are passed through; that suspects do not nest; and that a
//! chain of one class is reported by its head.

mod util;

use oom_heapdump_analyzer::report::{analyze, Limits};
use oom_heapdump_analyzer::suspects::Suspect;
use util::{read, Big};

/// `(root) -> Global` (the user root, named `global` by its shortcut edge) and `(GC roots)`.
fn heap() -> (Big, usize) {
    let mut b = Big::default();
    let root = b.node("synthetic", "", 0);
    let global = b.node("object", "global", 10);
    b.edge(root, "shortcut", "global", global);
    let gc = b.node("synthetic", "(GC roots)", 0);
    b.edge(root, "element", "1", gc);
    (b, global)
}

/// An `Array` object with its elements store holding `n` objects of `class`, each with a string.
fn array_of(b: &mut Big, n: usize, class: &str, size: u32) -> usize {
    let array = b.node("object", "Array", 32);
    let store = b.node("array", "(object elements)", 16);
    b.edge(array, "internal", "elements", store);
    for i in 0..n {
        let entry = b.node("object", class, size);
        let text = b.node("string", "some text", 24);
        b.edge(store, "element", &i.to_string(), entry);
        b.edge(entry, "property", "text", text);
    }
    array
}

fn suspects(b: Big) -> Vec<Suspect> {
    analyze(&read(b.text()).unwrap(), Limits::default()).suspects
}

fn elements(s: &Suspect) -> Vec<&str> {
    s.elements.iter().map(|e| e.name.as_str()).collect()
}

#[test]
fn an_array_on_a_global_object_is_the_suspect_not_the_global_or_its_store() {
    let (mut b, global) = heap();
    let audit = b.node("object", "Object", 24);
    b.edge(global, "property", "audit", audit);
    let entries = array_of(&mut b, 1000, "AuditRecord", 40);
    b.edge(audit, "property", "entries", entries);
    let small = array_of(&mut b, 10, "Small", 40);
    b.edge(global, "property", "small", small);
    let s = suspects(b);
    assert_eq!(s.len(), 1, "{s:?}");
    assert_eq!(s[0].name, "Array");
    assert_eq!(s[0].retainer_path, "global.audit.entries (Array)");
    assert_eq!(s[0].retained_size, 32 + 16 + 1000 * 64);
    assert!(s[0].share > 0.9 && s[0].share < 1.0, "{}", s[0].share);
    assert_eq!(elements(&s[0]), ["AuditRecord", "(string)"]);
    assert_eq!(s[0].elements[0].count, 1000);
    assert_eq!(s[0].elements[0].retained_size, 1000 * 64);
}

#[test]
fn variables_of_a_closure_are_suspects_each_larger_first_and_do_not_nest() {
    // global.handler -> context -> { sessionCache: Map of 600, catalog: Map of 300 }.
    let (mut b, global) = heap();
    let handler = b.node("closure", "handleRequest", 32);
    let context = b.node("object", "system / Context", 48);
    b.edge(global, "property", "handler", handler);
    b.edge(handler, "internal", "context", context);
    for (var, class, n) in [
        ("sessionCache", "Session", 600),
        ("catalog", "Product", 300),
    ] {
        let map = b.node("object", "Map", 32);
        let table = b.node("array", "system / OrderedHashMap", 64);
        b.edge(context, "context", var, map);
        b.edge(map, "internal", "table", table);
        // Inside each entry, a smaller collection of the same size share as a suspect would need
        // on its own: never listed, as it is inside the accumulation point.
        for i in 0..n {
            let entry = b.node("object", class, 40);
            b.edge(table, "element", &i.to_string(), entry);
        }
    }
    let s = suspects(b);
    let found: Vec<(&str, Vec<&str>)> = s
        .iter()
        .map(|s| (s.retainer_path.as_str(), elements(s)))
        .collect();
    assert_eq!(
        found,
        [
            (
                "sessionCache (Map) in the closure of handleRequest",
                vec!["Session"]
            ),
            (
                "catalog (Map) in the closure of handleRequest",
                vec!["Product"]
            )
        ]
    );
    assert!(s[0].retained_size > s[1].retained_size);
}

#[test]
fn a_wrapper_passes_its_memory_on_and_a_linked_list_shows_by_its_head() {
    // global.history (Object) -> head (Node) -> next (Node) -> ... 500 cells, each with a payload.
    let (mut b, global) = heap();
    let history = b.node("object", "Object", 24);
    b.edge(global, "property", "history", history);
    b.chain(history, "head", 500, |b, _| {
        let cell = b.node("object", "HistoryNode", 32);
        let payload = b.node("object", "Payload", 64);
        b.edge(cell, "property", "payload", payload);
        cell
    });
    let s = suspects(b);
    assert_eq!(s.len(), 1, "{s:?}");
    assert_eq!(s[0].retainer_path, "global.history.head (HistoryNode)");
    assert_eq!(s[0].retained_size, 500 * 96);
    assert_eq!(elements(&s[0]), ["HistoryNode", "Payload"]);
    assert_eq!(s[0].elements[0].count, 499);
}

#[test]
fn a_structure_under_the_threshold_is_not_a_suspect() {
    // Ten arrays of 9% each (and the global itself): nothing holds 10%.
    let (mut b, global) = heap();
    for i in 0..11 {
        let a = array_of(&mut b, 100, "Thing", 40);
        b.edge(global, "property", &format!("a{i}"), a);
    }
    assert_eq!(suspects(b).len(), 0);
}

#[test]
fn a_structure_held_from_the_stack_reads_by_its_variable_not_its_stack_slot() {
    // (GC roots) -> (Stack roots) -> slot 3 -> the array, and -> slot 4 -> the module's context
    // (whose outer context is the native context) -> requestLog -> the same array.
    let (mut b, _) = heap();
    let stack = b.node("synthetic", "(Stack roots)", 0);
    b.edge(2, "element", "1", stack);
    let native = b.node("hidden", "system / NativeContext", 100);
    let context = b.node("object", "system / Context", 48);
    b.edge(context, "internal", "previous", native);
    let log = array_of(&mut b, 500, "RequestLogEntry", 48);
    b.edge(stack, "hidden", "3", log);
    b.edge(stack, "hidden", "4", context);
    b.edge(context, "context", "requestLog", log);
    let s = suspects(b);
    assert_eq!(s.len(), 1, "{s:?}");
    assert_eq!(s[0].retainer_path, "requestLog (Array) in a module's scope");
    assert_eq!(elements(&s[0])[0], "RequestLogEntry");
}

#[test]
fn an_edge_from_the_root_to_itself_does_not_make_a_path_endless() {
    // A root that is not synthetic (a damaged or foreign snapshot) with an edge to itself: the
    // root must not become its own parent, or a path walked up from the suspect never ends.
    let mut b = Big::default();
    let root = b.node("hidden", "", 0);
    let global = b.node("object", "global", 10);
    b.edge(root, "element", "0", root);
    b.edge(root, "shortcut", "global", global);
    let log = array_of(&mut b, 100, "Entry", 40);
    b.edge(global, "property", "log", log);
    let text = b.text();
    let s = util::within(
        std::time::Duration::from_secs(30),
        "suspects of a heap whose root has an edge to itself",
        move || analyze(&read(text).unwrap(), Limits::default()).suspects,
    );
    assert_eq!(s.len(), 1, "{s:?}");
    assert_eq!(s[0].retainer_path, "global.log (Array)");
}
