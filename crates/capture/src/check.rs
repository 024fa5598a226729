//! A streaming check that a V8 heap snapshot is complete, fed chunk by chunk as it is written.
//!
//! It never holds the snapshot: it tracks the JSON structure with a small stack and counts the values
//! of the sections that matter. A snapshot passes when the JSON closes exactly once, the header gives
//! `node_count`, `edge_count` and the field lists in `meta`, and the `nodes` and `edges` arrays hold
//! `count × fields` values each. Field counts are read from `meta` because they differ across Node
//! versions.

use crate::error::CheckError;

/// Figures of a snapshot that passed the check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotSummary {
    pub bytes: u64,
    pub node_count: u64,
    pub edge_count: u64,
}

/// Which part of the snapshot a container or scalar is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Root,
    Header,
    Meta,
    NodeFields,
    EdgeFields,
    NodeCount,
    EdgeCount,
    Nodes,
    Edges,
    Strings,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Object just opened: a key or `}`.
    KeyOrEnd,
    Key,
    Colon,
    /// Array just opened: a value or `]`.
    ValueOrEnd,
    Value,
    CommaOrEnd,
}

#[derive(Debug)]
struct Frame {
    slot: Slot,
    is_object: bool,
    expect: Expect,
    /// Values begun directly in this array.
    count: u64,
    /// Slot of the value under the object's current key.
    key_slot: Slot,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lex {
    Between,
    InString { escaped: bool, is_key: bool },
    InScalar,
}

const MAX_KEY: usize = 16;
const MAX_SCALAR: usize = 32;

/// Incremental checker; see the module docs.
#[derive(Debug)]
pub struct SnapshotCheck {
    offset: u64,
    /// The most bytes accepted, and why (a stream from a process that may not be what it says).
    limit: Option<(u64, &'static str)>,
    lex: Lex,
    stack: Vec<Frame>,
    /// True once the top-level object closed.
    closed: bool,
    key: Vec<u8>,
    scalar: Vec<u8>,
    scalar_slot: Slot,
    node_fields: Option<u64>,
    edge_fields: Option<u64>,
    node_count: Option<u64>,
    edge_count: Option<u64>,
    nodes_len: Option<u64>,
    edges_len: Option<u64>,
    has_strings: bool,
}

impl Default for SnapshotCheck {
    fn default() -> Self {
        Self::new()
    }
}

impl SnapshotCheck {
    pub fn new() -> Self {
        Self {
            offset: 0,
            limit: None,
            lex: Lex::Between,
            stack: Vec::with_capacity(8),
            closed: false,
            key: Vec::with_capacity(MAX_KEY),
            scalar: Vec::with_capacity(MAX_SCALAR),
            scalar_slot: Slot::Other,
            node_fields: None,
            edge_fields: None,
            node_count: None,
            edge_count: None,
            nodes_len: None,
            edges_len: None,
            has_strings: false,
        }
    }

    /// The same, failing with [`CheckError::TooLarge`] once more than `limit` bytes are fed
    /// (`why` says where the limit comes from).
    pub fn with_limit(limit: u64, why: &'static str) -> Self {
        Self {
            limit: Some((limit, why)),
            ..Self::new()
        }
    }

    /// Bytes fed so far.
    pub fn bytes(&self) -> u64 {
        self.offset
    }

    /// Feeds the next chunk. An error is final: the stream is not a snapshot.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), CheckError> {
        if let Some((limit, why)) = self.limit {
            if self.offset.saturating_add(chunk.len() as u64) > limit {
                return Err(CheckError::TooLarge { limit, why });
            }
        }
        let mut i = 0;
        while i < chunk.len() {
            if let Lex::InString { escaped, is_key } = self.lex {
                // Fast path through string bodies (the strings section is most of a snapshot).
                let rest = &chunk[i..];
                let stop = if escaped {
                    Some(0)
                } else {
                    memchr::memchr2(b'"', b'\\', rest)
                };
                let Some(stop) = stop else {
                    if is_key {
                        self.push_key(rest);
                    }
                    self.offset += rest.len() as u64;
                    return Ok(());
                };
                if is_key {
                    self.push_key(&rest[..stop]);
                }
                self.offset += stop as u64;
                i += stop;
                let b = chunk[i];
                if escaped {
                    self.lex = Lex::InString {
                        escaped: false,
                        is_key,
                    };
                } else if b == b'\\' {
                    self.lex = Lex::InString {
                        escaped: true,
                        is_key,
                    };
                } else {
                    self.lex = Lex::Between;
                    self.end_string(is_key)?;
                }
                self.offset += 1;
                i += 1;
                continue;
            }
            if self.lex == Lex::Between {
                let skipped = self.numbers_in_array(&chunk[i..])?;
                if skipped > 0 {
                    self.offset += skipped as u64;
                    i += skipped;
                    continue;
                }
            }
            self.byte(chunk[i])?;
            self.offset += 1;
            i += 1;
        }
        Ok(())
    }

