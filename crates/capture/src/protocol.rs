//! The byte stream on the pipe from the Node process (sender) to the helper (receiver).
//!
//! ```text
//! request := "OHD1" flags:u8 path_len:u32le path:[u8]    flags bit 0: keep an existing file;
//!                                                          bit 1: summarize it once the sender exits
//! chunk   := len:u32le data:[u8; len]                      len > 0
//! end     := 0u32le total:u64le                            total = sum of chunk lengths
//! export  := "OHDX" reason_len:u32le reason:[u8] count:u32le (path_len:u32le path:[u8])*
//! ```
//! A request is followed by chunks and one end. An export lists the files an OOM wrote, for the
//! helper to hand to the export command once the sender has exited. If the sender dies, the pipe
//! closes early and the receiver sees [`ProtocolError::Truncated`]. The receiver answers each
//! request and each export on its stdout with an [`Ack`], length-prefixed bytes so that any path
//! (newlines, tabs, non-UTF-8) comes back as it is:
//!
//! ```text
//! ack     := "OHDA" 0u8 bytes:u64le node_count:u64le edge_count:u64le path_len:u32le path:[u8]
//!          | "OHDA" 1u8 message_len:u32le message:[u8]     (UTF-8; 2u8 alike: replaced)
//!          | "OHDA" 3u8                                     (export accepted)
//! ```
//! The sender waits for the answer to an export too: the receiver reads the sender's credentials
//! while the sender is provably alive and its parent, which it could not once the sender is gone.
//! After answering it waits for the next request; end of input ends it.

use std::io::{self, BufRead, Read, Write};
use std::path::PathBuf;

use crate::atomic_file::Landing;
use crate::error::ProtocolError;

const MAGIC: &[u8; 4] = b"OHD1";
const EXPORT_MAGIC: &[u8; 4] = b"OHDX";
/// Most files an export may list, and the longest reason it may carry.
const MAX_EXPORT_FILES: u32 = 16;
const MAX_EXPORT_REASON: u32 = 4096;
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

/// The files an OOM wrote, to export once the sender has exited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportFiles {
    /// What happened, in a few words (UTF-8).
    pub reason: String,
    /// Absolute paths.
    pub files: Vec<PathBuf>,
}

/// A message from the sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A capture to write: chunks and an end follow.
    Capture(Request),
    Export(ExportFiles),
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

pub fn write_export<W: Write>(w: &mut W, export: &ExportFiles) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let reason = export.reason.as_bytes();
    let reason = &reason[..reason.len().min(MAX_EXPORT_REASON as usize)];
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(EXPORT_MAGIC);
    out.extend_from_slice(&(reason.len() as u32).to_le_bytes());
    out.extend_from_slice(reason);
    out.extend_from_slice(&(export.files.len() as u32).to_le_bytes());
    for f in &export.files {
        let path = f.as_os_str().as_bytes();
        out.extend_from_slice(&(path.len() as u32).to_le_bytes());
        out.extend_from_slice(path);
    }
    w.write_all(&out)?;
    w.flush()
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
    /// A capture's data is being read: its request came, its end frame has not.
    open: bool,
}

impl<R: BufRead> Receiver<R> {
    pub fn new(input: R) -> Self {
        Self {
            input,
            received: 0,
            pending: 0,
            open: false,
        }
    }

    /// The next request, or `None` when the sender closed the pipe between requests; an export
    /// message is an error here.
    pub fn next_request(&mut self) -> Result<Option<Request>, ProtocolError> {
        match self.next_message()? {
            None => Ok(None),
            Some(Message::Capture(req)) => Ok(Some(req)),
            Some(Message::Export(_)) => Err(ProtocolError::BadMagic(*EXPORT_MAGIC)),
        }
    }

