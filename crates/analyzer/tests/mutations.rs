//! The snapshot reader on thousands of damaged snapshots, on the stable toolchain, in every
//! `cargo test`: a deterministic mutation loop (a seeded xorshift) over the fuzz seed corpus
//! (`fuzz/corpus/read_snapshot/`), plus a replay of every input in `fuzz/regressions/` (inputs
//! that once crashed or hung the fuzz target of `bench/fuzz-analyzer.sh`). Every input must give
//! Ok or an error with a message, never a panic or a hang; and the Summary analysis must not panic
//! on any snapshot the reader accepts. A second loop changes the graphs themselves (edges rewired,
//! types and names changed, nodes and edges added and removed) and writes them back as snapshots,
//! so that most of its cases reach the analysis. Cases run on a worker thread under a watchdog: a
//! case that takes longer than `CASE_LIMIT` fails the test naming that input instead of blocking
//! forever; panics are collected, and the test fails after all cases with the shortest input of
//! each distinct panic (also written under the target folder, to copy into `fuzz/regressions/`).

use std::cell::Cell;
use std::collections::BTreeMap;
use std::io::Cursor;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex, Once};
use std::time::{Duration, Instant};

use oom_heapdump_analyzer::diff::compare;
use oom_heapdump_analyzer::read_snapshot_from;
use oom_heapdump_analyzer::report::{analyze, Limits};
use oom_heapdump_analyzer::summary::summarize;

/// Longest a single case may take (debug build, slow machine) before it counts as a hang.
const CASE_LIMIT: Duration = Duration::from_secs(30);
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

/// Set while a case runs: the panic hook then records the panic instead of printing it.
static IN_CASE: AtomicBool = AtomicBool::new(false);
/// The first panic of the running case (message and place), from whichever thread it happened in
/// (the analysis runs parts of its work on threads of its own).
static FIRST_PANIC: Mutex<Option<String>> = Mutex::new(None);
/// One `run_cases` at a time: the two statics above belong to it.
static RUNNING: Mutex<()> = Mutex::new(());

thread_local! {
    /// Set on the test threads themselves: their panics (a test failing) are always printed.
    static TEST_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// Installs the hook (once) and marks the calling test thread.
fn install_panic_hook() {
    TEST_THREAD.with(|t| t.set(true));
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_CASE.load(Ordering::SeqCst) || TEST_THREAD.with(Cell::get) {
                return default(info);
            }
            let mut first = FIRST_PANIC.lock().unwrap_or_else(|e| e.into_inner());
            if first.is_none() {
                let payload = info.payload();
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "(no message)".into());
                let place = info
                    .location()
                    .map_or_else(String::new, |l| format!(" at {}:{}", l.file(), l.line()));
                *first = Some(format!("{message}{place}"));
            }
        }));
    });
}

/// Runs the reader, and the analysis on what the reader accepts. Err: what went wrong (a panic,
/// with its first message and place, or an empty error message). Ok: whether the reader accepted.
fn check(input: &[u8]) -> Result<bool, String> {
    *FIRST_PANIC.lock().unwrap_or_else(|e| e.into_inner()) = None;
    IN_CASE.store(true, Ordering::SeqCst);
    let first_panic = || {
        FIRST_PANIC
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .unwrap_or_default()
    };
    let result = match catch_unwind(|| read_snapshot_from(Cursor::new(input))) {
        Err(_) => Err(format!("the reader panicked: {}", first_panic())),
        Ok(Err(e)) if e.to_string().is_empty() => Err(format!("an empty error message: {e:?}")),
        Ok(Err(_)) => Ok(false),
        Ok(Ok(s)) => match catch_unwind(AssertUnwindSafe(|| {
            summarize(&s);
            // The whole report (largest objects, retainer paths) and a comparison with itself.
            analyze(&s, Limits::default()).to_string();
            assert!(compare(&s, &s).classes.is_empty());
        })) {
            Err(_) => Err(format!(
                "the analysis panicked on a snapshot the reader accepted: {}",
                first_panic()
            )),
            Ok(_) => Ok(true),
        },
    };
    IN_CASE.store(false, Ordering::SeqCst);
    result
}

/// The input for a failure message: escaped, and cut if long.
fn show(input: &[u8]) -> String {
    // Only ASCII: any cut is at a character boundary.
    let text: String = input.escape_ascii().to_string();
    if text.len() > 2000 {
        format!("{}... ({} bytes in all)", &text[..2000], input.len())
    } else {
        text
    }
}

/// Keeps a failing input where the developer can copy it into fuzz/regressions/.
fn keep(label: &str, input: &[u8]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("analyzer-mutations");
    std::fs::create_dir_all(&dir).unwrap();
    let name: String = label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(80)
        .collect();
    let path = dir.join(format!("{name}.heapsnapshot"));
    std::fs::write(&path, input).unwrap();
    path
}

struct Case {
    label: String,
    input: Vec<u8>,
}

