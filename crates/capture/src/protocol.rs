//! The byte stream on the pipe from the Node process (sender) to the helper (receiver).
//!
//! ```text
//! request := "OHD1" flags:u8 path_len:u32le path:[u8]    flags bit 0: keep an existing file;
//!                                                          bit 1: summarize it once the sender exits
//! chunk   := len:u32le data:[u8; len]                      len > 0
//! end     := 0u32le total:u64le                            total = sum of chunk lengths
//! ```
//! A request is followed by chunks and one end. If the sender dies, the pipe closes early and the
//! receiver sees [`ProtocolError::Truncated`]. The receiver answers each request with one line on its
//! stdout, an [`Ack`]. After answering it waits for the next request; end of input ends it.

use std::io::{self, BufRead, Write};
use std::path::PathBuf;

use crate::atomic_file::Landing;
use crate::error::ProtocolError;

const MAGIC: &[u8; 4] = b"OHD1";
const FLAG_KEEP_EXISTING: u8 = 1;
const FLAG_SUMMARIZE: u8 = 2;
/// Longest path a request may carry.
const MAX_PATH: u32 = 64 * 1024;

/// One capture to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub final_path: PathBuf,
    pub landing: Landing,
    /// Print what fills the heap (the analyzer's report) to stderr once the sender has exited.
    pub summarize: bool,
}

/// What comes next after a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chunk {
    /// `n` bytes of data were read into the buffer.
    Data(usize),
    /// The sender finished; the capture is complete.
    End,
}

pub fn write_request<W: Write>(w: &mut W, req: &Request) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let path = req.final_path.as_os_str().as_bytes();
    let flags = match req.landing {
        Landing::Replace => 0,
        Landing::KeepExisting => FLAG_KEEP_EXISTING,
    } | if req.summarize { FLAG_SUMMARIZE } else { 0 };
    let mut head = Vec::with_capacity(9 + path.len());
    head.extend_from_slice(MAGIC);
    head.push(flags);
    head.extend_from_slice(&(path.len() as u32).to_le_bytes());
    head.extend_from_slice(path);
    w.write_all(&head)
}

pub fn write_chunk<W: Write>(w: &mut W, data: &[u8]) -> io::Result<()> {
    for part in data.chunks(u32::MAX as usize) {
        if part.is_empty() {
            continue;
        }
        w.write_all(&(part.len() as u32).to_le_bytes())?;
        w.write_all(part)?;
    }
    Ok(())
}

pub fn write_end<W: Write>(w: &mut W, total: u64) -> io::Result<()> {
    let mut end = [0u8; 12];
    end[4..].copy_from_slice(&total.to_le_bytes());
    w.write_all(&end)?;
    w.flush()
}

/// Reads stream frames on the receiving side and keeps count of the bytes.
#[derive(Debug)]
pub struct Receiver<R> {
    input: R,
    received: u64,
    /// Bytes of the current chunk not yet handed out.
    pending: usize,
}

impl<R: BufRead> Receiver<R> {
    pub fn new(input: R) -> Self {
        Self {
            input,
            received: 0,
            pending: 0,
        }
    }

    /// The next request, or `None` when the sender closed the pipe between requests.
    pub fn next_request(&mut self) -> Result<Option<Request>, ProtocolError> {
        self.received = 0;
        self.pending = 0;
        if self.input.fill_buf()?.is_empty() {
            return Ok(None);
        }
        let mut magic = [0u8; 4];
        self.exact(&mut magic)?;
        if &magic != MAGIC {
            return Err(ProtocolError::BadMagic(magic));
        }
        let mut flags = [0u8; 1];
        self.exact(&mut flags)?;
        let mut len = [0u8; 4];
        self.exact(&mut len)?;
        let len = u32::from_le_bytes(len);
        if len == 0 || len > MAX_PATH {
            return Err(ProtocolError::BadPath(format!("length {len}")));
        }
        let mut path = vec![0u8; len as usize];
        self.exact(&mut path)?;
        if path.contains(&0) {
            return Err(ProtocolError::BadPath("contains a NUL byte".into()));
        }
        use std::os::unix::ffi::OsStringExt;
        let final_path = PathBuf::from(std::ffi::OsString::from_vec(path));
        if !final_path.is_absolute() {
            return Err(ProtocolError::BadPath(format!(
                "{final_path:?} is not absolute"
            )));
        }
        let landing = if flags[0] & FLAG_KEEP_EXISTING != 0 {
            Landing::KeepExisting
        } else {
            Landing::Replace
        };
        Ok(Some(Request {
            final_path,
            landing,
            summarize: flags[0] & FLAG_SUMMARIZE != 0,
        }))
    }

    /// Reads the next piece of data into `buf`, or the end frame.
    pub fn next_chunk(&mut self, buf: &mut [u8]) -> Result<Chunk, ProtocolError> {
        if self.pending == 0 {
            let mut len = [0u8; 4];
            self.exact(&mut len)?;
            let len = u32::from_le_bytes(len) as usize;
            if len == 0 {
                let mut total = [0u8; 8];
                self.exact(&mut total)?;
                let sent = u64::from_le_bytes(total);
                if sent != self.received {
                    return Err(ProtocolError::LengthMismatch {
                        sent,
                        received: self.received,
                    });
                }
                return Ok(Chunk::End);
            }
            self.pending = len;
        }
        let want = self.pending.min(buf.len());
        self.exact(&mut buf[..want])?;
        self.pending -= want;
        self.received += want as u64;
        Ok(Chunk::Data(want))
    }

