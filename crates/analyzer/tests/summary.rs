//! Summary numbers on tiny hand-made graphs whose dominators and sizes are known by hand.

mod util;

use oom_heapdump_analyzer::summary::{summarize, ClassRow};
use util::{read, snapshot};

fn rows(nodes: &[(&str, &str, u32)], edges: &[(usize, &str, &str, usize)]) -> Vec<ClassRow> {
    summarize(&read(snapshot(nodes, edges)).unwrap())
}

fn row<'a>(rows: &'a [ClassRow], name: &str) -> &'a ClassRow {
    rows.iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no row {name}: {rows:?}"))
}

fn class(name: &str, count: u64, self_size: u64, retained_size: u64) -> ClassRow {
    ClassRow {
        name: name.into(),
        count,
        self_size,
        retained_size,
        location: None,
    }
}

#[test]
fn class_retained_size_counts_only_members_not_dominated_by_their_class() {
    let r = rows(
        &[
            ("synthetic", "", 0),
            ("object", "Global", 10),
            ("object", "Leaky", 100),
            ("object", "Leaky", 100),
            ("object", "Leaky", 100),
        ],
        &[
            (0, "shortcut", "global", 1),
            (1, "property", "a", 2),
            (1, "property", "b", 3),
            (3, "property", "next", 4),
        ],
    );
    assert_eq!(
        r,
        vec![class("Global", 1, 10, 310), class("Leaky", 3, 300, 300)]
    );
}

#[test]
fn diamond_and_weak_only_retainer() {
    // 2 and 3 both hold 4 (diamond: 4 is dominated by Global); 5 is held only weakly by 2.
    let r = rows(
        &[
            ("synthetic", "", 0),
            ("object", "Global", 1),
            ("object", "A", 10),
            ("object", "A", 10),
            ("object", "Shared", 50),
            ("object", "Weakling", 7),
        ],
        &[
            (0, "shortcut", "g", 1),
            (1, "property", "x", 2),
            (1, "property", "y", 3),
            (2, "property", "s", 4),
            (3, "property", "s", 4),
            (2, "weak", "w", 5),
        ],
    );
    assert_eq!(
        row(&r, "A").retained_size,
        20,
        "Shared is not retained by either A alone"
    );
    assert_eq!(
        row(&r, "Global").retained_size,
        71,
        "Weakling hangs under the root, not under Global"
    );
    assert_eq!(row(&r, "Weakling").retained_size, 7);
}

#[test]
fn hidden_and_array_sizes_move_to_their_single_owner() {
    let r = rows(
        &[
            ("synthetic", "", 0),
            ("object", "Global", 1),
            ("object", "Owner", 10),
            ("array", "(object properties)", 40),
            ("object", "Sharer", 10),
            ("object", "Sharer", 10),
            ("hidden", "(shared backing)", 30),
        ],
        &[
            (0, "shortcut", "g", 1),
            (1, "property", "o", 2),
            (2, "internal", "properties", 3),
            (1, "property", "s1", 4),
            (1, "property", "s2", 5),
            (4, "internal", "b", 6),
            (5, "internal", "b", 6),
        ],
    );
    assert_eq!(
        row(&r, "Owner"),
        &class("Owner", 1, 50, 50),
        "the single owner takes the array's size"
    );
    assert!(
        r.iter().all(|c| c.name != "(array)"),
        "a moved node has size 0 and leaves the Summary: {r:?}"
    );
    assert_eq!(
        row(&r, "(system)"),
        &class("(system)", 1, 30, 30),
        "two owners: stays"
    );
}

#[test]
fn no_user_roots_means_no_size_move() {
    let r = rows(
        &[
            ("synthetic", "", 0),
            ("synthetic", "(GC roots)", 0),
            ("object", "Owner", 10),
            ("array", "(object elements)", 40),
        ],
        &[
            (0, "element", "1", 1),
            (1, "element", "1", 2),
            (2, "internal", "elements", 3),
        ],
    );
    assert_eq!(row(&r, "Owner"), &class("Owner", 1, 10, 50));
    assert_eq!(row(&r, "(array)"), &class("(array)", 1, 40, 40));
}

