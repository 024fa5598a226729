//! The snapshot reader on thousands of damaged snapshots, on the stable toolchain, in every
//! `cargo test`: a deterministic mutation loop (a seeded xorshift) over the fuzz seed corpus
//! (`fuzz/corpus/read_snapshot/`), plus a replay of every input in `fuzz/regressions/` (inputs
//! that once crashed or hung the fuzz target of `bench/fuzz-analyzer.sh`). Every input must give
//! Ok or an error with a message, never a panic or a hang; and the Summary analysis must not panic
//! on any snapshot the reader accepts. A second loop changes the graphs themselves (edges rewired,
//! types and names changed, nodes and edges added and removed) and writes them back as snapshots,
//! so that most of its cases reach the analysis. Cases run under a watchdog (`util::cases`), which
//! names the input of a hang or of each distinct panic.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use serde::{Deserialize, Deserializer};
use serde_json::{json, Value};

mod util;

use util::cases::{install_panic_hook, run_cases, Case};
use util::{read, snapshot_text, EDGE_TYPES, NODE_TYPES};

/// Random mutations per seed file.
const MUTATIONS_PER_SEED: usize = 400;
/// Graph-level mutations per seed file.
const GRAPH_MUTATIONS_PER_SEED: usize = 300;
/// Seed files up to this size are also cut at every length.
const TRUNCATE_ALL_UP_TO: usize = 4096;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The files of a folder, sorted by name (none if it does not exist).
fn files_in(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(String, Vec<u8>)> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    out.sort();
    out
}

/// A hand-written xorshift64: the same cases on every run and machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// A number in 0..n (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    /// A range inside 0..len, at most `max` long.
    fn range(&mut self, len: usize, max: usize) -> std::ops::Range<usize> {
        let start = self.below(len + 1);
        let end = start + self.below((len - start).min(max) + 1);
        start..end
    }
}

/// Bytes that mean something to a JSON reader.
const INTERESTING_BYTES: &[u8] = b"{}[]:,\"\\0123456789-+.eEu \n\t\x00\x7f\x80\xc3\xff";
/// Numbers at and around the limits of u32 and of the reader.
const HUGE_NUMBERS: &[&str] = &[
    "0",
    "1",
    "00",
    "-1",
    "1.5",
    "1e9",
    "4294967295",
    "4294967296",
    "2147483648",
    "858993459",
    "900000000",
    "67108864",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999999999999999999",
    "000000000000000000000000000000000000000000001",
];
/// Tokens, names and escapes, as in the fuzz dictionary.
const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ":",
    ",",
    "\"",
    "\\",
    "\\u",
    "\\ud800",
    "\\udc00",
    "\\ud83d\\ude00",
    "\\u00e9",
    "\\uZZZZ",
    "\\x",
    "null",
    "true",
    "false",
    "[]",
    "{}",
    "\"\"",
    "\"snapshot\":",
    "\"meta\":",
    "\"nodes\":",
    "\"edges\":",
    "\"strings\":",
    "\"node_count\":",
    "\"edge_count\":",
    "\"node_fields\":",
    "\"edge_fields\":",
    "\"node_types\":",
    "\"edge_types\":",
    "\"type\"",
    "\"name\"",
    "\"id\"",
    "\"self_size\"",
    "\"edge_count\"",
    "\"detachedness\"",
    "\"name_or_index\"",
    "\"to_node\"",
    "\"element\"",
    "\"hidden\"",
    "\"weak\"",
    "\"shortcut\"",
    "\"internal\"",
    "\"property\"",
    "\"object\"",
    "\"synthetic\"",
    "\"Object\"",
    "\"(Document DOM trees)\"",
    "\"Detached <\"",
    "\"<div \"",
    "\"__proto__\"",
];

fn digit_runs(data: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < data.len() {
        if data[i].is_ascii_digit() {
            let start = i;
            while i < data.len() && data[i].is_ascii_digit() {
                i += 1;
            }
            runs.push(start..i);
        } else {
            i += 1;
        }
    }
    runs
}