    /// The next message, or `None` when the sender closed the pipe between messages.
    pub fn next_message(&mut self) -> Result<Option<Message>, ProtocolError> {
        self.received = 0;
        self.pending = 0;
        self.open = false;
        if self.input.fill_buf()?.is_empty() {
            return Ok(None);
        }
        let mut magic = [0u8; 4];
        self.exact(&mut magic)?;
        match &magic {
            MAGIC => {
                let req = self.request()?;
                self.open = true;
                Ok(Some(Message::Capture(req)))
            }
            EXPORT_MAGIC => self.export().map(|e| Some(Message::Export(e))),
            _ => Err(ProtocolError::BadMagic(magic)),
        }
    }

    fn u32(&mut self) -> Result<u32, ProtocolError> {
        let mut n = [0u8; 4];
        self.exact(&mut n)?;
        Ok(u32::from_le_bytes(n))
    }

    /// A length-prefixed absolute path.
    fn path(&mut self) -> Result<PathBuf, ProtocolError> {
        let len = self.u32()?;
        if len == 0 || len > MAX_PATH {
            return Err(ProtocolError::BadPath(format!("length {len}")));
        }
        let mut path = vec![0u8; len as usize];
        self.exact(&mut path)?;
        if path.contains(&0) {
            return Err(ProtocolError::BadPath("contains a NUL byte".into()));
        }
        use std::os::unix::ffi::OsStringExt;
        let path = PathBuf::from(std::ffi::OsString::from_vec(path));
        if !path.is_absolute() {
            return Err(ProtocolError::BadPath(format!("{path:?} is not absolute")));
        }
        Ok(path)
    }

    /// An export message, after its magic.
    fn export(&mut self) -> Result<ExportFiles, ProtocolError> {
        let len = self.u32()?;
        if len > MAX_EXPORT_REASON {
            return Err(ProtocolError::BadExport(format!("reason of {len} bytes")));
        }
        let mut reason = vec![0u8; len as usize];
        self.exact(&mut reason)?;
        let count = self.u32()?;
        if count > MAX_EXPORT_FILES {
            return Err(ProtocolError::BadExport(format!("{count} files")));
        }
        let files = (0..count).map(|_| self.path()).collect::<Result<_, _>>()?;
        Ok(ExportFiles {
            reason: String::from_utf8_lossy(&reason).into_owned(),
            files,
        })
    }

