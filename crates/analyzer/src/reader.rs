//! Streams a `.heapsnapshot` file into a [`Snapshot`]: the header is read as a small value; `nodes`
//! and `edges` go a buffer at a time straight into the columns the analysis uses (fields it does
//! not use are dropped, edge targets become node numbers); `strings` go into one buffer, less the
//! texts nothing reads (`string_table`); anything else is skipped. Node and edge rows are checked as they arrive, so an error names the byte where
//! it was found.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::mpsc;

use crate::error::ParseError;
use crate::json::Json;
use crate::snapshot::{Location, Meta, Snapshot};
use crate::string_table::{self, Strings};

/// Reads and checks the snapshot at `path`, and that there is memory to analyze it; errors name
/// the file.
pub fn read_snapshot(path: &Path) -> Result<Snapshot, ParseError> {
    let io = |source| ParseError::Io {
        path: path.display().to_string(),
        source,
    };
    let file = open(path).map_err(io)?;
    read_open(file, &path.display().to_string(), false)
}

/// Reads and checks the snapshot on this process's standard input (a file or a pipe); errors name
/// it `name`.
pub fn read_snapshot_stdin(name: &str) -> Result<Snapshot, ParseError> {
    use std::os::fd::AsFd;
    let file = std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .map_err(|source| ParseError::Io {
            path: name.into(),
            source,
        })?;
    read_open(File::from(file), name, true)
}

/// Reads the snapshot open as `file`, named `name` in errors: a regular file, or with `stream` a
/// pipe or socket too (what a path names is refused then: opening a FIFO may wait forever for a
/// writer, and a device is no snapshot).
fn read_open(file: File, name: &str, stream: bool) -> Result<Snapshot, ParseError> {
    let metadata = file.metadata().map_err(|source| ParseError::Io {
        path: name.into(),
        source,
    })?;
    if metadata.is_dir() {
        return Err(ParseError::Io {
            path: name.into(),
            source: std::io::Error::other("it is a folder"),
        });
    }
    let kind = metadata.file_type();
    let piped = {
        use std::os::unix::fs::FileTypeExt;
        stream && (kind.is_fifo() || kind.is_socket())
    };
    if !metadata.is_file() && !piped {
        return Err(ParseError::NotAFile {
            path: name.into(),
            what: file_kind(&metadata),
        });
    }
    // A row takes at least two bytes a number ("0,"): the file's size bounds what a header may
    // make us reserve (for a gzip file, a multiple of it: RESERVE_INFLATE_RATIO). A pipe's size is
    // not known: its columns grow as its numbers arrive, past what this reserves.
    let read = if piped {
        read_maybe_gz(BufReader::with_capacity(1 << 20, Waiting(file)), 1 << 20)
    } else {
        read_maybe_gz(BufReader::with_capacity(1 << 20, file), metadata.len() / 2)
    };
    read.and_then(|s| s.check_room_for_analysis().map(|()| s))
        .map_err(|e| match e {
            ParseError::Memory(what) => ParseError::MemoryFor {
                path: name.into(),
                what,
            },
            e => ParseError::File {
                path: name.into(),
                source: Box::new(e),
            },
        })
}

/// Opens without blocking: opening a FIFO for reading waits for a writer, which may never come, and
/// the file type is only known once it is open. (For a regular file, O_NONBLOCK changes nothing.)
fn open(path: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    options.open(path)
}

/// A pipe or socket read as if blocking, whatever its flags: one handed over non-blocking
/// (`O_NONBLOCK`, shared with whoever else holds it) is waited on with poll(2) when it is empty,
/// not read as an error.
struct Waiting(File);

impl Read for Waiting {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use std::os::fd::AsRawFd;
        loop {
            match self.0.read(buf) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    let mut fd = libc::pollfd {
                        fd: self.0.as_raw_fd(),
                        events: libc::POLLIN,
                        revents: 0,
                    };
                    // SAFETY: one valid pollfd. Readable, hung up or failed, the next read says
                    // which; poll's own failure (but EINTR) is the error.
                    if unsafe { libc::poll(&mut fd, 1, -1) } < 0 {
                        let e = std::io::Error::last_os_error();
                        if e.kind() != std::io::ErrorKind::Interrupted {
                            return Err(e);
                        }
                    }
                }
                other => return other,
            }
        }
    }
}

