//! Writes a valid synthetic heap snapshot of about `--nodes` nodes in V8's format (Node 20's
//! layout), with the shape of a leaking app's heap: the root and `(GC roots)`, a global object
//! holding request logs (arrays whose elements stores hold records), each record an object of one
//! of 20 classes with a `path` string (one of 5000 texts, so most are duplicates), a boxed double
//! `ms`, a shared `method` string, a `peer` link to an earlier record of its log (so the graph is
//! not a tree and dominators matter) and its class's hidden class (`map`). About 2.7 edges a node,
//! as V8's snapshots of such heaps. For the analyzer's scale bench (README, Benchmarks):
//!
//!   cargo run --release -p oom-heapdump-analyzer --example gen_snapshot -- --nodes 40000000 OUT
//!
//! That file has almost no strings (about 56 bytes a node). Real heaps hold text: with
//! `--text-bytes N`, seven records in eight hold a distinct log line of N bytes as their `path`
//! (the eighth still one of the 5000 shared texts), as an app that keeps request logs or bodies
//! read from sockets (flat strings, one snapshot node each). `--text-bytes 128` gives about 100
//! bytes a node, the shape "4 GB is about 40 M nodes" describes (README, Scale, for the real
//! snapshots it sits between).
//!
//! The file is written to OUT.tmp-<pid> and renamed when complete.

use std::io::{BufWriter, Write};

const LOGS: u32 = 64;
const CLASSES: u32 = 20;
const TEXTS: u32 = 5000;
const NF: u32 = 7;

/// Appends `n` and a comma.
fn num(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
    out.push(b',');
}

struct Layout {
    records: u64,
    per_log: u64,
}

// Node numbers: 0 root, 1 (GC roots), 2 global, 3..3+LOGS arrays, then LOGS elements stores, then
// CLASSES maps (hidden classes), 1 string map, 1 number map, 1 method string, then per record 3
// nodes (record, path string, ms number).
const FIXED: u64 = 3 + 2 * LOGS as u64 + CLASSES as u64 + 3;

// Strings: 0 "", 1 "(GC roots)", 2 "global", 3 "Array", 4 "(object elements)", 5 "system / Map",
// 6 "heap number", 7 "GET", 8 "map", 9 "path", 10 "ms", 11 "method", 12 "peer", 13 "elements",
// 14 "log0".. LOGS names, then CLASSES class names, then TEXTS texts.
const S_LOG: u64 = 14;
const S_CLASS: u64 = S_LOG + LOGS as u64;
const S_TEXT: u64 = S_CLASS + CLASSES as u64;
const S_DISTINCT: u64 = S_TEXT + TEXTS as u64;