fn positions_of(data: &[u8], byte: u8) -> Vec<usize> {
    (0..data.len()).filter(|&i| data[i] == byte).collect()
}

/// `k` levels of arrays or objects, to be placed where a value goes.
fn nested(k: usize, objects: bool) -> Vec<u8> {
    if objects {
        let mut v = "{\"a\":".repeat(k).into_bytes();
        v.extend_from_slice(b"0");
        v.extend(std::iter::repeat_n(b'}', k));
        v
    } else {
        let mut v = vec![b'['; k];
        v.extend(std::iter::repeat_n(b']', k));
        v
    }
}

/// One random change to `data`; returns what it did.
fn mutate(rng: &mut Rng, data: &mut Vec<u8>, others: &[(String, Vec<u8>)]) -> String {
    let len = data.len();
    match rng.below(11) {
        0 if len > 0 => {
            let i = rng.below(len);
            let bit = rng.below(8);
            data[i] ^= 1 << bit;
            format!("flip bit {bit} of byte {i}")
        }
        1 if len > 0 => {
            let i = rng.below(len);
            data[i] = *rng.pick(INTERESTING_BYTES);
            format!("set byte {i} to {:#04x}", data[i])
        }
        2 => {
            let r = rng.range(len, 64);
            data.drain(r.clone());
            format!("delete {r:?}")
        }
        3 => {
            let r = rng.range(len, 64);
            let copy = data[r.clone()].to_vec();
            let at = rng.below(len + 1);
            data.splice(at..at, copy);
            format!("duplicate {r:?} at {at}")
        }
        4 => {
            let runs = digit_runs(data);
            if runs.is_empty() {
                return "no digits to change".into();
            }
            let run = rng.pick(&runs).clone();
            let i = run.start + rng.below(run.len());
            if i + 1 < run.end && rng.below(2) == 0 {
                data.swap(i, i + 1);
                format!("swap digits {i} and {}", i + 1)
            } else {
                data[i] = b'0' + rng.below(10) as u8;
                format!("set digit {i} to {}", data[i] as char)
            }
        }
        5 => {
            let runs = digit_runs(data);
            if runs.is_empty() {
                return "no number to replace".into();
            }
            let run = rng.pick(&runs).clone();
            let huge = *rng.pick(HUGE_NUMBERS);
            data.splice(run.clone(), huge.bytes());
            format!("number at {run:?} becomes {huge}")
        }
        6 => {
            // Deep nesting as an extra element right after an opening bracket.
            let opens = positions_of(data, b'[');
            if opens.is_empty() {
                return "no array to nest in".into();
            }
            let at = *rng.pick(&opens) + 1;
            let k = *rng.pick(&[1usize, 63, 64, 65, 66, 1000, 100_000]);
            let objects = rng.below(2) == 0;
            let mut value = nested(k, objects);
            value.push(b',');
            data.splice(at..at, value);
            format!(
                "insert {k} nested {} at {at}",
                if objects { "objects" } else { "arrays" }
            )
        }
        7 if !others.is_empty() => {
            let (name, other) = rng.pick(others);
            let cut = rng.below(len + 1);
            let from = rng.below(other.len() + 1);
            data.truncate(cut);
            data.extend_from_slice(&other[from..]);
            format!("cut at {cut}, then {name} from byte {from}")
        }
        8 => {
            let token = *rng.pick(TOKENS);
            let at = rng.below(len + 1);
            data.splice(at..at, token.bytes());
            format!("insert {token:?} at {at}")
        }
        9 => {
            // A long run of one thing where whitespace or a value may go.
            let at = rng.below(len + 1);
            let (what, n): (&[u8], usize) = *rng.pick(&[
                (&b" "[..], 100_000),
                (&b"0"[..], 10_000),
                (&b"1,"[..], 5_000),
                (&b"\"\","[..], 5_000),
                (&b"\\u0041"[..], 5_000),
            ]);
            data.splice(at..at, what.repeat(n));
            format!(
                "insert {n} times {:?} at {at}",
                String::from_utf8_lossy(what)
            )
        }
        _ => {
            let cut = rng.below(len + 1);
            data.truncate(cut);
            format!("truncate at {cut}")
        }
    }
}