    /// Fast path for the bulk of a snapshot, the integers of `nodes` and `edges`: runs of digits
    /// and commas directly in an array. Returns how many bytes it consumed (0: not applicable).
    fn numbers_in_array(&mut self, bytes: &[u8]) -> Result<usize, CheckError> {
        let Some(frame) = self.stack.last() else {
            return Ok(0);
        };
        if frame.is_object {
            return Ok(0);
        }
        let (mut expect, mut count) = (frame.expect, frame.count);
        let mut j = 0;
        let mut partial = None;
        while let Some(&b) = bytes.get(j) {
            match b {
                b',' if expect == Expect::CommaOrEnd => {
                    expect = Expect::Value;
                    j += 1;
                }
                b'0'..=b'9' if matches!(expect, Expect::Value | Expect::ValueOrEnd) => {
                    let start = j;
                    j += bytes[j..]
                        .iter()
                        .position(|b| !b.is_ascii_digit())
                        .unwrap_or(bytes.len() - j);
                    count += 1;
                    expect = Expect::CommaOrEnd;
                    // A number that may go on (next chunk, or a fraction or exponent) is finished
                    // by the general path.
                    if bytes.get(j).is_none_or(|&b| is_scalar_byte(b)) {
                        partial = Some(start..j);
                        break;
                    }
                }
                _ => break,
            }
        }
        let frame = self.stack.last_mut().expect("checked above");
        frame.expect = expect;
        frame.count = count;
        if let Some(digits) = partial {
            if digits.len() > MAX_SCALAR {
                return Err(self.malformed("number or literal too long"));
            }
            self.scalar.clear();
            self.scalar.extend_from_slice(&bytes[digits]);
            self.scalar_slot = Slot::Other;
            self.lex = Lex::InScalar;
        }
        Ok(j)
    }

    /// Ends the stream: the summary if the snapshot is complete, else what is wrong.
    pub fn finish(mut self) -> Result<SnapshotSummary, CheckError> {
        if self.offset == 0 {
            return Err(CheckError::Empty);
        }
        if self.lex == Lex::InScalar {
            self.lex = Lex::Between;
            self.end_scalar()?;
        }
        if !self.closed || self.lex != Lex::Between {
            return Err(CheckError::Truncated { bytes: self.offset });
        }
        let node_fields = self
            .node_fields
            .ok_or(CheckError::Missing("meta.node_fields"))?;
        let edge_fields = self
            .edge_fields
            .ok_or(CheckError::Missing("meta.edge_fields"))?;
        let node_count = self
            .node_count
            .ok_or(CheckError::Missing("snapshot.node_count"))?;
        let edge_count = self
            .edge_count
            .ok_or(CheckError::Missing("snapshot.edge_count"))?;
        let nodes = self.nodes_len.ok_or(CheckError::Missing("nodes"))?;
        let edges = self.edges_len.ok_or(CheckError::Missing("edges"))?;
        if !self.has_strings {
            return Err(CheckError::Missing("strings"));
        }
        for (section, expected, found) in [
            ("nodes", node_count.saturating_mul(node_fields), nodes),
            ("edges", edge_count.saturating_mul(edge_fields), edges),
        ] {
            if expected != found {
                return Err(CheckError::CountMismatch {
                    section,
                    expected,
                    found,
                });
            }
        }
        Ok(SnapshotSummary {
            bytes: self.offset,
            node_count,
            edge_count,
        })
    }

    fn malformed(&self, what: &'static str) -> CheckError {
        CheckError::Malformed {
            offset: self.offset,
            what,
        }
    }

