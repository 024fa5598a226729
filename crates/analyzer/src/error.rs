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