/// A snapshot's columns, to change the graph itself and write it back as a valid-looking file: most
/// of these cases pass the reader and exercise the analysis on odd graphs.
struct Columns {
    node_fields: Vec<String>,
    node_type_at: usize,
    node_types: Vec<String>,
    edge_fields: Vec<String>,
    edge_type_at: usize,
    edge_types: Vec<String>,
    /// Positions of the fields the mutations need: node type, name, edge_count; edge type,
    /// name_or_index, to_node.
    nt: usize,
    nn: usize,
    nec: usize,
    et: usize,
    en: usize,
    eto: usize,
    nodes: Vec<u32>,
    edges: Vec<u32>,
    strings: Vec<String>,
}

/// Names the analysis treats specially, and some odd ones.
const NAMES: &[&str] = &[
    "",
    "Object",
    "__proto__",
    "(GC roots)",
    "(Document DOM trees)",
    "Detached <div id=\"a\">",
    "Detached <",
    "<div class=\"x\">",
    "<",
    "a,b",
    "{x}",
    "system / Map",
    "1 / part of key (k @3) -> value (v @5) pair in WeakMap (table @1)",
    "1 / part of key (k @3) -> value (v @5) pair in WeakMap (table @",
    " / part of key () -> value () pair in WeakMap (table @4294967296)",
    "\u{FFFD}",
    "\u{1F600}\u{e9}",
];
/// Type names for the meta's lists: V8's node and edge types, and an empty one.
static TYPE_NAMES: LazyLock<Vec<&str>> = LazyLock::new(|| {
    let mut names = NODE_TYPES.to_vec();
    names.extend(EDGE_TYPES.iter().filter(|t| !NODE_TYPES.contains(t)));
    names.push("");
    names
});

/// A seed file as serde_json reads it (the seeds are our own, well-formed files): independent of how
/// the crate reads snapshots.
#[derive(Deserialize)]
struct Seed {
    snapshot: SeedHeader,
    nodes: Vec<u32>,
    edges: Vec<u32>,
    strings: Vec<Utf16Lossy>,
}
#[derive(Deserialize)]
struct SeedHeader {
    meta: SeedMeta,
}
#[derive(Deserialize)]
struct SeedMeta {
    node_fields: Vec<String>,
    node_types: Vec<Value>,
    edge_fields: Vec<String>,
    edge_types: Vec<Value>,
}

/// A JSON string read as V8 means it, UTF-16 with lone surrogates (which a Rust `String` cannot
/// hold): each lone surrogate becomes U+FFFD, as `String::from_utf16_lossy` makes it. serde_json
/// hands a string read as bytes over in WTF-8, a lone surrogate as ED A0..BF xx.
struct Utf16Lossy(String);

impl<'de> Deserialize<'de> for Utf16Lossy {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Wtf8;
        impl serde::de::Visitor<'_> for Wtf8 {
            type Value = Utf16Lossy;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_bytes<E>(self, b: &[u8]) -> Result<Utf16Lossy, E> {
                let mut out = Vec::with_capacity(b.len());
                let mut i = 0;
                while i < b.len() {
                    if b[i] == 0xED && b.get(i + 1).is_some_and(|x| *x >= 0xA0) {
                        out.extend_from_slice("\u{FFFD}".as_bytes());
                        i += 3;
                    } else {
                        out.push(b[i]);
                        i += 1;
                    }
                }
                Ok(Utf16Lossy(String::from_utf8(out).expect("WTF-8")))
            }
        }
        d.deserialize_bytes(Wtf8)
    }
}