    fn byte(&mut self, b: u8) -> Result<(), CheckError> {
        if self.lex == Lex::InScalar {
            if is_scalar_byte(b) {
                if self.scalar.len() >= MAX_SCALAR {
                    return Err(self.malformed("number or literal too long"));
                }
                self.scalar.push(b);
                return Ok(());
            }
            self.lex = Lex::Between;
            self.end_scalar()?;
        }
        match b {
            b' ' | b'\n' | b'\r' | b'\t' => Ok(()),
            _ if self.closed => Err(self.malformed("data after the end of the snapshot")),
            b'"' => {
                let is_key = matches!(
                    self.stack.last(),
                    Some(Frame {
                        expect: Expect::Key | Expect::KeyOrEnd,
                        ..
                    })
                );
                if is_key {
                    self.key.clear();
                } else {
                    self.begin_value()?;
                }
                self.lex = Lex::InString {
                    escaped: false,
                    is_key,
                };
                Ok(())
            }
            b'{' | b'[' => {
                let slot = self.begin_value()?;
                let is_object = b == b'{';
                if self.stack.is_empty() && !is_object {
                    return Err(self.malformed("snapshot is not a JSON object"));
                }
                self.stack.push(Frame {
                    slot,
                    is_object,
                    expect: if is_object {
                        Expect::KeyOrEnd
                    } else {
                        Expect::ValueOrEnd
                    },
                    count: 0,
                    key_slot: Slot::Other,
                });
                Ok(())
            }
            b'}' | b']' => self.close(b == b'}'),
            b':' => match self.stack.last_mut() {
                Some(f) if f.expect == Expect::Colon => {
                    f.expect = Expect::Value;
                    Ok(())
                }
                _ => Err(self.malformed("unexpected ':'")),
            },
            b',' => match self.stack.last_mut() {
                Some(f) if f.expect == Expect::CommaOrEnd => {
                    f.expect = if f.is_object {
                        Expect::Key
                    } else {
                        Expect::Value
                    };
                    Ok(())
                }
                _ => Err(self.malformed("unexpected ','")),
            },
            _ if is_scalar_start(b) => {
                self.scalar_slot = self.begin_value()?;
                self.scalar.clear();
                self.scalar.push(b);
                self.lex = Lex::InScalar;
                Ok(())
            }
            _ => Err(self.malformed("unexpected byte")),
        }
    }

    /// A value starts in the current container; returns its slot.
    fn begin_value(&mut self) -> Result<Slot, CheckError> {
        let Some(frame) = self.stack.last_mut() else {
            return Ok(Slot::Root);
        };
        match frame.expect {
            Expect::Value | Expect::ValueOrEnd if !frame.is_object => {
                frame.count += 1;
                frame.expect = Expect::CommaOrEnd;
                Ok(Slot::Other)
            }
            Expect::Value if frame.is_object => {
                frame.expect = Expect::CommaOrEnd;
                Ok(frame.key_slot)
            }
            _ => Err(self.malformed("value where none is allowed")),
        }
    }

    fn push_key(&mut self, bytes: &[u8]) {
        let room = (MAX_KEY + 1).saturating_sub(self.key.len());
        self.key.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    fn end_string(&mut self, is_key: bool) -> Result<(), CheckError> {
        if !is_key {
            return Ok(());
        }
        let frame = self.stack.last_mut().expect("keys only occur in objects");
        frame.key_slot = child_slot(frame.slot, &self.key);
        frame.expect = Expect::Colon;
        Ok(())
    }

    fn end_scalar(&mut self) -> Result<(), CheckError> {
        let text = &self.scalar[..];
        let valid = matches!(text, b"true" | b"false" | b"null")
            || (text[0] == b'-' || text[0].is_ascii_digit())
                && text
                    .iter()
                    .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'));
        if !valid {
            return Err(self.malformed("bad number or literal"));
        }
        let target = match self.scalar_slot {
            Slot::NodeCount => &mut self.node_count,
            Slot::EdgeCount => &mut self.edge_count,
            _ => return Ok(()),
        };
        let n = std::str::from_utf8(text)
            .ok()
            .and_then(|s| s.parse::<u64>().ok());
        *target = Some(n.ok_or(CheckError::Malformed {
            offset: self.offset,
            what: "count in header is not a whole number",
        })?);
        Ok(())
    }

    fn close(&mut self, object: bool) -> Result<(), CheckError> {
        let ok = match self.stack.last() {
            Some(f) if f.is_object == object => {
                matches!(f.expect, Expect::CommaOrEnd)
                    || (object && f.expect == Expect::KeyOrEnd)
                    || (!object && f.expect == Expect::ValueOrEnd)
            }
            _ => false,
        };
        if !ok {
            return Err(self.malformed("unexpected closing bracket"));
        }
        let frame = self.stack.pop().expect("checked above");
        match frame.slot {
            Slot::Nodes => self.nodes_len = Some(frame.count),
            Slot::Edges => self.edges_len = Some(frame.count),
            Slot::NodeFields => self.node_fields = Some(frame.count),
            Slot::EdgeFields => self.edge_fields = Some(frame.count),
            Slot::Strings => self.has_strings = true,
            _ => {}
        }
        if self.stack.is_empty() {
            self.closed = true;
        }
        Ok(())
    }
}

/// The slot of the value under `key` in a container of slot `parent`.
fn child_slot(parent: Slot, key: &[u8]) -> Slot {
    match (parent, key) {
        (Slot::Root, b"snapshot") => Slot::Header,
        (Slot::Root, b"nodes") => Slot::Nodes,
        (Slot::Root, b"edges") => Slot::Edges,
        (Slot::Root, b"strings") => Slot::Strings,
        (Slot::Header, b"meta") => Slot::Meta,
        (Slot::Header, b"node_count") => Slot::NodeCount,
        (Slot::Header, b"edge_count") => Slot::EdgeCount,
        (Slot::Meta, b"node_fields") => Slot::NodeFields,
        (Slot::Meta, b"edge_fields") => Slot::EdgeFields,
        _ => Slot::Other,
    }
}

fn is_scalar_start(b: u8) -> bool {
    b == b'-' || b.is_ascii_digit() || matches!(b, b't' | b'f' | b'n')
}

fn is_scalar_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'+' | b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small snapshot in V8's shape: 2 node fields, 3 edge fields.
    pub(crate) const SMALL: &str = r#"{"snapshot":{"meta":{"node_fields":["type","name"],"node_types":[["hidden","object"],"string"],"edge_fields":["type","name_or_index","to_node"],"edge_types":[["element"],"string_or_number","node"]},"node_count":3,"edge_count":2,"trace_function_count":0},
"nodes":[0,1
,1,2
,1,3],
"edges":[0,0,2
,0,1,4],
"strings":["<dummy>","a \"quoted\" \\ string","b}],{["]}"#;