    /// Data bytes received for the current request.
    pub fn received(&self) -> u64 {
        self.received
    }

    fn exact(&mut self, buf: &mut [u8]) -> Result<(), ProtocolError> {
        self.input.read_exact(buf).map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                ProtocolError::Truncated {
                    bytes: self.received,
                }
            } else {
                ProtocolError::Io(e)
            }
        })
    }
}

/// The receiver's one-line answer to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ack {
    Written {
        path: PathBuf,
        bytes: u64,
        node_count: u64,
        edge_count: u64,
    },
    Failed(String),
}

impl Ack {
    /// The line, newline included. Tabs and newlines in texts are replaced so it stays one line.
    pub fn to_line(&self) -> String {
        match self {
            Ack::Written {
                path,
                bytes,
                node_count,
                edge_count,
            } => format!(
                "ok\t{bytes}\t{node_count}\t{edge_count}\t{}\n",
                one_line(&path.to_string_lossy())
            ),
            Ack::Failed(msg) => format!("error\t{}\n", one_line(msg)),
        }
    }

    pub fn parse(line: &str) -> Result<Ack, ProtocolError> {
        let bad = || ProtocolError::BadAck(line.to_owned());
        let line = line.strip_suffix('\n').ok_or_else(bad)?;
        let mut parts = line.splitn(5, '\t');
        match parts.next() {
            Some("error") => Ok(Ack::Failed(parts.next().unwrap_or("").to_owned())),
            Some("ok") => {
                let mut num = || -> Result<u64, ProtocolError> {
                    parts.next().and_then(|s| s.parse().ok()).ok_or_else(bad)
                };
                let (bytes, node_count, edge_count) = (num()?, num()?, num()?);
                let path = parts.next().ok_or_else(bad)?;
                Ok(Ack::Written {
                    path: PathBuf::from(path),
                    bytes,
                    node_count,
                    edge_count,
                })
            }
            _ => Err(bad()),
        }
    }
}

fn one_line(s: &str) -> String {
    s.replace(['\t', '\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn request() -> Request {
        Request {
            final_path: PathBuf::from("/tmp/x.heapsnapshot"),
            landing: Landing::KeepExisting,
            summarize: true,
        }
    }

    fn drain<R: BufRead>(r: &mut Receiver<R>) -> Result<Vec<u8>, ProtocolError> {
        let mut out = Vec::new();
        let mut buf = [0u8; 3];
        loop {
            match r.next_chunk(&mut buf)? {
                Chunk::Data(n) => out.extend_from_slice(&buf[..n]),
                Chunk::End => return Ok(out),
            }
        }
    }

    #[test]
    fn round_trip_of_two_requests() {
        let mut wire = Vec::new();
        write_request(&mut wire, &request()).unwrap();
        write_chunk(&mut wire, b"hello ").unwrap();
        write_chunk(&mut wire, b"world").unwrap();
        write_end(&mut wire, 11).unwrap();
        write_request(&mut wire, &request()).unwrap();
        write_end(&mut wire, 0).unwrap();
        let mut r = Receiver::new(Cursor::new(wire));
        assert_eq!(r.next_request().unwrap(), Some(request()));
        assert_eq!(drain(&mut r).unwrap(), b"hello world");
        assert_eq!(r.next_request().unwrap(), Some(request()));
        assert_eq!(drain(&mut r).unwrap(), b"");
        assert_eq!(r.next_request().unwrap(), None);
    }

    #[test]
    fn sender_dying_mid_stream_is_truncation() {
        let mut wire = Vec::new();
        write_request(&mut wire, &request()).unwrap();
        write_chunk(&mut wire, b"hello world").unwrap();
        wire.truncate(wire.len() - 4);
        let mut r = Receiver::new(Cursor::new(wire));
        r.next_request().unwrap();
        let err = drain(&mut r).unwrap_err();
        assert!(
            matches!(err, ProtocolError::Truncated { bytes: 6 }),
            "{err}"
        );
    }

    #[test]
    fn wrong_total_is_rejected() {
        let mut wire = Vec::new();
        write_request(&mut wire, &request()).unwrap();
        write_chunk(&mut wire, b"abc").unwrap();
        write_end(&mut wire, 4).unwrap();
        let mut r = Receiver::new(Cursor::new(wire));
        r.next_request().unwrap();
        assert!(matches!(
            drain(&mut r),
            Err(ProtocolError::LengthMismatch {
                sent: 4,
                received: 3
            })
        ));
    }

    #[test]
    fn relative_path_and_bad_magic_are_rejected() {
        let mut wire = Vec::new();
        let mut req = request();
        req.final_path = PathBuf::from("rel.heapsnapshot");
        write_request(&mut wire, &req).unwrap();
        assert!(matches!(
            Receiver::new(Cursor::new(wire)).next_request(),
            Err(ProtocolError::BadPath(_))
        ));
        assert!(matches!(
            Receiver::new(Cursor::new(b"XXXX....".to_vec())).next_request(),
            Err(ProtocolError::BadMagic(_))
        ));
    }

    #[test]
    fn acks_round_trip() {
        let ok = Ack::Written {
            path: PathBuf::from("/a b/c.heapsnapshot"),
            bytes: 10,
            node_count: 2,
            edge_count: 3,
        };
        assert_eq!(Ack::parse(&ok.to_line()).unwrap(), ok);
        let err = Ack::Failed("disk\tfull\nnow".into());
        assert_eq!(
            Ack::parse(&err.to_line()).unwrap(),
            Ack::Failed("disk full now".into())
        );
        assert!(Ack::parse("ok\tx\n").is_err());
    }
}
