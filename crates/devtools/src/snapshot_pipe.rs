//! A heap snapshot the target writes itself into a pipe we read: `Runtime.evaluate` of Node's
//! `v8.writeHeapSnapshot(path)`, where `path` is a FIFO the caller made. The bytes never pass
//! through the inspector, which on Node 20-24 costs the target's JS thread 10-20% more than V8's
//! own file writer (it re-encodes each chunk as a JSON message there); this way the target's JS
//! thread does what `--heapsnapshot-signal` does, and the pipe's backpressure bounds what waits in
//! memory. The bytes are checked and landed by the caller's sink as on the chunk path.
//!
//! The caller keeps a writing end of the pipe open (a FIFO opened `O_RDWR`, or the writing end of
//! its own pipe), so a read never sees an end before the target opens it: the end of the snapshot is the evaluation's answer (Node returns
//! once it closed the file), after which what is left in the pipe is drained.

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::json;
use tokio::io::AsyncReadExt;
use tokio::net::unix::pipe::Receiver;

use crate::client::Session;
use crate::heap_snapshot::{first_chunk_silence, SNAPSHOT_SILENCE};
use crate::DevtoolsError;
use oom_heapdump_capture::CaptureError;

/// Why the pipe path did not give a snapshot.
#[derive(Debug, thiserror::Error)]
pub enum PipeError {
    /// The target would not write (no `v8` module reachable, the FIFO could not be opened, ...)
    /// and nothing was read: the caller may take the snapshot another way.
    #[error("the target did not write its snapshot into the pipe: {0}")]
    Refused(String),
    #[error(transparent)]
    Devtools(#[from] DevtoolsError),
}

/// The expression that makes the target write its snapshot to `path` (in its own file system).
/// `process.getBuiltinModule` exists from Node 20.16; before, `require` of DevTools' command line
/// API (`includeCommandLineAPI`) is Node's. The FIFO is first opened without blocking, which fails
/// at once (ENXIO) when no reader holds it, instead of the blocking open of the writer waiting for
/// one for ever (a reader killed before the target came to it).
fn expression(path: &str) -> String {
    let quoted = serde_json::to_string(path).expect("a string serializes");
    format!(
        "(() => {{ const get = (m) => typeof process.getBuiltinModule === 'function' ? \
         process.getBuiltinModule(m) : require(m); const v8 = get('v8'), fs = get('fs'); \
         fs.closeSync(fs.openSync({quoted}, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK)); \
         v8.writeHeapSnapshot({quoted}); return true }})()"
    )
}

/// Has the target write its snapshot into `pipe` (opened by the caller at the path the target
/// sees as `target_path`), handing the bytes to `sink` as they come; returns the bytes read.
/// `resident_bytes` of the target bounds the silence before the first bytes.
pub async fn stream(
    session: &mut Session,
    target_path: &str,
    pipe: &mut Receiver,
    sink: &mut (dyn FnMut(&[u8]) -> Result<(), CaptureError> + Send),
    resident_bytes: u64,
) -> Result<u64, PipeError> {
    let id = session
        .send(
            "Runtime.evaluate",
            json!({
                "expression": expression(target_path),
                "includeCommandLineAPI": true,
                "returnByValue": true,
            }),
        )
        .await?;
    let bytes = AtomicU64::new(0);
    let received = || bytes.load(Ordering::Relaxed);
    let mut buf = vec![0u8; 1 << 20];
    // Only bytes in the pipe move the deadline on: a target that sends other messages is not
    // making progress.
    let mut silence = first_chunk_silence(resident_bytes);
    let mut deadline = tokio::time::Instant::now() + silence;
    enum Next {
        Read(std::io::Result<usize>),
        Message(Result<tokio_tungstenite::tungstenite::Utf8Bytes, DevtoolsError>),
    }
    let answer = loop {
        let next = async {
            tokio::select! {
                read = pipe.read(&mut buf) => Next::Read(read),
                text = session.next_text(&received) => Next::Message(text),
            }
        };
        let next =
            tokio::time::timeout_at(deadline, next)
                .await
                .map_err(|_| DevtoolsError::Silent {
                    url: session.url().to_owned(),
                    what: "the snapshot through the pipe".into(),
                    secs: silence.as_secs(),
                })?;
        match next {
            Next::Read(read) => {
                let n = read.map_err(|e| pipe_error(&received, e))?;
                sink(&buf[..n]).map_err(DevtoolsError::from)?;
                bytes.fetch_add(n as u64, Ordering::Relaxed);
                silence = SNAPSHOT_SILENCE;
                deadline = tokio::time::Instant::now() + silence;
            }
            Next::Message(text) => {
                let text = text?;
                let msg: serde_json::Value = match serde_json::from_str(&text) {
                    Ok(v) => v,
                    Err(e) => return Err(DevtoolsError::BadMessage(e.to_string()).into()),
                };
                if msg["id"].as_u64() == Some(id) {
                    break msg;
                }
            }
        }
    };
    // Node closed the file before it answered: what it wrote is in the pipe.
    loop {
        match pipe.try_read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                sink(&buf[..n]).map_err(DevtoolsError::from)?;
                bytes.fetch_add(n as u64, Ordering::Relaxed);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(pipe_error(&received, e).into()),
        }
    }
    let failure = if let Some(err) = answer.get("error") {
        Some(err.to_string())
    } else {
        answer["result"].get("exceptionDetails").map(|d| {
            // The first line: the error, without the target's stack.
            let said = d["exception"]["description"]
                .as_str()
                .unwrap_or("an exception");
            crate::shown(said.lines().next().unwrap_or(said), 500)
        })
    };
    // Node answers `true` after writing; anything else that wrote nothing did not take it.
    let failure = failure.or_else(|| {
        (answer["result"]["result"]["value"] != serde_json::Value::Bool(true))
            .then(|| format!("the evaluation gave {}", answer["result"]["result"]))
    });
    match failure {
        Some(why) if received() == 0 => Err(PipeError::Refused(why)),
        Some(why) => Err(DevtoolsError::Protocol {
            method: "Runtime.evaluate".into(),
            message: why,
        }
        .into()),
        None => Ok(received()),
    }
}

fn pipe_error(received: &dyn Fn() -> u64, e: std::io::Error) -> DevtoolsError {
    DevtoolsError::BadMessage(format!(
        "reading the snapshot pipe after {} bytes: {e}",
        received()
    ))
}

#[cfg(test)]
mod tests {
    use super::expression;

    #[test]
    fn the_path_is_quoted_as_a_js_string() {
        let e = expression("/tmp/a\"b'c/snapshot");
        assert!(
            e.contains(r#"writeHeapSnapshot("/tmp/a\"b'c/snapshot")"#),
            "{e}"
        );
    }
}