impl Columns {
    /// The columns of a seed file (which must be a valid snapshot).
    fn of(seed: &[u8]) -> Columns {
        let Seed {
            snapshot,
            nodes,
            edges,
            strings,
        } = serde_json::from_slice(seed).expect("a seed is a snapshot");
        let meta = snapshot.meta;
        let at = |fields: &[String], name: &str| fields.iter().position(|f| f == name).unwrap();
        let (nt, et) = (at(&meta.node_fields, "type"), at(&meta.edge_fields, "type"));
        let names = |list: &Value| -> Vec<String> {
            let items = list.as_array().expect("a list of type names");
            items
                .iter()
                .map(|x| x.as_str().unwrap_or_default().to_string())
                .collect()
        };
        Columns {
            node_type_at: nt,
            node_types: names(&meta.node_types[nt]),
            edge_type_at: et,
            edge_types: names(&meta.edge_types[et]),
            nt,
            nn: at(&meta.node_fields, "name"),
            nec: at(&meta.node_fields, "edge_count"),
            et,
            en: at(&meta.edge_fields, "name_or_index"),
            eto: at(&meta.edge_fields, "to_node"),
            node_fields: meta.node_fields,
            edge_fields: meta.edge_fields,
            nodes,
            edges,
            strings: strings.into_iter().map(|s| s.0).collect(),
        }
    }
    fn nf(&self) -> usize {
        self.node_fields.len()
    }
    fn ef(&self) -> usize {
        self.edge_fields.len()
    }
    fn node_count(&self) -> usize {
        self.nodes.len() / self.nf()
    }
    fn edge_count(&self) -> usize {
        self.edges.len() / self.ef()
    }
    /// Index of the first edge of each node, and one past the last.
    fn first_edges(&self) -> Vec<usize> {
        let mut at = vec![0];
        for row in self.nodes.chunks_exact(self.nf()) {
            at.push(at.last().unwrap() + row[self.nec] as usize);
        }
        at
    }
    fn by_index(&self, edge_type: u32) -> bool {
        matches!(
            self.edge_types.get(edge_type as usize).map(String::as_str),
            Some("element" | "hidden")
        )
    }
    fn random_edge(&self, rng: &mut Rng) -> Vec<u32> {
        let mut row = vec![0; self.ef()];
        row[self.et] = rng.below(self.edge_types.len().max(1)) as u32;
        row[self.en] = if self.by_index(row[self.et]) || self.strings.is_empty() {
            rng.below(5) as u32
        } else {
            rng.below(self.strings.len()) as u32
        };
        row[self.eto] = (rng.below(self.node_count().max(1)) * self.nf()) as u32;
        row
    }

