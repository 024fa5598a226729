//! The snapshot reader on hand-made snapshots, every kind of bad input, and a real snapshot that
//! the test makes with node.

mod util;

use oom_heapdump_analyzer::read_snapshot;
use util::read;

/// Three nodes (a root, an object, a string) and two edges, in V8's layout with `detachedness`.
const SMALL: &str = r#"{"snapshot":{"meta":{"node_fields":["type","name","id","self_size","edge_count","trace_node_id","detachedness"],"node_types":[["hidden","array","string","object","code","closure","regexp","number","native","synthetic","concatenated string","sliced string","symbol","bigint","object shape"],"string","number","number","number","number","number"],"edge_fields":["type","name_or_index","to_node"],"edge_types":[["context","element","property","internal","hidden","shortcut","weak"],"string_or_number","node"],"trace_function_info_fields":[],"trace_node_fields":[],"sample_fields":[],"location_fields":[]},"node_count":3,"edge_count":2,"trace_function_count":0},
"nodes":[9,0,1,0,1,0,0
,3,1,3,24,1,0,0
,2,2,5,16,0,0,0],
"edges":[5,1,7
,2,3,14],
"trace_function_infos":[],"trace_tree":[],"samples":[],"locations":[],
"strings":["(GC roots)","Leaky","text \ud800 lone","data"]}"#;

#[test]
fn reads_columns_by_field_name() {
    let s = read(SMALL).unwrap();
    assert_eq!((s.node_count, s.edge_count), (3, 2));
    assert_eq!(s.meta.node_fields.len(), 7);
    assert_eq!(s.node_type, vec![9, 3, 2]);
    assert_eq!(s.node_name, vec![0, 1, 2]);
    assert_eq!(s.node_id, vec![1, 3, 5]);
    assert_eq!(s.node_self_size, vec![0, 24, 16]);
    assert_eq!(s.first_edge, vec![0, 1, 2, 2]);
    assert_eq!(s.edge_type, vec![5, 2]);
    assert_eq!(s.edge_name_or_index, vec![1, 3]);
    assert_eq!(s.edge_to, vec![1, 2], "edge targets become node numbers");
    assert_eq!(s.meta.node_types[s.node_type[1] as usize], "object");
    assert_eq!((s.strings.len(), s.strings.kept_len()), (4, 3));
    assert_eq!(
        s.strings.get(2),
        "",
        "the text of a string value no other node or edge names is not kept"
    );
    assert_eq!(s.strings.get(3), "data");
    let named = read(SMALL.replace(",2,3,14]", ",2,2,14]")).unwrap();
    assert_eq!(
        named.strings.get(2),
        "text \u{FFFD} lone",
        "a lone surrogate is kept as U+FFFD"
    );
}