    fn check_in_chunks(text: &[u8], size: usize) -> Result<SnapshotSummary, CheckError> {
        let mut c = SnapshotCheck::new();
        for chunk in text.chunks(size) {
            c.feed(chunk)?;
        }
        c.finish()
    }

    #[test]
    fn complete_snapshot_passes_at_every_chunk_size() {
        for size in [1, 2, 3, 7, 64, 4096] {
            let s = check_in_chunks(SMALL.as_bytes(), size).unwrap();
            assert_eq!(s.node_count, 3);
            assert_eq!(s.edge_count, 2);
            assert_eq!(s.bytes, SMALL.len() as u64);
        }
    }

    #[test]
    fn every_truncation_fails() {
        for cut in 0..SMALL.len() - 1 {
            let r = check_in_chunks(&SMALL.as_bytes()[..cut], 5);
            assert!(r.is_err(), "prefix of {cut} bytes passed");
        }
        assert_eq!(check_in_chunks(b"", 5), Err(CheckError::Empty));
        assert_eq!(
            check_in_chunks(&SMALL.as_bytes()[..100], 5),
            Err(CheckError::Truncated { bytes: 100 })
        );
    }

    #[test]
    fn a_limit_stops_the_stream_at_the_chunk_that_passes_it() {
        let len = SMALL.len() as u64;
        let mut c = SnapshotCheck::with_limit(len, "the test's");
        for chunk in SMALL.as_bytes().chunks(7) {
            c.feed(chunk).unwrap();
        }
        assert_eq!(c.finish().unwrap().bytes, len, "exactly the limit passes");
        let mut c = SnapshotCheck::with_limit(len - 1, "the test's");
        let fed: Vec<_> = SMALL.as_bytes().chunks(7).map(|ch| c.feed(ch)).collect();
        assert_eq!(
            fed.last().unwrap(),
            &Err(CheckError::TooLarge {
                limit: len - 1,
                why: "the test's"
            })
        );
        assert!(fed[..fed.len() - 1].iter().all(Result::is_ok));
    }

    #[test]
    fn count_mismatch_is_reported() {
        let text = SMALL.replace("\"node_count\":3", "\"node_count\":4");
        assert_eq!(
            check_in_chunks(text.as_bytes(), 9),
            Err(CheckError::CountMismatch {
                section: "nodes",
                expected: 8,
                found: 6
            })
        );
    }

    #[test]
    fn garbage_is_malformed() {
        for bad in ["[1,2]", "{\"a\":1}}", "{\"a\" 1}", "{\"a\":x}", "{,}"] {
            let r = check_in_chunks(bad.as_bytes(), 3);
            assert!(
                matches!(r, Err(CheckError::Malformed { .. })),
                "{bad}: {r:?}"
            );
        }
        assert_eq!(
            check_in_chunks(b"{\"a\":1}", 3),
            Err(CheckError::Missing("meta.node_fields"))
        );
    }
}