    /// A capture request, after its magic.
    fn request(&mut self) -> Result<Request, ProtocolError> {
        let mut flags = [0u8; 1];
        self.exact(&mut flags)?;
        let final_path = self.path()?;
        let landing = if flags[0] & FLAG_KEEP_EXISTING != 0 {
            Landing::KeepExisting
        } else {
            Landing::Replace
        };
        Ok(Request {
            final_path,
            landing,
            summarize: flags[0] & FLAG_SUMMARIZE != 0,
        })
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
                self.open = false;
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

    /// Reads what is left of the current capture's data up to its end frame, keeping nothing (a
    /// capture that failed on this side: the sender, told so, stops and ends it); nothing when its
    /// end frame has been read already.
    pub fn skip_rest(&mut self, buf: &mut [u8]) -> Result<(), ProtocolError> {
        while self.open {
            self.next_chunk(buf)?;
        }
        Ok(())
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

const ACK_MAGIC: &[u8; 4] = b"OHDA";
const ACK_WRITTEN: u8 = 0;
const ACK_FAILED: u8 = 1;
const ACK_REPLACED: u8 = 2;
const ACK_ACCEPTED: u8 = 3;
const ACK_OUT_OF_SPACE: u8 = 4;
/// Longest failure message an answer may carry.
const MAX_MESSAGE: u32 = 64 * 1024;

/// The receiver's answer to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ack {
    Written {
        path: PathBuf,
        bytes: u64,
        node_count: u64,
        edge_count: u64,
    },
    Failed(String),
    /// Written and landed, then replaced under its final name by another writer's capture (two
    /// apps sharing a path): not a failure to retry, since writing again would race the same way.
    Replaced(String),
    /// An export message taken, with the app's credentials read while it was still waiting for
    /// this answer (so still alive and still the receiver's parent).
    Accepted,
    /// Failed because the target's filesystem is full (ENOSPC, EDQUOT): the app writing the
    /// snapshot again, into the same folder, would fail the same way.
    OutOfSpace(String),
}

impl Ack {
    /// The answer's bytes, as [`Ack::read_from`] reads them.
    pub fn encode(&self) -> Vec<u8> {
        use std::os::unix::ffi::OsStrExt;
        let mut out = ACK_MAGIC.to_vec();
        match self {
            Ack::Written {
                path,
                bytes,
                node_count,
                edge_count,
            } => {
                let path = path.as_os_str().as_bytes();
                out.push(ACK_WRITTEN);
                for n in [bytes, node_count, edge_count] {
                    out.extend_from_slice(&n.to_le_bytes());
                }
                out.extend_from_slice(&(path.len() as u32).to_le_bytes());
                out.extend_from_slice(path);
            }
            Ack::Accepted => out.push(ACK_ACCEPTED),
            Ack::Failed(msg) | Ack::Replaced(msg) | Ack::OutOfSpace(msg) => {
                let msg = &msg.as_bytes()[..msg.len().min(MAX_MESSAGE as usize)];
                out.push(match self {
                    Ack::Failed(_) => ACK_FAILED,
                    Ack::Replaced(_) => ACK_REPLACED,
                    _ => ACK_OUT_OF_SPACE,
                });
                out.extend_from_slice(&(msg.len() as u32).to_le_bytes());
                out.extend_from_slice(msg);
            }
        }
        out
    }

    /// Reads one answer; `Ok(None)` when the input ended before its first byte (receiver gone).
    pub fn read_from<R: Read>(r: &mut R) -> Result<Option<Ack>, ProtocolError> {
        let mut magic = [0u8; 4];
        let mut got = 0;
        while got < magic.len() {
            match r.read(&mut magic[got..]) {
                Ok(0) if got == 0 => return Ok(None),
                Ok(0) => return Err(ProtocolError::BadAck("cut short".into())),
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        if &magic != ACK_MAGIC {
            return Err(ProtocolError::BadAck(format!("bad magic {magic:?}")));
        }
        let exact = |r: &mut R, buf: &mut [u8]| {
            r.read_exact(buf).map_err(|e| match e.kind() {
                io::ErrorKind::UnexpectedEof => ProtocolError::BadAck("cut short".into()),
                _ => e.into(),
            })
        };
        let u64_of = |r: &mut R| -> Result<u64, ProtocolError> {
            let mut b = [0u8; 8];
            exact(r, &mut b)?;
            Ok(u64::from_le_bytes(b))
        };
        let bytes_of = |r: &mut R, max: u32| -> Result<Vec<u8>, ProtocolError> {
            let mut b = [0u8; 4];
            exact(r, &mut b)?;
            let len = u32::from_le_bytes(b);
            if len > max {
                return Err(ProtocolError::BadAck(format!("length {len}")));
            }
            let mut v = vec![0u8; len as usize];
            exact(r, &mut v)?;
            Ok(v)
        };
        let mut kind = [0u8; 1];
        exact(r, &mut kind)?;
        match kind[0] {
            ACK_WRITTEN => {
                use std::os::unix::ffi::OsStringExt;
                let (bytes, node_count, edge_count) = (u64_of(r)?, u64_of(r)?, u64_of(r)?);
                let path = PathBuf::from(std::ffi::OsString::from_vec(bytes_of(r, MAX_PATH)?));
                Ok(Some(Ack::Written {
                    path,
                    bytes,
                    node_count,
                    edge_count,
                }))
            }
            ACK_FAILED => Ok(Some(Ack::Failed(
                String::from_utf8_lossy(&bytes_of(r, MAX_MESSAGE)?).into_owned(),
            ))),
            ACK_REPLACED => Ok(Some(Ack::Replaced(
                String::from_utf8_lossy(&bytes_of(r, MAX_MESSAGE)?).into_owned(),
            ))),
            ACK_OUT_OF_SPACE => Ok(Some(Ack::OutOfSpace(
                String::from_utf8_lossy(&bytes_of(r, MAX_MESSAGE)?).into_owned(),
            ))),
            ACK_ACCEPTED => Ok(Some(Ack::Accepted)),
            other => Err(ProtocolError::BadAck(format!("unknown kind {other}"))),
        }
    }
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
    fn an_export_follows_a_capture_and_is_bounded() {
        let export = ExportFiles {
            reason: "Reached heap limit".into(),
            files: vec!["/d/a\nb.heapprofile".into(), "/d/a.oom.json".into()],
        };
        let mut wire = Vec::new();
        write_request(&mut wire, &request()).unwrap();
        write_end(&mut wire, 0).unwrap();
        write_export(&mut wire, &export).unwrap();
        let mut r = Receiver::new(Cursor::new(wire));
        assert_eq!(r.next_message().unwrap(), Some(Message::Capture(request())));
        assert_eq!(r.next_chunk(&mut [0u8; 8]).unwrap(), Chunk::End);
        assert_eq!(r.next_message().unwrap(), Some(Message::Export(export)));
        assert_eq!(r.next_message().unwrap(), None);

        let mut wire = EXPORT_MAGIC.to_vec();
        wire.extend_from_slice(&0u32.to_le_bytes());
        wire.extend_from_slice(&(MAX_EXPORT_FILES + 1).to_le_bytes());
        assert!(matches!(
            Receiver::new(Cursor::new(wire)).next_message(),
            Err(ProtocolError::BadExport(_))
        ));
        let mut wire = EXPORT_MAGIC.to_vec();
        wire.extend_from_slice(&0u32.to_le_bytes());
        wire.extend_from_slice(&1u32.to_le_bytes());
        wire.extend_from_slice(&3u32.to_le_bytes());
        wire.extend_from_slice(b"rel");
        assert!(matches!(
            Receiver::new(Cursor::new(wire)).next_message(),
            Err(ProtocolError::BadPath(_))
        ));
    }

    #[test]
    fn acks_carry_any_path_and_message_unchanged() {
        use std::os::unix::ffi::OsStringExt;
        let odd = std::ffi::OsString::from_vec(b"/a b/new\nline\ttab \xff/c.heapsnapshot".to_vec());
        let ok = Ack::Written {
            path: PathBuf::from(odd),
            bytes: 10,
            node_count: 2,
            edge_count: 3,
        };
        let err = Ack::Failed("disk\tfull\nnow".into());
        let replaced = Ack::Replaced("\"/x\" was replaced".into());
        let full = Ack::OutOfSpace("No space left on device".into());
        let mut wire = ok.encode();
        wire.extend(err.encode());
        wire.extend(replaced.encode());
        wire.extend(full.encode());
        wire.extend(Ack::Accepted.encode());
        let mut r = Cursor::new(wire);
        assert_eq!(Ack::read_from(&mut r).unwrap(), Some(ok.clone()));
        assert_eq!(Ack::read_from(&mut r).unwrap(), Some(err));
        assert_eq!(Ack::read_from(&mut r).unwrap(), Some(replaced));
        assert_eq!(Ack::read_from(&mut r).unwrap(), Some(full));
        assert_eq!(Ack::read_from(&mut r).unwrap(), Some(Ack::Accepted));
        assert_eq!(Ack::read_from(&mut r).unwrap(), None, "end of input");
        let mut cut = ok.encode();
        cut.pop();
        assert!(Ack::read_from(&mut Cursor::new(cut)).is_err());
        assert!(Ack::read_from(&mut Cursor::new(b"ok\t1\t2\t3\t/x\n".to_vec())).is_err());
    }
}
