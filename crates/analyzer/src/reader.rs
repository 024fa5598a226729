//! Streams a `.heapsnapshot` file into a [`Snapshot`]: the header is read as a small value, `nodes`
//! and `edges` straight into `u32` columns, `strings` decoded one by one, anything else skipped.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use crate::error::ParseError;
use crate::json::Json;
use crate::snapshot::{Meta, Snapshot};

/// Most entries reserved up front from the header's counts; a lying header cannot make us reserve
/// more, the columns then grow as the numbers arrive.
const MAX_RESERVE: usize = 1 << 26;

/// Reads and checks the snapshot at `path`.
pub fn read_snapshot(path: &Path) -> Result<Snapshot, ParseError> {
    let io = |source| ParseError::Io {
        path: path.display().to_string(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    if file.metadata().map_err(io)?.is_dir() {
        return Err(io(std::io::Error::other("it is a folder")));
    }
    read_snapshot_from(BufReader::with_capacity(1 << 20, file))
}

/// Reads and checks a snapshot from any buffered reader.
pub fn read_snapshot_from<R: BufRead>(input: R) -> Result<Snapshot, ParseError> {
    let mut j = Json::new(input);
    let mut head: Option<Header> = None;
    let mut nodes = None;
    let mut edges = None;
    let mut strings = None;
    let mut locations = Vec::new();
    j.expect(b'{', "the snapshot")?;
    if !j.empty(b'}', "the snapshot")? {
        let mut key = String::new();
        loop {
            j.string_into(&mut key, "the snapshot's keys")?;
            j.expect(b':', "the snapshot")?;
            match key.as_str() {
                "snapshot" => head = Some(header(&mut j)?),
                "nodes" | "edges" => {
                    let Some(Header {
                        meta,
                        node_count,
                        edge_count,
                        ..
                    }) = &head
                    else {
                        return Err(
                            j.syntax(format!("\"{key}\" comes before the \"snapshot\" header"))
                        );
                    };
                    let (count, width, inside) = if key == "nodes" {
                        (*node_count, meta.node_fields.len(), "nodes")
                    } else {
                        (*edge_count, meta.edge_fields.len(), "edges")
                    };
                    let column = numbers(&mut j, count as usize * width, inside)?;
                    if key == "nodes" {
                        nodes = Some(column);
                    } else {
                        edges = Some(column);
                    }
                }
                "strings" => strings = Some(string_list(&mut j)?),
                "locations" => locations = numbers(&mut j, 0, "locations")?,
                _ => j.skip_value("a section")?,
            }
            if !j.next_in(b'}', "the snapshot")? {
                break;
            }
        }
    }
    j.end()?;
    let missing =
        |what: &str| ParseError::Inconsistent(format!("the snapshot has no {what:?} section"));
    let Header {
        meta,
        node_count,
        edge_count,
        extra_native_bytes,
    } = head.ok_or_else(|| missing("snapshot"))?;
    let snapshot = Snapshot {
        locations,
        extra_native_bytes,
        meta,
        node_count,
        edge_count,
        nodes: nodes.ok_or_else(|| missing("nodes"))?,
        edges: edges.ok_or_else(|| missing("edges"))?,
        strings: strings.ok_or_else(|| missing("strings"))?,
    };
    snapshot.validate()?;
    Ok(snapshot)
}

/// What the `snapshot` header says.
struct Header {
    meta: Meta,
    node_count: u32,
    edge_count: u32,
    extra_native_bytes: u64,
}

fn header<R: BufRead>(j: &mut Json<R>) -> Result<Header, ParseError> {
    let value = j.value("the snapshot header")?;
    let meta = Meta::from_header(&value)?;
    let count = |key: &str| -> Result<u32, ParseError> {
        let n = value
            .get(key)
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| ParseError::Meta(format!("the header has no {key:?}")))?;
        u32::try_from(n).map_err(|_| ParseError::TooLarge(format!("{key} is {n}")))
    };
    let (node_count, edge_count) = (count("node_count")?, count("edge_count")?);
    for (what, count, width) in [
        ("nodes", node_count, meta.node_fields.len()),
        ("edges", edge_count, meta.edge_fields.len()),
    ] {
        if u64::from(count) * width as u64 > u64::from(u32::MAX) {
            return Err(ParseError::TooLarge(format!(
                "{count} {what} of {width} fields do not fit 32-bit indexes"
            )));
        }
    }
    Ok(Header {
        meta,
        node_count,
        edge_count,
        extra_native_bytes: value
            .get("extra_native_bytes")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0),
    })
}

fn numbers<R: BufRead>(
    j: &mut Json<R>,
    expected: usize,
    inside: &'static str,
) -> Result<Vec<u32>, ParseError> {
    let mut out = Vec::with_capacity(expected.min(MAX_RESERVE));
    j.expect(b'[', inside)?;
    j.u32_array_into(&mut out, inside)?;
    if out.len() > u32::MAX as usize {
        return Err(ParseError::TooLarge(format!(
            "more than {} numbers in {inside}",
            u32::MAX
        )));
    }
    Ok(out)
}

fn string_list<R: BufRead>(j: &mut Json<R>) -> Result<Vec<String>, ParseError> {
    let mut out = Vec::new();
    j.expect(b'[', "strings")?;
    if j.empty(b']', "strings")? {
        return Ok(out);
    }
    loop {
        let mut s = String::new();
        j.string_into(&mut s, "strings")?;
        out.push(s);
        if !j.next_in(b']', "strings")? {
            return Ok(out);
        }
    }
}