/// What the worker tells the watchdog.
enum Msg {
    /// Case `i` starts now.
    Start(usize),
    /// All cases ran: how many the reader accepted, and the failures (case, what went wrong).
    Done {
        accepted: usize,
        failures: Vec<(usize, String)>,
    },
}

/// Runs every case on a worker thread under a watchdog; fails naming the input on a hang (at
/// once) or, after all cases, on panics and empty error messages (the shortest input of each
/// distinct failure). Returns how many inputs the reader accepted.
fn run_cases(cases: Vec<Case>) -> usize {
    install_panic_hook();
    let _running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
    let cases = Arc::new(cases);
    let (tx, rx) = mpsc::channel::<Msg>();
    let worker_cases = Arc::clone(&cases);
    std::thread::Builder::new()
        .name("mutations".into())
        .spawn(move || {
            let mut accepted = 0;
            let mut failures = Vec::new();
            for (i, case) in worker_cases.iter().enumerate() {
                if tx.send(Msg::Start(i)).is_err() {
                    return;
                }
                match check(&case.input) {
                    Ok(ok) => accepted += usize::from(ok),
                    Err(failure) => failures.push((i, failure)),
                }
            }
            let _ = tx.send(Msg::Done { accepted, failures });
        })
        .unwrap();
    let started = Instant::now();
    let mut current = None;
    loop {
        match rx.recv_timeout(CASE_LIMIT) {
            Ok(Msg::Start(i)) => current = Some(i),
            Ok(Msg::Done { accepted, failures }) => {
                eprintln!(
                    "{} cases in {:.1} s, {accepted} accepted by the reader",
                    cases.len(),
                    started.elapsed().as_secs_f64()
                );
                if failures.is_empty() {
                    return accepted;
                }
                // The shortest input of each distinct failure.
                let mut shortest: BTreeMap<&str, usize> = BTreeMap::new();
                for (i, failure) in &failures {
                    let best = shortest.entry(failure).or_insert(*i);
                    if cases[*i].input.len() < cases[*best].input.len() {
                        *best = *i;
                    }
                }
                let mut report = format!(
                    "{} of {} cases failed, {} distinct failures:\n",
                    failures.len(),
                    cases.len(),
                    shortest.len()
                );
                for (failure, &i) in &shortest {
                    let case = &cases[i];
                    let file = keep(&case.label, &case.input);
                    report += &format!(
                        "\n- {failure}\n  case {i} ({}), {} bytes, kept in {}\n  input: {}\n",
                        case.label,
                        case.input.len(),
                        file.display(),
                        show(&case.input)
                    );
                }
                panic!("{report}");
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let Some(i) = current else {
                    panic!("the worker did not start within {CASE_LIMIT:?}");
                };
                let case = &cases[i];
                let file = keep(&case.label, &case.input);
                panic!(
                    "case {i} ({}) still runs after {CASE_LIMIT:?}: a hang\ninput kept in {}\ninput: {}",
                    case.label,
                    file.display(),
                    show(&case.input)
                );
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                panic!("the worker thread died (case {current:?})")
            }
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
const TYPE_NAMES: &[&str] = &[
    "hidden",
    "array",
    "string",
    "object",
    "code",
    "closure",
    "regexp",
    "number",
    "native",
    "synthetic",
    "context",
    "element",
    "property",
    "internal",
    "shortcut",
    "weak",
    "",
];

/// Just enough of a JSON value to take the seeds apart (they are our own, well-formed files):
/// independent of how the crate lays out its `Snapshot`.
#[derive(Debug)]
enum J {
    Object(Vec<(String, J)>),
    Array(Vec<J>),
    Str(String),
    Num(u64),
    Other,
}

impl J {
    fn parse(text: &str) -> J {
        let mut chars = text.chars().peekable();
        let v = J::value(&mut chars);
        assert!(chars.all(char::is_whitespace), "text after the seed");
        v
    }
    fn value(c: &mut std::iter::Peekable<std::str::Chars>) -> J {
        let skip_ws = |c: &mut std::iter::Peekable<std::str::Chars>| {
            while c.next_if(|x| x.is_whitespace()).is_some() {}
        };
        skip_ws(c);
        match c.next().expect("a value") {
            '{' => {
                let mut fields = Vec::new();
                loop {
                    skip_ws(c);
                    match c.next() {
                        Some('}') => return J::Object(fields),
                        Some(',') => continue,
                        Some('"') => {
                            let J::Str(key) = J::string(c) else {
                                unreachable!()
                            };
                            skip_ws(c);
                            assert_eq!(c.next(), Some(':'));
                            fields.push((key, J::value(c)));
                        }
                        other => panic!("unexpected {other:?} in an object"),
                    }
                }
            }
            '[' => {
                let mut items = Vec::new();
                loop {
                    skip_ws(c);
                    match c.peek() {
                        Some(']') => {
                            c.next();
                            return J::Array(items);
                        }
                        Some(',') => {
                            c.next();
                        }
                        _ => items.push(J::value(c)),
                    }
                }
            }
            '"' => J::string(c),
            d if d.is_ascii_digit() => {
                let mut n = u64::from(d as u8 - b'0');
                while let Some(d) = c.next_if(char::is_ascii_digit) {
                    n = n * 10 + u64::from(d as u8 - b'0');
                }
                J::Num(n)
            }
            _ => {
                while c.next_if(char::is_ascii_alphanumeric).is_some() {}
                J::Other
            }
        }
    }
    /// A string, after its opening quote (escapes decoded, lone surrogates as U+FFFD).
    fn string(c: &mut std::iter::Peekable<std::str::Chars>) -> J {
        let mut units: Vec<u16> = Vec::new();
        loop {
            match c.next().expect("a closed string") {
                '"' => return J::Str(String::from_utf16_lossy(&units)),
                '\\' => {
                    let e = c.next().expect("an escape");
                    let unit = match e {
                        'n' => '\n' as u16,
                        't' => '\t' as u16,
                        'r' => '\r' as u16,
                        'b' => 8,
                        'f' => 12,
                        'u' => {
                            let hex: String = (0..4).map(|_| c.next().unwrap()).collect();
                            u16::from_str_radix(&hex, 16).unwrap()
                        }
                        other => other as u16,
                    };
                    units.push(unit);
                }
                ch => units.extend(ch.encode_utf16(&mut [0; 2]).iter()),
            }
        }
    }
    fn get(&self, key: &str) -> &J {
        match self {
            J::Object(fields) => &fields.iter().find(|(k, _)| k == key).expect(key).1,
            _ => panic!("not an object where {key:?} should be"),
        }
    }
    fn items(&self) -> &[J] {
        match self {
            J::Array(items) => items,
            _ => panic!("not an array"),
        }
    }
    fn names(&self) -> Vec<String> {
        self.items()
            .iter()
            .map(|x| match x {
                J::Str(s) => s.clone(),
                _ => String::new(),
            })
            .collect()
    }
    fn numbers(&self) -> Vec<u32> {
        self.items()
            .iter()
            .map(|x| match x {
                J::Num(n) => *n as u32,
                _ => panic!("not a number"),
            })
            .collect()
    }
}

impl Columns {
    /// The columns of a seed file (which must be a valid snapshot).
    fn of(seed: &[u8]) -> Columns {
        let root = J::parse(std::str::from_utf8(seed).expect("a UTF-8 seed"));
        let meta = root.get("snapshot").get("meta");
        let node_fields = meta.get("node_fields").names();
        let edge_fields = meta.get("edge_fields").names();
        let at = |fields: &[String], name: &str| fields.iter().position(|f| f == name).unwrap();
        let (nt, et) = (at(&node_fields, "type"), at(&edge_fields, "type"));
        Columns {
            node_type_at: nt,
            node_types: meta.get("node_types").items()[nt].names(),
            edge_type_at: et,
            edge_types: meta.get("edge_types").items()[et].names(),
            nt,
            nn: at(&node_fields, "name"),
            nec: at(&node_fields, "edge_count"),
            et,
            en: at(&edge_fields, "name_or_index"),
            eto: at(&edge_fields, "to_node"),
            node_fields,
            edge_fields,
            nodes: root.get("nodes").numbers(),
            edges: root.get("edges").numbers(),
            strings: root.get("strings").names(),
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
                let name = (*rng.pick(TYPE_NAMES)).to_string();
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

    fn to_json(&self) -> Vec<u8> {
        let list = |items: &[String]| {
            let quoted: Vec<String> = items.iter().map(|s| quote(s)).collect();
            format!("[{}]", quoted.join(","))
        };
        let types = |fields: &[String], at: usize, names: &[String]| {
            let parts: Vec<String> = (0..fields.len())
                .map(|i| {
                    if i == at {
                        list(names)
                    } else {
                        "\"number\"".into()
                    }
                })
                .collect();
            format!("[{}]", parts.join(","))
        };
        let numbers = |v: &[u32]| {
            let parts: Vec<String> = v.iter().map(u32::to_string).collect();
            format!("[{}]", parts.join(","))
        };
        format!(
            r#"{{"snapshot":{{"meta":{{"node_fields":{},"node_types":{},"edge_fields":{},"edge_types":{}}},"node_count":{},"edge_count":{}}},"nodes":{},"edges":{},"strings":{}}}"#,
            list(&self.node_fields),
            types(&self.node_fields, self.node_type_at, &self.node_types),
            list(&self.edge_fields),
            types(&self.edge_fields, self.edge_type_at, &self.edge_types),
            self.node_count(),
            self.edge_count(),
            numbers(&self.nodes),
            numbers(&self.edges),
            list(&self.strings)
        )
        .into_bytes()
    }
}

/// A JSON string.
fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
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
            read_snapshot_from(Cursor::new(columns.to_json())).is_ok(),
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
        read_snapshot_from(Cursor::new(&seed))
            .unwrap_or_else(|e| panic!("seed {name} does not read: {e}"));
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