    /// One change to the graph; returns what it did.
    fn mutate(&mut self, rng: &mut Rng) -> String {
        let (nf, ef) = (self.nf(), self.ef());
        let (n, e) = (self.node_count(), self.edge_count());
        match rng.below(12) {
            0 if n > 0 => {
                let v = rng.below(n);
                let f = rng.below(nf);
                let value = if f == self.nt {
                    rng.below(self.node_types.len() + 1) as u32
                } else if f == self.nn {
                    rng.below(self.strings.len().max(1)) as u32
                } else if f == self.nec {
                    return "left an edge count alone".into();
                } else {
                    *rng.pick(&[0, 1, 2, 7, 1 << 20, u32::MAX / 2, u32::MAX])
                };
                self.nodes[v * nf + f] = value;
                format!("node {v} field {f} = {value}")
            }
            1 if n > 1 => {
                // Give one of a's edges to b: the edges stay, their owners shift.
                let a = rng.below(n);
                let b = rng.below(n);
                if self.nodes[a * nf + self.nec] == 0 {
                    return "no edge to move".into();
                }
                self.nodes[a * nf + self.nec] -= 1;
                self.nodes[b * nf + self.nec] += 1;
                format!("one edge count from node {a} to node {b}")
            }
            2 if e > 0 && n > 0 => {
                let i = rng.below(e);
                let to = rng.below(n);
                self.edges[i * ef + self.eto] = (to * nf) as u32;
                format!("edge {i} to node {to}")
            }
            3 if e > 0 => {
                let i = rng.below(e);
                let row = self.random_edge(rng);
                self.edges[i * ef + self.et] = row[self.et];
                self.edges[i * ef + self.en] = row[self.en];
                format!("edge {i} type {} name {}", row[self.et], row[self.en])
            }
            4 => {
                // A new node, with a few edges to and from it.
                let mut row = vec![0; nf];
                row[self.nt] = rng.below(self.node_types.len().max(1)) as u32;
                row[self.nn] = rng.below(self.strings.len().max(1)) as u32;
                for (f, x) in row.iter_mut().enumerate() {
                    if f != self.nt && f != self.nn && f != self.nec {
                        *x = *rng.pick(&[0, 1, 40, u32::MAX]);
                    }
                }
                self.nodes.extend(row);
                let k = rng.below(4);
                for _ in 0..k {
                    self.add_edge(rng);
                }
                format!("add node {n} and {k} edges")
            }
            5 if n > 0 => {
                let k = 1 + rng.below(8);
                for _ in 0..k {
                    self.add_edge(rng);
                }
                format!("add {k} edges")
            }
            6 if e > 0 => {
                let i = rng.below(e);
                let firsts = self.first_edges();
                let from = firsts.partition_point(|&f| f <= i) - 1;
                self.edges.drain(i * ef..(i + 1) * ef);
                self.nodes[from * nf + self.nec] -= 1;
                format!("delete edge {i} of node {from}")
            }
            7 if n > 1 => {
                // Drop the last node: its edges go, edges to it go to the root.
                let firsts = self.first_edges();
                self.edges.truncate(firsts[n - 1] * ef);
                self.nodes.truncate((n - 1) * nf);
                for row in self.edges.chunks_exact_mut(ef) {
                    if row[self.eto] as usize == (n - 1) * nf {
                        row[self.eto] = 0;
                    }
                }
                format!("drop node {}", n - 1)
            }
            8 => {
                let name = *rng.pick(NAMES);
                if self.strings.is_empty() || rng.below(3) == 0 {
                    self.strings.push(name.into());
                    format!("add string {name:?}")
                } else {
                    let i = rng.below(self.strings.len());
                    self.strings[i] = name.into();
                    format!("string {i} = {name:?}")
                }
            }
            9 => {
                let name = (*rng.pick(&TYPE_NAMES)).to_string();
                let list = if rng.below(2) == 0 {
                    &mut self.node_types
                } else {
                    &mut self.edge_types
                };
                if list.is_empty() || rng.below(4) == 0 {
                    list.push(name.clone());
                    format!("add type name {name:?}")
                } else {
                    let i = rng.below(list.len());
                    list[i] = name.clone();
                    format!("type name {i} = {name:?}")
                }
            }
            10 if n > 0 => {
                // Everything points at one node.
                let to = rng.below(n);
                for row in self.edges.chunks_exact_mut(ef) {
                    row[self.eto] = (to * nf) as u32;
                }
                format!("all edges to node {to}")
            }
            _ if n > 0 => {
                // Many new nodes and edges at random.
                let k = 10 + rng.below(50);
                for _ in 0..k {
                    let mut row = vec![0; nf];
                    row[self.nt] = rng.below(self.node_types.len().max(1)) as u32;
                    row[self.nn] = rng.below(self.strings.len().max(1)) as u32;
                    self.nodes.extend(row);
                }
                for _ in 0..k * 2 {
                    self.add_edge(rng);
                }
                format!("add {k} nodes and {} edges", k * 2)
            }
            _ => "nothing".into(),
        }
    }

