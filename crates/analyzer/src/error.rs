//! Why a snapshot could not be read, and where: every error names the byte offset.

#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    /// A FIFO, socket or device: refused before reading (a FIFO could block forever).
    #[error("cannot read {path}: it is {what}, not a regular file")]
    NotAFile { path: String, what: &'static str },
    #[error("not a heap snapshot: {what} at byte {offset}")]
    Syntax { offset: u64, what: String },
    /// Reading failed (an I/O error) after `offset` bytes.
    #[error("cannot read the snapshot after byte {offset}: {source}")]
    Read { offset: u64, source: std::io::Error },
    /// [`ParseError::Read`] in a gzip file: its compressed data ends early or is damaged.
    #[error("{}", gzip_damage(*offset, source))]
    ReadGzip { offset: u64, source: std::io::Error },
    #[error("the file ends at byte {offset}, inside {inside}: the snapshot is truncated")]
    Truncated { offset: u64, inside: &'static str },
    /// [`ParseError::Syntax`] in a gzip file: the offset counts gunzipped bytes.
    #[error("not a heap snapshot: {what} at byte {offset} of the gunzipped snapshot")]
    SyntaxGzip { offset: u64, what: String },
    /// [`ParseError::Truncated`] in a gzip file: the offset counts gunzipped bytes.
    #[error(
        "the gunzipped snapshot ends at byte {offset}, inside {inside}: the snapshot is truncated"
    )]
    TruncatedGzip { offset: u64, inside: &'static str },
    #[error("unknown snapshot layout: {0}")]
    Meta(String),
    #[error("inconsistent snapshot: {0}")]
    Inconsistent(String),
    /// Found in the numbers read before `offset` (rows are checked a buffer at a time; the row
    /// the message names is exact).
    #[error("inconsistent snapshot: {what}, before byte {offset}")]
    InconsistentBefore { what: String, offset: u64 },
    /// [`ParseError::InconsistentBefore`] in a gzip file: the offset counts gunzipped bytes.
    #[error("inconsistent snapshot: {what}, before byte {offset} of the gunzipped snapshot")]
    InconsistentBeforeGzip { what: String, offset: u64 },
    #[error("snapshot too large for 32-bit indexes: {0}")]
    TooLarge(String),
    /// An allocation failed: the machine (or `ulimit -v`) has too little memory for this snapshot.
    #[error("not enough memory to analyze the snapshot: {0}")]
    Memory(String),
    /// [`ParseError::Memory`] for the named file.
    #[error("not enough memory to analyze {path}: {what}")]
    MemoryFor { path: String, what: String },
    /// Any of the above, in the named file ([`crate::read_snapshot`] says which file).
    #[error("{path}: {source}")]
    File {
        path: String,
        source: Box<ParseError>,
    },
}

/// What a read error in a gzip file means: the file is cut short, or its data is damaged.
fn gzip_damage(offset: u64, e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        format!("the gzip file ends inside its compressed data, after byte {offset} of the gunzipped snapshot: the file is truncated ({e})")
    } else {
        format!("the gzip file is damaged after byte {offset} of the gunzipped snapshot: {e}")
    }
}