#[test]
fn class_names_by_node_type() {
    let r = rows(
        &[
            ("synthetic", "", 0),
            ("object", "Global", 1),
            ("closure", "handler", 32),
            ("string", "hello", 16),
            ("code", "foo", 64),
            ("regexp", "/x/", 24),
            ("native", "<div id=\"a\" class=\"b\">", 80),
            ("concatenated string", "ab", 20),
        ],
        &[
            (0, "shortcut", "g", 1),
            (1, "property", "f", 2),
            (1, "property", "s", 3),
            (1, "internal", "c", 4),
            (1, "property", "r", 5),
            (1, "property", "d", 6),
            (1, "property", "cs", 7),
        ],
    );
    let names: Vec<&str> = r.iter().map(|c| c.name.as_str()).collect();
    for want in [
        "Function",
        "(string)",
        "(compiled code)",
        "RegExp",
        "<div>",
        "(concatenated string)",
        "Global",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
}

/// Global holds a WeakMap table (node 2, id 5) and a key (node 3); both have the WeakMap's edge to
/// the value (node 4), whose name says which table it belongs to.
fn weakmap(table_id_in_edge_name: u32) -> Vec<ClassRow> {
    let edge = format!("1 / part of key (Key @7) -> value (Val @9) pair in WeakMap (table @{table_id_in_edge_name})");
    rows(
        &[
            ("synthetic", "", 0),
            ("object", "Global", 1),
            ("array", "(WeakMap table)", 16),
            ("object", "Key", 8),
            ("object", "Val", 100),
        ],
        &[
            (0, "shortcut", "g", 1),
            (1, "property", "wm", 2),
            (1, "property", "k", 3),
            (2, "internal", &edge, 4),
            (3, "internal", &edge, 4),
        ],
    )
}

#[test]
fn weakmap_table_to_value_edge_does_not_retain() {
    assert_eq!(
        row(&weakmap(5), "Key").retained_size,
        108,
        "only the key retains the value"
    );
    assert_eq!(
        row(&weakmap(3), "Key").retained_size,
        8,
        "another table's edge counts: both reach the value"
    );
}

#[test]
fn a_real_snapshot_names_its_classes() {
    let file = util::real_snapshot("summary", util::KEPT_THINGS);
    let s = oom_heapdump_analyzer::read_snapshot(&file).unwrap();
    let r = summarize(&s);
    let kept = row(&r, "KeptThing");
    assert_eq!(kept.count, 3000);
    assert!(kept.retained_size >= kept.self_size && kept.self_size > 0);
    let total: u64 = r.iter().map(|c| c.self_size).sum();
    assert!(
        r.iter().all(|c| c.retained_size <= total),
        "no class retains more than the heap"
    );
    std::fs::remove_dir_all(file.parent().unwrap()).unwrap();
}

#[test]
fn plain_objects_are_named_by_their_most_common_property_sets() {
    let mut nodes = vec![("synthetic", "", 0), ("object", "Global", 1)];
    let mut edges = vec![(0, "shortcut", "g", 1)];
    let mut add = |props: &[&'static str]| {
        let at = nodes.len();
        nodes.push(("object", "Object", 20));
        edges.push((1, "element", "0", at));
        for p in props {
            nodes.push(("number", "n", 4));
            edges.push((at, "property", p, nodes.len() - 1));
        }
    };
    for _ in 0..3 {
        add(&["id", "url"]); // the common set, in this order
    }
    add(&["url", "id"]); // same set, other order: takes the common name
    add(&["id", "url", "extra"]); // a superset: still the {id, url} row
    add(&["lonely"]); // seen once: stays Object
    add(&["__proto__"]); // no kept property: stays Object
    add(&["a,b", "c"]);
    add(&["a,b", "c"]);
    let r = rows(&nodes, &edges);
    assert_eq!(row(&r, "{id, url}").count, 5, "{r:?}");
    assert_eq!(row(&r, "Object").count, 2);
    assert_eq!(
        row(&r, "{\"a,b\", c}").count,
        2,
        "names with commas are quoted"
    );
}

#[test]
fn long_property_lists_are_cut_at_120_units() {
    let long: Vec<String> = (0..40).map(|i| format!("property{i:02}")).collect();
    let mut nodes = vec![("synthetic", "", 0), ("object", "Global", 1)];
    let mut edges: Vec<(usize, &str, &str, usize)> = vec![(0, "shortcut", "g", 1)];
    for _ in 0..2 {
        let at = nodes.len();
        nodes.push(("object", "Object", 20));
        edges.push((1, "element", "0", at));
        for p in &long {
            nodes.push(("number", "n", 4));
            edges.push((at, "property", p.as_str(), nodes.len() - 1));
        }
    }
    let r = rows(&nodes, &edges);
    let name = &r
        .iter()
        .find(|c| c.name.starts_with('{'))
        .expect("a named row")
        .name;
    assert!(name.encode_utf16().count() <= 122, "{name}");
    assert!(
        name.starts_with("{property00, property01,") && name.ends_with('}'),
        "{name}"
    );
}

#[test]
fn plain_object_names_need_a_thousandth_of_plain_objects_counted_exactly() {
    // 2001 empty plain objects and 2 with {zzq}: 2 < 2003 / 1000 = 2.003, so no {zzq} name (an
    // integer division would give 2 and name them).
    let mut nodes = vec![("synthetic", "", 0), ("object", "Global", 10)];
    let mut edges = vec![(0, "shortcut", "g", 1)];
    for i in 0..2003 {
        nodes.push(("object", "Object", 8));
        edges.push((1, "element", "", nodes.len() - 1));
        let _ = i;
    }
    let index = |e: &mut Vec<(usize, &str, &str, usize)>| {
        let mut n = 0;
        for edge in e.iter_mut() {
            if edge.1 == "element" {
                edge.2 = Box::leak(n.to_string().into_boxed_str());
                n += 1;
            }
        }
    };
    index(&mut edges);
    for at in [2, 3] {
        nodes.push(("object", "Value", 4));
        edges.push((at, "property", "zzq", nodes.len() - 1));
    }
    edges.sort_by_key(|e| e.0);
    let r = rows(&nodes, &edges);
    assert!(r.iter().all(|c| c.name != "{zzq}"), "{r:?}");
    assert_eq!(row(&r, "Object").count, 2003);
}

#[test]
fn external_string_data_moves_to_its_owner() {
    let r = rows(
        &[
            ("synthetic", "", 0),
            ("object", "Global", 10),
            ("object", "Holder", 20),
            ("native", "system / ExternalStringData", 1000),
        ],
        &[
            (0, "shortcut", "g", 1),
            (1, "property", "h", 2),
            (2, "internal", "data", 3),
        ],
    );
    assert_eq!(row(&r, "Holder").self_size, 1020);
    assert!(r.iter().all(|c| c.name != "system / ExternalStringData"));
}

#[test]
fn a_property_name_twice_must_be_there_twice() {
    // Two symbols with one description give two edges of the same name.
    let mut nodes = vec![("synthetic", "", 0), ("object", "Global", 10)];
    let mut edges = vec![(0, "shortcut", "g", 1)];
    for (i, names) in [&["s", "s"][..], &["s", "s"], &["s"]].iter().enumerate() {
        nodes.push(("object", "Object", 8));
        let o = nodes.len() - 1;
        edges.push((1, "property", ["p0", "p1", "p2"][i], o));
        for n in names.iter() {
            nodes.push(("object", "Value", 4));
            edges.push((o, "property", n, nodes.len() - 1));
        }
    }
    edges.sort_by_key(|e| e.0);
    let r = rows(&nodes, &edges);
    assert_eq!(row(&r, "{s, s}").count, 2);
    assert_eq!(
        row(&r, "Object").count,
        1,
        "one `s` does not match {{s, s}}"
    );
}

#[test]
fn equal_class_keys_keep_the_class_whose_first_member_comes_last() {
    // An object named `Function` (say Object.create(Function.prototype)) and a closure: DevTools
    // shows one `Function` row, the later class's, as its object keyed by class name is filled in
    // order of first members.
    let graph = |first: &'static str, second: &'static str| {
        rows(
            &[
                ("synthetic", "", 0),
                ("object", "Global", 10),
                (first, "Function", 30),
                (second, "Function", 70),
            ],
            &[
                (0, "shortcut", "g", 1),
                (1, "property", "a", 2),
                (1, "property", "b", 3),
            ],
        )
    };
    let r = graph("object", "closure");
    assert_eq!(row(&r, "Function").self_size, 70);
    assert_eq!(r.iter().filter(|c| c.name == "Function").count(), 1);
    assert_eq!(row(&graph("closure", "object"), "Function").self_size, 70);
}

#[test]
fn a_linked_list_is_listed_once_by_its_head() {
    // global.head -> Cell -> Cell -> Cell -> Cell, and global.other (Other): each cell's next
    // retains more than half of it, yet the list shows as its head, and Other comes next.
    let text = snapshot(
        &[
            ("synthetic", "", 0),
            ("object", "Global", 10),
            ("object", "Cell", 100),
            ("object", "Cell", 100),
            ("object", "Cell", 100),
            ("object", "Cell", 100),
            ("object", "Other", 50),
        ],
        &[
            (0, "shortcut", "global", 1),
            (1, "property", "head", 2),
            (1, "property", "other", 6),
            (2, "property", "next", 3),
            (3, "property", "next", 4),
            (4, "property", "next", 5),
        ],
    );
    let s = read(text).unwrap();
    let a = oom_heapdump_analyzer::report::analyze(&s, Default::default());
    let listed: Vec<(&str, u64, &str)> = a
        .largest_objects
        .iter()
        .map(|o| (o.name.as_str(), o.retained_size, o.retainer_path.as_str()))
        .collect();
    assert_eq!(
        listed,
        vec![
            ("Cell", 400, "Global.head (Cell)"),
            ("Other", 50, "Global.other (Other)")
        ]
    );
}