/// What a file that is neither a regular file nor a folder is, in words.
fn file_kind(metadata: &std::fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = metadata.file_type();
        if t.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if t.is_socket() {
            return "a socket";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
    }
    let _ = metadata;
    "not a regular file"
}

/// Reads and checks a snapshot from any buffered reader (gzip-compressed or not).
pub fn read_snapshot_from<R: BufRead + Send>(input: R) -> Result<Snapshot, ParseError> {
    read_maybe_gz(input, 1 << 20)
}

/// The two bytes every gzip member starts with (RFC 1952).
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// How many times its gzip file a snapshot is reserved for up front, at most: V8's JSON shrinks
/// about 10 times. (Deflate can expand up to about 1032 times, a run of one byte: a small file
/// whose header lied would reserve gigabytes.) A snapshot that shrank more grows its columns as its
/// numbers arrive.
const RESERVE_INFLATE_RATIO: u64 = 32;

/// Reads `input` as a snapshot, or as gzip members holding one when it starts with gzip's magic
/// bytes (whatever the file is named): inflated as it is read, never whole in memory.
/// `max_numbers` bounds what the header may make us reserve, for the bytes as stored.
fn read_maybe_gz<R: BufRead + Send>(
    mut input: R,
    max_numbers: u64,
) -> Result<Snapshot, ParseError> {
    let head = input.fill_buf().map_err(|e| crate::json::io_at(0, e))?;
    if head.len() == 1 && head[0] == GZIP_MAGIC[0] {
        // A pipe may hand over its first byte alone: look at the second before deciding.
        input.consume(1);
        let second = input.fill_buf().map_err(|e| crate::json::io_at(1, e))?;
        let gz = second.first() == Some(&GZIP_MAGIC[1]);
        let whole = std::io::Cursor::new([GZIP_MAGIC[0]]).chain(input);
        return if gz {
            read_gz(whole, max_numbers)
        } else {
            read(whole, max_numbers)
        };
    }
    if head.starts_with(&GZIP_MAGIC) {
        return read_gz(input, max_numbers);
    }
    read(input, max_numbers)
}

/// Reads gzip members holding a snapshot, inflated as they are read.
fn read_gz<R: BufRead + Send>(input: R, max_numbers: u64) -> Result<Snapshot, ParseError> {
    read(
        BufReader::with_capacity(1 << 20, Members::new(input)),
        max_numbers.saturating_mul(RESERVE_INFLATE_RATIO),
    )
    .map_err(in_gzip)
}

/// Gzip members one after another, inflated, as gzip(1) reads them: zero bytes after the last
/// member are padding (tape blocks, some transfer tools) and end the stream; other bytes that are
/// not a member are an error.
struct Members<R: BufRead> {
    member: Option<flate2::bufread::GzDecoder<R>>,
}

impl<R: BufRead> Members<R> {
    fn new(input: R) -> Self {
        Members {
            member: Some(flate2::bufread::GzDecoder::new(input)),
        }
    }
}

impl<R: BufRead> std::io::Read for Members<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let Some(member) = self.member.as_mut() else {
                return Ok(0);
            };
            let n = member.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            // That member ended: another one, padding, or the end.
            let mut input = self.member.take().expect("a member").into_inner();
            loop {
                let head = input.fill_buf()?;
                match head.first() {
                    None => return Ok(0),
                    Some(0) => {
                        let zeros = head.iter().take_while(|&&b| b == 0).count();
                        input.consume(zeros);
                    }
                    Some(_) if head.starts_with(&GZIP_MAGIC[..head.len().min(2)]) => {
                        self.member = Some(flate2::bufread::GzDecoder::new(input));
                        break;
                    }
                    Some(_) => {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::InvalidData,
                            "bytes after the last gzip member that are neither a member nor zero padding",
                        ))
                    }
                }
            }
        }
    }
}