/// Record `r`'s log line, `bytes` long: a time, an id, a path and a query of hex digits, all of
/// them derived from `r` (the same line whenever it is written).
fn log_line(out: &mut Vec<u8>, r: u64, bytes: u64) {
    let start = out.len();
    let ms = 1_700_000_000_000 + r * 137;
    write!(
        out,
        "{}.{:03} INFO request {:08x} GET /api/items/{}?q=",
        ms / 1000,
        ms % 1000,
        r.wrapping_mul(0x9E37_79B9) & 0xffff_ffff,
        r % 7919
    )
    .unwrap();
    let mut h = r.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    while ((out.len() - start) as u64) < bytes {
        h ^= h << 13;
        h ^= h >> 7;
        h ^= h << 17;
        out.push(b"0123456789abcdef"[(h & 15) as usize]);
    }
    out.truncate(start + bytes as usize);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let nodes: u64 = args
        .iter()
        .position(|a| a == "--nodes")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let text_bytes: u64 = args
        .iter()
        .position(|a| a == "--text-bytes")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let out_path = args
        .last()
        .filter(|a| !a.starts_with("--") && args.len() % 2 == 1)
        .expect("usage: gen_snapshot [--nodes N] [--text-bytes N] OUT.heapsnapshot")
        .clone();
    let records = nodes.saturating_sub(FIXED) / 3;
    let l = Layout {
        records,
        per_log: records.div_ceil(u64::from(LOGS)).max(1),
    };
    let node_count = FIXED + 3 * l.records;
    let record = |r: u64| FIXED + 3 * r;
    // Records holding a distinct text, and that text's number among them.
    let distinct = |r: u64| text_bytes > 0 && !r.is_multiple_of(8);
    let distinct_index = |r: u64| r - r / 8 - 1;
    let log_of = |r: u64| r / l.per_log;
    let logs_used = if l.records == 0 {
        0
    } else {
        log_of(l.records - 1) + 1
    };
    let log_len = |k: u64| (l.records.saturating_sub(k * l.per_log)).min(l.per_log);
    // Edges: root 2, GC roots 1, global LOGS, arrays 1 each, stores their records, records 5,
    // strings and numbers 1 (their map).
    let edge_count = 2 + 1 + u64::from(LOGS) + u64::from(LOGS) + l.records + 7 * l.records;

    let tmp = format!("{out_path}.tmp-{}", std::process::id());
    let file = std::fs::File::create(&tmp).expect("create");
    let mut w = BufWriter::with_capacity(8 << 20, file);
    let types = r#"["hidden","array","string","object","code","closure","regexp","number","native","synthetic","concatenated string","sliced string","symbol","bigint","object shape"]"#;
    write!(
        w,
        r#"{{"snapshot":{{"meta":{{"node_fields":["type","name","id","self_size","edge_count","trace_node_id","detachedness"],"node_types":[{types},"string","number","number","number","number","number"],"edge_fields":["type","name_or_index","to_node"],"edge_types":[["context","element","property","internal","hidden","shortcut","weak"],"string_or_number","node"],"location_fields":["object_index","script_id","line","column"]}},"node_count":{node_count},"edge_count":{edge_count}}},"nodes":["#
    )
    .unwrap();
    // Node types.
    const ARRAY: u64 = 1;
    const STRING: u64 = 2;
    const OBJECT: u64 = 3;
    const NUMBER: u64 = 7;
    const SYNTHETIC: u64 = 9;
    const SHAPE: u64 = 14;
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 20);
    let mut id: u64 = 1;
    let mut node = |buf: &mut Vec<u8>, ty: u64, name: u64, size: u64, edges: u64| {
        for v in [ty, name, id, size, edges, 0, 0] {
            num(buf, v);
        }
        id += 2;
    };
    node(&mut buf, SYNTHETIC, 0, 0, 2);
    node(&mut buf, SYNTHETIC, 1, 0, 1);
    node(&mut buf, OBJECT, 2, 64, u64::from(LOGS));
    for _ in 0..LOGS {
        node(&mut buf, OBJECT, 3, 32, 1);
    }
    for k in 0..u64::from(LOGS) {
        node(&mut buf, ARRAY, 4, 16 + 8 * log_len(k), log_len(k));
    }
    for _ in 0..CLASSES {
        node(&mut buf, SHAPE, 5, 80, 0);
    }
    node(&mut buf, SHAPE, 5, 80, 0);
    node(&mut buf, SHAPE, 5, 80, 0);
    node(&mut buf, STRING, 7, 16, 0);
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut rand = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for r in 0..l.records {
        let class = r % u64::from(CLASSES);
        node(&mut buf, OBJECT, S_CLASS + class, 56, 5);
        let text = rand() % u64::from(TEXTS);
        if distinct(r) {
            // A sequential string's header and its characters, rounded up to 8 bytes.
            let size = 16 + text_bytes.div_ceil(8) * 8;
            node(&mut buf, STRING, S_DISTINCT + distinct_index(r), size, 1);
        } else {
            node(&mut buf, STRING, S_TEXT + text, 24 + 8 * (text % 4), 1);
        }
        node(&mut buf, NUMBER, 6, 16, 1);
        if buf.len() > (1 << 20) - 256 {
            w.write_all(&buf).unwrap();
            buf.clear();
        }
    }
    buf.pop(); // the last comma
    buf.extend_from_slice(b"],\n\"edges\":[");
    // Edge types.
    const ELEMENT: u64 = 1;
    const PROPERTY: u64 = 2;
    const INTERNAL: u64 = 3;
    const SHORTCUT: u64 = 5;
    let to = |n: u64| n * u64::from(NF);
    let edge = |buf: &mut Vec<u8>, ty: u64, name: u64, target: u64| {
        num(buf, ty);
        num(buf, name);
        num(buf, to(target));
    };
    let arrays = 3u64;
    let stores = arrays + u64::from(LOGS);
    let maps = stores + u64::from(LOGS);
    let string_map = maps + u64::from(CLASSES);
    let number_map = string_map + 1;
    let method = number_map + 1;
    edge(&mut buf, ELEMENT, 1, 1);
    edge(&mut buf, SHORTCUT, 2, 2);
    edge(&mut buf, ELEMENT, 1, 2);
    for k in 0..u64::from(LOGS) {
        edge(&mut buf, PROPERTY, S_LOG + k, arrays + k);
    }
    for k in 0..u64::from(LOGS) {
        edge(&mut buf, INTERNAL, 13, stores + k);
    }
    let _ = logs_used;
    for k in 0..u64::from(LOGS) {
        for i in 0..log_len(k) {
            edge(&mut buf, ELEMENT, i, record(k * l.per_log + i));
            if buf.len() > (1 << 20) - 256 {
                w.write_all(&buf).unwrap();
                buf.clear();
            }
        }
    }
    for r in 0..l.records {
        let class = r % u64::from(CLASSES);
        let first = log_of(r) * l.per_log;
        let peer = if r > first {
            first + rand() % (r - first)
        } else {
            r
        };
        edge(&mut buf, INTERNAL, 8, maps + class);
        edge(&mut buf, PROPERTY, 9, record(r) + 1);
        edge(&mut buf, PROPERTY, 10, record(r) + 2);
        edge(&mut buf, PROPERTY, 11, method);
        edge(&mut buf, PROPERTY, 12, record(peer));
        edge(&mut buf, INTERNAL, 8, string_map);
        edge(&mut buf, INTERNAL, 8, number_map);
        if buf.len() > (1 << 20) - 256 {
            w.write_all(&buf).unwrap();
            buf.clear();
        }
    }
    buf.pop();
    buf.extend_from_slice(b"],\n\"locations\":[],\n\"strings\":[\"\",\"(GC roots)\",\"global\",\"Array\",\"(object elements)\",\"system / Map\",\"heap number\",\"GET\",\"map\",\"path\",\"ms\",\"method\",\"peer\",\"elements\"");
    for k in 0..LOGS {
        write!(buf, ",\"log{k}\"").unwrap();
    }
    for c in 0..CLASSES {
        write!(buf, ",\"RequestRecord{c}\"").unwrap();
    }
    for t in 0..TEXTS {
        write!(buf, ",\"/api/items/{t}?page=1\"").unwrap();
    }
    for r in (0..l.records).filter(|&r| distinct(r)) {
        buf.extend_from_slice(b",\"");
        log_line(&mut buf, r, text_bytes);
        buf.push(b'"');
        if buf.len() > (1 << 20) - 256 - text_bytes as usize {
            w.write_all(&buf).unwrap();
            buf.clear();
        }
    }
    buf.extend_from_slice(b"]}\n");
    w.write_all(&buf).unwrap();
    let file = w.into_inner().expect("flush");
    file.sync_all().expect("fsync");
    std::fs::rename(&tmp, &out_path).expect("rename");
    eprintln!("{out_path}: {node_count} nodes, {edge_count} edges");
}