    /// A random edge from a random node, kept in order (edges are grouped by their node).
    fn add_edge(&mut self, rng: &mut Rng) {
        let n = self.node_count();
        if n == 0 {
            return;
        }
        let from = rng.below(n);
        let at = self.first_edges()[from + 1] * self.ef();
        let row = self.random_edge(rng);
        self.edges.splice(at..at, row);
        let at = from * self.nf() + self.nec;
        self.nodes[at] += 1;
    }

    /// The snapshot's text; the meta's type lists name the types at the type field, and say
    /// "number" for every other field.
    fn to_json(&self) -> Vec<u8> {
        let types = |fields: &[String], at: usize, names: &[String]| -> Value {
            let list = |i| {
                if i == at {
                    json!(names)
                } else {
                    json!("number")
                }
            };
            (0..fields.len()).map(list).collect()
        };
        snapshot_text(
            &self.node_fields,
            &types(&self.node_fields, self.node_type_at, &self.node_types),
            &self.edge_fields,
            &types(&self.edge_fields, self.edge_type_at, &self.edge_types),
            &self.nodes,
            &self.edges,
            &self.strings,
        )
        .into_bytes()
    }
}

#[test]
fn mutated_graphs_never_panic_or_hang() {
    let seeds = files_in(&fuzz_dir().join("corpus/read_snapshot"));
    assert!(seeds.len() >= 3, "the seed corpus is missing");
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut cases = Vec::new();
    for (name, seed) in &seeds {
        let columns = Columns::of(seed);
        assert!(
            read(columns.to_json()).is_ok(),
            "seed {name} written back from its columns does not read"
        );
        for _ in 0..GRAPH_MUTATIONS_PER_SEED {
            let mut columns = Columns::of(seed);
            let mut what = Vec::new();
            for _ in 0..1 + rng.below(4) {
                what.push(columns.mutate(&mut rng));
            }
            cases.push(Case {
                label: format!("{name} graph: {}", what.join("; ")),
                input: columns.to_json(),
            });
        }
    }
    let n = cases.len();
    let accepted = run_cases(cases);
    assert!(
        accepted * 2 > n,
        "only {accepted} of {n} changed graphs were read: the cases miss the analysis"
    );
}

#[test]
fn mutated_seeds_never_panic_or_hang() {
    let seeds = files_in(&fuzz_dir().join("corpus/read_snapshot"));
    assert!(seeds.len() >= 3, "the seed corpus is missing");
    let mut cases = Vec::new();
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    for (name, seed) in &seeds {
        cases.push(Case {
            label: format!("{name} as it is"),
            input: seed.clone(),
        });
        if seed.len() <= TRUNCATE_ALL_UP_TO {
            for cut in 0..seed.len() {
                cases.push(Case {
                    label: format!("{name} cut at {cut}"),
                    input: seed[..cut].to_vec(),
                });
            }
        }
        for _ in 0..MUTATIONS_PER_SEED {
            let mut input = seed.clone();
            let mut what = Vec::new();
            for _ in 0..1 + rng.below(3) {
                what.push(mutate(&mut rng, &mut input, &seeds));
            }
            cases.push(Case {
                label: format!("{name}: {}", what.join("; ")),
                input,
            });
        }
    }
    let n = cases.len();
    let accepted = run_cases(cases);
    assert!(n >= 2000, "only {n} cases");
    assert!(
        accepted > seeds.len(),
        "mutations should keep some snapshots readable"
    );
}

#[test]
fn every_seed_is_a_valid_snapshot() {
    install_panic_hook();
    for (name, seed) in files_in(&fuzz_dir().join("corpus/read_snapshot")) {
        read(&seed).unwrap_or_else(|e| panic!("seed {name} does not read: {e}"));
    }
}

#[test]
fn fuzz_regressions_replay() {
    let cases: Vec<Case> = files_in(&fuzz_dir().join("regressions"))
        .into_iter()
        .filter(|(name, _)| !name.starts_with('.') && !name.ends_with(".md"))
        .map(|(name, input)| Case {
            label: format!("regression {name}"),
            input,
        })
        .collect();
    run_cases(cases);
}