#[test]
fn strings_before_the_nodes_keep_every_text() {
    // What reads a text is known only once the nodes and edges are read: V8 writes them first.
    let strings = r#""strings":["(GC roots)","Leaky","text \ud800 lone","data"]"#;
    let (start, end) = (
        SMALL.find(r#""nodes""#).unwrap(),
        SMALL.find(strings).unwrap(),
    );
    let text = format!(
        "{}{strings},{}}}",
        &SMALL[..start],
        SMALL[start..end].trim_end().trim_end_matches(',')
    );
    let s = read(&text).unwrap();
    assert_eq!((s.strings.len(), s.strings.kept_len()), (4, 4));
    assert_eq!(s.strings.get(2), "text \u{FFFD} lone");
    assert_eq!(read(SMALL).unwrap().strings.get(2), "");
}

#[test]
fn layout_without_detachedness_and_in_another_order() {
    let text = SMALL
        .replace(r#""node_fields":["type","name","id","self_size","edge_count","trace_node_id","detachedness"]"#, r#""node_fields":["name","type","id","self_size","edge_count"]"#)
        .replace(r#","string","number","number","number","number","number"]"#, r#","number","number","number"]"#)
        .replace("[9,0,1,0,1,0,0\n,3,1,3,24,1,0,0\n,2,2,5,16,0,0,0]", "[0,9,1,0,1\n,1,3,3,24,1\n,2,2,5,16,0]")
        .replace("[5,1,7\n,2,3,14]", "[5,1,5\n,2,3,10]")
        .replace(r#""node_types":[["hidden""#, r#""node_types":["string",["hidden""#);
    let s = read(&text).unwrap();
    assert_eq!((s.meta.node_name, s.meta.node_type), (0, 1));
    assert_eq!(s.meta.node_types[s.node_type[1] as usize], "object");
    assert_eq!(s.node_name, vec![0, 1, 2]);
    assert_eq!(s.edge_to, vec![1, 2]);
}

#[test]
fn every_truncation_is_an_error_with_its_offset() {
    for cut in 0..SMALL.len() - 1 {
        let err = read(&SMALL[..cut]).expect_err("a prefix is not a snapshot");
        let msg = err.to_string();
        assert!(
            msg.contains("byte") || msg.contains("no \""),
            "prefix {cut}: {msg}"
        );
    }
    let err = read(&SMALL[..200]).unwrap_err().to_string();
    assert!(
        err.starts_with("the file ends at byte 200, inside"),
        "{err}"
    );
}

#[test]
fn bad_inputs_say_what_and_where() {
    let cases: &[(&str, &str)] = &[
        (
            "hello",
            "not a heap snapshot: expected '{', found 'h' at byte 0",
        ),
        ("", "the file ends at byte 0, inside the snapshot"),
        (
            "{\"nodes\":[1]}",
            "\"nodes\" comes before the \"snapshot\" header",
        ),
        (
            "{\"snapshot\":{\"meta\":{}}}",
            "unknown snapshot layout: meta has no \"node_fields\" list",
        ),
    ];
    for (text, want) in cases {
        let err = read(text).unwrap_err().to_string();
        assert!(err.contains(want), "{text:?}: {err}");
    }
    let no_to_node = SMALL.replace("\"to_node\"", "\"target\"");
    assert!(read(&no_to_node)
        .unwrap_err()
        .to_string()
        .contains("edge fields [\"type\", \"name_or_index\", \"target\"] have no \"to_node\""));
    let out_of_range = SMALL.replace(",2,3,14]", ",2,3,21]");
    assert_eq!(
        read(&out_of_range).unwrap_err().to_string(),
        "inconsistent snapshot: edge 1 points at 21, not a node (node rows are 7 wide, 21 numbers in all), before byte 739"
    );
    let misaligned = SMALL.replace(",2,3,14]", ",2,3,15]");
    assert!(read(&misaligned)
        .unwrap_err()
        .to_string()
        .contains("edge 1 points at 15"));
    let short = SMALL.replace("\"node_count\":3", "\"node_count\":4");
    assert!(read(&short)
        .unwrap_err()
        .to_string()
        .contains("3 nodes in \"nodes\", the header says 4"));
    let more_edges = SMALL.replace(",2,2,5,16,0,0,0]", ",2,2,5,16,5,0,0]");
    assert!(read(&more_edges)
        .unwrap_err()
        .to_string()
        .contains("nodes up to node 2 claim more edges than the 2 the header says"));
    let huge = SMALL.replace("\"node_count\":3", "\"node_count\":900000000");
    assert_eq!(
        read(&huge).unwrap_err().to_string(),
        "snapshot too large for 32-bit indexes: 900000000 nodes of 7 fields do not fit 32-bit indexes"
    );
    let fraction = SMALL.replace("[9,0,1,0,1,0,0", "[9,0,1.5,0,1,0,0");
    assert!(read(&fraction)
        .unwrap_err()
        .to_string()
        .contains("expected a whole number in nodes"));
    let deep = SMALL.replace(
        "\"samples\":[]",
        &format!("\"samples\":{}{}", "[".repeat(100_000), "]".repeat(100_000)),
    );
    assert!(read(&deep)
        .unwrap_err()
        .to_string()
        .contains("nested deeper than 64"));
    let trailing = format!("{SMALL} x");
    assert!(read(&trailing)
        .unwrap_err()
        .to_string()
        .contains("after the snapshot"));
}

#[test]
fn missing_file_and_folder() {
    let err = read_snapshot("/no/such/file.heapsnapshot".as_ref())
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("cannot read /no/such/file.heapsnapshot:"),
        "{err}"
    );
    let err = read_snapshot("/tmp".as_ref()).unwrap_err().to_string();
    assert!(err.contains("it is a folder"), "{err}");
}

#[test]
#[cfg(unix)]
fn a_fifo_or_a_device_is_refused_without_blocking() {
    // Opening a FIFO for reading waits for a writer: the reader must refuse it without waiting.
    let dir = std::env::temp_dir().join(format!("ohd-analyzer-fifo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("snapshot.fifo");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    let path = fifo.clone();
    let err = util::within(
        std::time::Duration::from_secs(20),
        "reading a FIFO",
        move || read_snapshot(&path).unwrap_err().to_string(),
    );
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(
        err,
        format!(
            "cannot read {}: it is a FIFO (named pipe), not a regular file",
            fifo.display()
        )
    );
    let err = read_snapshot("/dev/null".as_ref()).unwrap_err().to_string();
    assert_eq!(
        err,
        "cannot read /dev/null: it is a character device, not a regular file"
    );
}

#[test]
fn a_long_string_keeps_its_start_and_the_offsets_after_it_stay_exact() {
    use oom_heapdump_analyzer::MAX_STRING_BYTES;
    // 'é' (2 bytes) placed so that the cut falls inside it, escapes past the cut (\" must not end
    // the string), then a short string.
    let long = format!(
        "{}é{}\\\"\\u00e9{}",
        "a".repeat(MAX_STRING_BYTES - 1),
        "b".repeat(100),
        "c".repeat(3 * MAX_STRING_BYTES)
    );
    // Both strings name objects (texts no node or edge reads are not kept).
    let objects = [
        ("synthetic", "", 0),
        ("object", "Long", 8),
        ("object", "After", 8),
    ];
    let text = util::snapshot(&objects, &[]).replace(
        r#""strings":["","Long","After"]"#,
        &format!(r#""strings":["","{long}","after"]"#),
    );
    let s = read(&text).unwrap();
    let kept = s.strings.get(1);
    assert_eq!(
        kept,
        format!("{}\u{2026}", "a".repeat(MAX_STRING_BYTES - 1))
    );
    assert_eq!(s.strings.get(2), "after");
    // Cut the file inside the last string: the offset counts every byte of the long one.
    let end = text.rfind("after").unwrap() + 2;
    let err = read(&text[..end]).unwrap_err().to_string();
    assert_eq!(
        err,
        format!("the file ends at byte {end}, inside strings: the snapshot is truncated")
    );
}

#[test]
fn reads_a_real_snapshot_made_by_node() {
    let file = util::real_snapshot("reader", util::KEPT_THINGS);
    let s = read_snapshot(&file).unwrap();
    let m = &s.meta;
    let kept = s
        .strings
        .iter()
        .position(|x| x == "KeptThing")
        .expect("class name in strings") as u32;
    let object = m.node_types.iter().position(|t| t == "object").unwrap() as u32;
    let n = (0..s.node_count as usize)
        .filter(|&v| u32::from(s.node_type[v]) == object && s.node_name[v] == kept)
        .count();
    assert_eq!(n, 3000);
    std::fs::remove_dir_all(file.parent().unwrap()).unwrap();
}

#[test]
fn detachedness_is_its_low_two_bits_and_a_node_located_twice_keeps_the_last() {
    let text = SMALL
        .replace(",3,1,3,24,1,0,0\n", ",3,1,3,24,1,0,6\n")
        .replace(
            r#""location_fields":[]"#,
            r#""location_fields":["object_index","script_id","line","column"]"#,
        )
        .replace(r#""locations":[]"#, r#""locations":[7,1,1,1,7,2,2,2]"#);
    let s = read(&text).unwrap();
    assert_eq!(s.node_detachedness, vec![0, 2, 0], "6 & 3 is 2: detached");
    assert_eq!(
        s.locations,
        vec![(
            1,
            oom_heapdump_analyzer::Location {
                script_id: 2,
                line: 2,
                column: 2
            }
        )]
    );
}

/// What a small hostile file could make us hold, each bounded with a clear error: a header as
/// large as the file (its values are held in memory, dozens of bytes each; a gzip file of 65 KB
/// held 2.4 GB and aborted), more locations than nodes, and a message that would repeat a huge
/// list of field names.
#[test]
fn a_hostile_header_or_section_is_refused_not_held() {
    let pad = format!("\"pad\":[{}0],", "0,".repeat(600_000));
    let huge_header = SMALL.replace("{\"snapshot\":{", &format!("{{\"snapshot\":{{{pad}"));
    let err = read(&huge_header).unwrap_err().to_string();
    assert!(
        err.contains("the snapshot header is larger than 1048576 bytes"),
        "{err}"
    );

    let located = SMALL.replace(
        "\"location_fields\":[]",
        "\"location_fields\":[\"object_index\",\"script_id\",\"line\",\"column\"]",
    );
    let three = located.replace(
        "\"locations\":[]",
        "\"locations\":[7,1,2,3,7,1,2,4,7,1,2,5]",
    );
    read(&three).expect("as many locations as nodes");
    let four = located.replace(
        "\"locations\":[]",
        "\"locations\":[7,1,2,3,7,1,2,4,7,1,2,5,7,1,2,6]",
    );
    let err = read(&four).unwrap_err().to_string();
    assert!(err.contains("more than 12 numbers in locations"), "{err}");

    let names: Vec<String> = (0..2000)
        .map(|i| format!("\"{}{i}\"", "x".repeat(100)))
        .collect();
    let many_fields = SMALL.replace(
        "\"edge_fields\":[\"type\",\"name_or_index\",\"to_node\"]",
        &format!(
            "\"edge_fields\":[\"type\",\"name_or_index\",{}]",
            names.join(",")
        ),
    );
    let err = read(&many_fields).unwrap_err().to_string();
    assert!(
        err.contains("... 2002 in all] have no \"to_node\""),
        "{err}"
    );
    assert!(err.len() < 1500, "{} bytes: {err}", err.len());
}

#[test]
fn a_count_that_is_not_a_whole_number_says_so() {
    for (count, shown) in [("1.0", "1.0"), ("\"3\"", "\"3\""), ("-1", "-1")] {
        let text = SMALL.replace("\"node_count\":3", &format!("\"node_count\":{count}"));
        let err = read(&text).unwrap_err().to_string();
        assert!(
            err.contains(&format!(
                "the header's \"node_count\" is {shown}, not a count"
            )),
            "{err}"
        );
    }
}

/// `extra_native_bytes` is added to the total: a hostile value saturates instead of wrapping to a
/// small total (which printed "99 B in all" and shares over 100%).
#[test]
fn extra_native_bytes_do_not_wrap_the_total() {
    let text = SMALL.replace(
        "\"trace_function_count\":0",
        &format!(
            "\"trace_function_count\":0,\"extra_native_bytes\":{}",
            u64::MAX
        ),
    );
    let a = oom_heapdump_analyzer::report::analyze(&read(&text).unwrap(), Default::default());
    assert_eq!(a.total_size, u64::MAX);
}

/// Gzip as gzip(1) reads it: members one after another (here split mid-snapshot), zero padding
/// after the last (tape blocks, some transfer tools) ignored; other bytes after it are an error.
#[test]
fn gzip_members_and_zero_padding_read_as_gzip_does() {
    use std::io::Write;
    let gz = |text: &[u8]| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(text).unwrap();
        e.finish().unwrap()
    };
    let half = SMALL.len() / 2;
    let members = [gz(&SMALL.as_bytes()[..half]), gz(&SMALL.as_bytes()[half..])].concat();
    let plain = read(SMALL).unwrap();
    assert_eq!(read(&members).unwrap().node_id, plain.node_id);
    let padded = [members.clone(), vec![0; 4096]].concat();
    assert_eq!(read(&padded).unwrap().node_id, plain.node_id);
    let garbage = [members, b"garbage".to_vec()].concat();
    let err = read(&garbage).unwrap_err().to_string();
    assert!(
        err.contains("bytes after the last gzip member that are neither a member nor zero padding"),
        "{err}"
    );
}

/// A stream that hands over its first byte alone (as a pipe may): gzip is still recognized by its
/// two magic bytes, a lone 0x1f is not gzip, and an error on the second read names byte 1.
#[test]
fn a_stream_that_hands_over_one_byte_first() {
    use std::io::{BufReader, Read, Write};
    struct OneFirst {
        data: Vec<u8>,
        at: usize,
        fail_second: bool,
    }
    impl Read for OneFirst {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.at == 1 && self.fail_second {
                return Err(std::io::Error::other("the second read fails"));
            }
            let n = if self.at == 0 { 1 } else { buf.len() };
            let n = n.min(self.data.len() - self.at).min(buf.len());
            buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }
    let stream = |data: Vec<u8>, fail_second| {
        oom_heapdump_analyzer::read_snapshot_from(BufReader::new(OneFirst {
            data,
            at: 0,
            fail_second,
        }))
    };
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(SMALL.as_bytes()).unwrap();
    let gz = e.finish().unwrap();
    let plain = read(SMALL).unwrap();
    assert_eq!(stream(gz, false).unwrap().node_id, plain.node_id);
    assert_eq!(
        stream(SMALL.as_bytes().to_vec(), false).unwrap().node_id,
        plain.node_id
    );
    let lone = stream(vec![0x1f], false).unwrap_err().to_string();
    assert!(
        lone.contains("expected '{', found '\\x1f' at byte 0"),
        "{lone}"
    );
    let failed = stream(vec![0x1f, 0x8b, 8, 0], true)
        .unwrap_err()
        .to_string();
    assert!(
        failed.contains("after byte 1") && failed.contains("the second read fails"),
        "{failed}"
    );
}