/// Says that offsets in `e` count bytes of the inflated snapshot, not of the gzip file.
fn in_gzip(e: ParseError) -> ParseError {
    match e {
        ParseError::Syntax { offset, what } => ParseError::SyntaxGzip { offset, what },
        ParseError::Truncated { offset, inside } => ParseError::TruncatedGzip { offset, inside },
        ParseError::Read { offset, source } => ParseError::ReadGzip { offset, source },
        ParseError::InconsistentBefore { what, offset } => {
            ParseError::InconsistentBeforeGzip { what, offset }
        }
        e => e,
    }
}

/// What the `snapshot` header says.
struct Header {
    meta: Meta,
    node_count: u32,
    edge_count: u32,
    extra_native_bytes: u64,
}

/// The columns as they fill.
#[derive(Default)]
struct Columns {
    node_type: Vec<u8>,
    node_name: Vec<u32>,
    node_id: Vec<u32>,
    node_self_size: Vec<u32>,
    node_detachedness: Vec<u8>,
    first_edge: Vec<u32>,
    edge_type: Vec<u8>,
    edge_name_or_index: Vec<u32>,
    edge_to: Vec<u32>,
    locations: Vec<u32>,
    seen: [bool; 4],
    /// A node has a type meta does not name.
    undefined_type: bool,
}

impl Columns {
    /// Room for `n` more nodes, or an error saying how much memory was missing.
    fn reserve_nodes(&mut self, n: usize, detachedness: bool) -> Result<(), ParseError> {
        let what = "the nodes' columns";
        reserve(&mut self.node_type, n, what)?;
        reserve(&mut self.node_name, n, what)?;
        reserve(&mut self.node_id, n, what)?;
        reserve(&mut self.node_self_size, n, what)?;
        reserve(&mut self.first_edge, n, what)?;
        if detachedness {
            reserve(&mut self.node_detachedness, n, what)?;
        }
        Ok(())
    }

    /// Room for `n` more edges, or an error saying how much memory was missing.
    fn reserve_edges(&mut self, n: usize) -> Result<(), ParseError> {
        let what = "the edges' columns";
        reserve(&mut self.edge_type, n, what)?;
        reserve(&mut self.edge_name_or_index, n, what)?;
        reserve(&mut self.edge_to, n, what)
    }
}

/// Reserves room for `n` more items, failing with [`ParseError::Memory`] instead of aborting the
/// process (as `Vec::reserve` would under `ulimit -v`, or in Node's process for
/// `analyzeHeapSnapshot`).
pub(crate) fn reserve<T>(v: &mut Vec<T>, n: usize, what: &str) -> Result<(), ParseError> {
    v.try_reserve_exact(n).map_err(|e| {
        ParseError::Memory(format!(
            "{} more bytes for {what}: {e}",
            n.saturating_mul(std::mem::size_of::<T>())
        ))
    })
}

/// The name of a node type meta does not name, as DevTools shows it (`(undefined)` as a class).
pub const UNDEFINED_TYPE: &str = "undefined";

fn bad(what: String) -> ParseError {
    ParseError::Inconsistent(what)
}

/// Reads; `max_numbers` bounds the numbers reserved up front from the header's counts (a lying
/// header cannot make us reserve more, the columns then grow as the numbers arrive).
fn read<R: BufRead + Send>(input: R, max_numbers: u64) -> Result<Snapshot, ParseError> {
    crate::phases::mark("start");
    let mut j = Json::new(input);
    let mut head: Option<Header> = None;
    let mut c = Columns::default();
    let mut strings = Strings::default();
    j.expect(b'{', "the snapshot")?;
    if !j.empty(b'}', "the snapshot")? {
        let mut key = String::new();
        loop {
            j.string_into(&mut key, "the snapshot's keys")?;
            j.expect(b':', "the snapshot")?;
            let section = ["nodes", "edges", "strings", "locations"]
                .iter()
                .position(|k| *k == key);
            if let Some(i) = section {
                if std::mem::replace(&mut c.seen[i], true) {
                    return Err(j.syntax(format!("a second \"{key}\" section")));
                }
            }
            match key.as_str() {
                "snapshot" if head.is_none() => head = Some(header(&mut j)?),
                "nodes" | "edges" | "locations" => {
                    let Some(h) = &head else {
                        return Err(
                            j.syntax(format!("\"{key}\" comes before the \"snapshot\" header"))
                        );
                    };
                    match key.as_str() {
                        "nodes" => {
                            nodes(&mut j, h, &mut c, max_numbers)?;
                            crate::phases::mark("read nodes");
                        }
                        "edges" => {
                            edges(&mut j, h, &mut c, max_numbers)?;
                            crate::phases::mark("read edges");
                        }
                        _ => {
                            // A location a node at most (DevTools keeps the last of two).
                            let most = h.node_count as usize * h.meta.location_fields.len();
                            j.expect(b'[', "locations")?;
                            j.u32_array_into(&mut c.locations, most, "locations")?;
                        }
                    }
                }
                "strings" => {
                    // Texts are dropped only once what reads them is known (V8 writes the nodes
                    // and edges first).
                    let needed = match &head {
                        Some(h) if c.seen[0] && c.seen[1] => Some(needed(h, &c)?),
                        _ => None,
                    };
                    string_list(&mut j, &mut strings, needed.as_ref())?;
                    crate::phases::mark("read strings");
                }
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
    let h = head.ok_or_else(|| missing("snapshot"))?;
    for (seen, what) in c.seen.iter().zip(["nodes", "edges", "strings"]) {
        if !seen {
            return Err(missing(what));
        }
    }
    let locations = locations(&h, &c.locations)?;
    let mut h = h;
    if c.undefined_type {
        h.meta.node_types.push(UNDEFINED_TYPE.to_owned());
    }
    strings.shrink_to_fit();
    let snapshot = Snapshot {
        meta: h.meta,
        node_count: h.node_count,
        edge_count: h.edge_count,
        node_type: c.node_type,
        node_name: c.node_name,
        node_id: c.node_id,
        node_self_size: c.node_self_size,
        node_detachedness: c.node_detachedness,
        first_edge: c.first_edge,
        edge_type: c.edge_type,
        edge_name_or_index: c.edge_name_or_index,
        edge_to: c.edge_to,
        strings,
        locations,
        extra_native_bytes: h.extra_native_bytes,
    };
    snapshot.validate()?;
    crate::phases::mark("read rest, validated");
    Ok(snapshot)
}

fn header<R: BufRead>(j: &mut Json<R>) -> Result<Header, ParseError> {
    let value = j.value("the snapshot header")?;
    let meta = Meta::from_header(&value)?;
    let count = |key: &str| -> Result<u32, ParseError> {
        let v = value
            .get(key)
            .ok_or_else(|| ParseError::Meta(format!("the header has no {key:?}")))?;
        let n = v
            .as_u64()
            .ok_or_else(|| ParseError::Meta(format!("the header's {key:?} is {v}, not a count")))?;
        u32::try_from(n).map_err(|_| ParseError::TooLarge(format!("{key} is {n}")))
    };
    let (node_count, edge_count) = (count("node_count")?, count("edge_count")?);
    for (what, count, width) in [
        ("nodes", node_count, meta.node_fields.len()),
        ("edges", edge_count, meta.edge_fields.len()),
    ] {
        // Edge targets are offsets into the node array, so that array must fit 32 bits too.
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

/// Calls `row` with each complete row of `width` numbers of the array that comes next. Two
/// threads share the work: one reads the file and turns digits into numbers, this one takes the
/// rows apart into columns; buffers of numbers go between them and back.
fn rows<R: BufRead + Send>(
    j: &mut Json<R>,
    width: usize,
    inside: &'static str,
    mut row: impl FnMut(&[u32]) -> Result<(), ParseError>,
) -> Result<(), ParseError> {
    j.expect(b'[', inside)?;
    let (full, numbers) = mpsc::sync_channel::<(Vec<u32>, u64)>(4);
    let (recycle, empties) = mpsc::channel::<Vec<u32>>();
    std::thread::scope(|scope| {
        let reader = scope.spawn(move || {
            j.u32_array_chunks(inside, |chunk, offset| {
                let next = empties
                    .try_recv()
                    .unwrap_or_else(|_| Vec::with_capacity(chunk.capacity()));
                let chunk = std::mem::replace(chunk, next);
                // A closed channel: the rows were found wrong, and that error is the one reported.
                full.send((chunk, offset))
                    .map_err(|_| String::from("stopped"))
            })
        });
        let mut partial: Vec<u32> = Vec::with_capacity(width);
        let mut failed = None;
        for (chunk, offset) in numbers.iter() {
            if let Err(e) = take_rows(&chunk, width, &mut partial, &mut row) {
                failed = Some(match e {
                    ParseError::Inconsistent(what) => {
                        ParseError::InconsistentBefore { what, offset }
                    }
                    e => e,
                });
                break;
            }
            let _ = recycle.send(chunk);
        }
        drop(numbers);
        let read = reader.join().expect("the reading thread does not panic");
        if let Some(e) = failed {
            return Err(e);
        }
        read?;
        if !partial.is_empty() {
            return Err(ParseError::Inconsistent(format!(
                "{inside} ends inside a row: {} numbers left over, rows are {width} wide",
                partial.len()
            )));
        }
        Ok(())
    })
}

/// Hands the complete rows in `numbers` to `row`, with `partial` carrying a row cut between chunks.
fn take_rows(
    numbers: &[u32],
    width: usize,
    partial: &mut Vec<u32>,
    row: &mut impl FnMut(&[u32]) -> Result<(), ParseError>,
) -> Result<(), ParseError> {
    let mut rest = numbers;
    if !partial.is_empty() {
        let take = (width - partial.len()).min(rest.len());
        partial.extend_from_slice(&rest[..take]);
        rest = &rest[take..];
        if partial.len() < width {
            return Ok(());
        }
        row(partial)?;
        partial.clear();
    }
    let mut whole = rest.chunks_exact(width);
    for r in &mut whole {
        row(r)?;
    }
    partial.extend_from_slice(whole.remainder());
    Ok(())
}

fn nodes<R: BufRead + Send>(
    j: &mut Json<R>,
    h: &Header,
    c: &mut Columns,
    max_numbers: u64,
) -> Result<(), ParseError> {
    let m = &h.meta;
    let n = u64::from(h.node_count).min(max_numbers / m.node_fields.len() as u64) as usize;
    let detachedness = m.node_detachedness.is_some();
    c.first_edge.push(0);
    c.reserve_nodes(n, detachedness)?;
    let types = m.node_types.len() as u32;
    let mut edges: u64 = 0;
    let mut count: u64 = 0;
    rows(j, m.node_fields.len(), "nodes", |r| {
        if count == u64::from(h.node_count) {
            return Err(bad(format!(
                "more nodes than the {} the header says",
                h.node_count
            )));
        }
        // A type meta does not name (old Chrome) is DevTools' `nodeTypes[t]`, undefined: the
        // type one past meta's list, named "undefined" once the nodes are read.
        let t = r[m.node_type].min(types);
        c.undefined_type |= t == types;
        edges += u64::from(r[m.node_edge_count]);
        if edges > u64::from(h.edge_count) {
            return Err(bad(format!(
                "nodes up to node {count} claim more edges than the {} the header says",
                h.edge_count
            )));
        }
        if c.node_type.len() == c.node_type.capacity() {
            c.reserve_nodes(c.node_type.len().max(1 << 16), detachedness)?;
        }
        c.node_type.push(t as u8);
        c.node_name.push(r[m.node_name]);
        c.node_id.push(r[m.node_id]);
        c.node_self_size.push(r[m.node_self_size]);
        if let Some(d) = m.node_detachedness {
            // DevTools reads the low two bits (the rest holds its own class index).
            c.node_detachedness.push((r[d] & 3) as u8);
        }
        c.first_edge.push(edges as u32);
        count += 1;
        Ok(())
    })
}

fn edges<R: BufRead + Send>(
    j: &mut Json<R>,
    h: &Header,
    c: &mut Columns,
    max_numbers: u64,
) -> Result<(), ParseError> {
    let m = &h.meta;
    let e = u64::from(h.edge_count).min(max_numbers / m.edge_fields.len() as u64) as usize;
    c.reserve_edges(e)?;
    // The header check made node_count * nf fit 32 bits.
    let nf = m.node_fields.len() as u32;
    let end = h.node_count * nf;
    // Division by the common widths compiles to multiplications (this runs for every edge).
    let node_of = |to: u32| match nf {
        7 => to / 7,
        6 => to / 6,
        _ => to / nf,
    };
    let types = m.edge_types.len() as u32;
    let mut count: u64 = 0;
    rows(j, m.edge_fields.len(), "edges", |r| {
        if count == u64::from(h.edge_count) {
            return Err(bad(format!(
                "more edges than the {} the header says",
                h.edge_count
            )));
        }
        let to = r[m.edge_to_node];
        let node = node_of(to);
        if node * nf != to || to >= end {
            return Err(bad(format!(
                "edge {count} points at {to}, not a node (node rows are {nf} wide, {end} numbers in all)"
            )));
        }
        let t = r[m.edge_type];
        if t >= types {
            return Err(bad(format!(
                "edge {count} has type {t}, meta names {types}"
            )));
        }
        if c.edge_type.len() == c.edge_type.capacity() {
            c.reserve_edges(c.edge_type.len().max(1 << 16))?;
        }
        c.edge_type.push(t as u8);
        c.edge_name_or_index.push(r[m.edge_name_or_index]);
        c.edge_to.push(node);
        count += 1;
        Ok(())
    })
}

/// The `locations` rows as (node number, location), sorted by node.
fn locations(h: &Header, raw: &[u32]) -> Result<Vec<(u32, Location)>, ParseError> {
    let m = &h.meta;
    let width = m.location_fields.len();
    if raw.is_empty() {
        return Ok(Vec::new());
    }
    if width == 0 || !raw.len().is_multiple_of(width) {
        return Err(ParseError::Inconsistent(format!(
            "{} numbers in locations, rows are {width} wide",
            raw.len()
        )));
    }
    let [object, script, line, column] =
        ["object_index", "script_id", "line", "column"].map(|f| m.location_field(f));
    let nf = m.node_fields.len() as u32;
    let mut out = Vec::new();
    reserve(&mut out, raw.len() / width, "the locations")?;
    for (i, row) in raw.chunks_exact(width).enumerate() {
        let node = row[object];
        if !node.is_multiple_of(nf) || node / nf >= h.node_count {
            return Err(ParseError::Inconsistent(format!(
                "location {i} points at {node}, not a node"
            )));
        }
        out.push((
            node / nf,
            Location {
                script_id: row[script],
                line: row[line],
                column: row[column],
            },
        ));
    }
    // A node listed twice keeps its last location, as DevTools does.
    out.sort_by_key(|&(node, _)| node);
    out.reverse();
    out.dedup_by_key(|&mut (node, _)| node);
    out.reverse();
    Ok(out)
}

/// The strings whose text nodes and edges read by index (`string_table`).
fn needed(h: &Header, c: &Columns) -> Result<string_table::Needed, ParseError> {
    let by_index = |t: u8| h.meta.edge_type_by_index(t);
    string_table::needed(&string_table::Columns {
        node_types: &h.meta.node_types,
        node_type: &c.node_type,
        node_name: &c.node_name,
        first_edge: &c.first_edge,
        edge_by_index: &by_index,
        edge_type: &c.edge_type,
        edge_name_or_index: &c.edge_name_or_index,
        edge_to: &c.edge_to,
    })
}

/// Reads the strings, keeping the texts `needed` says or that [`string_table::keeps_text`]
/// keeps (every text without `needed`).
fn string_list<R: BufRead>(
    j: &mut Json<R>,
    out: &mut Strings,
    needed: Option<&string_table::Needed>,
) -> Result<(), ParseError> {
    j.expect(b'[', "strings")?;
    if j.empty(b']', "strings")? {
        return Ok(());
    }
    loop {
        let i = out.len();
        let start = out.buffer().len();
        j.string_append(out.buffer(), "strings")?;
        let keep =
            needed.is_none_or(|n| n.get(i) || string_table::keeps_text(&out.buffer()[start..]));
        out.close(keep)?;
        if !j.next_in(b']', "strings")? {
            return Ok(());
        }
    }
}
