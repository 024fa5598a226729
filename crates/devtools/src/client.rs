//! A minimal DevTools protocol client: discovery over HTTP, commands and events over the websocket.
//! Only the loopback is ever contacted (127.0.0.1, or ::1 for an inspector on IPv6), whatever
//! address the inspector itself was bound to.
//!
//! Every read is bounded in size and in time, so that whatever listens on the port (another
//! process, a hostile one, a stuck one) can neither grow this process's memory nor leave a capture
//! pending: the limits are the constants below, and README's "Reliability" says them too.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::{DevtoolsError, Endpoint};

/// Connecting to the inspector's port on loopback: immediate when anything listens.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// The whole `/json/list` exchange (connect, answer, body), and the websocket handshake.
const DISCOVERY_TIMEOUT: Duration = Duration::from_secs(5);
/// The `/json/list` body, read chunk by chunk: a real list is a few hundred bytes per target.
const MAX_TARGET_LIST_BYTES: usize = 1 << 20;
/// Silence allowed while waiting for the answer to a command that V8 answers at once (`enable`,
/// `start`, ...). The JS thread answers commands even while JavaScript runs (V8 interrupts it), so
/// only a blocked thread or a peer that is not an inspector is this slow.
pub const ANSWER_SILENCE: Duration = Duration::from_secs(10);

/// What one session accepts (silence limits are given per command, to [`Session::call`]).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest websocket message (and frame: Node's inspector sends a message as one frame).
    pub max_message_bytes: usize,
}

/// How long [`Session::call_with`] waits for an answer.
#[derive(Debug, Clone, Copy)]
pub struct Wait<'a> {
    /// From the command to its answer, or to the first event of `progress`.
    pub first: Duration,
    /// From each event of `progress` to the answer or the next such event.
    pub then: Duration,
    /// The events that show the command advancing (a snapshot's chunks): only these move the
    /// deadline on. Anything else a peer sends, however often, does not.
    pub progress: &'a [&'a str],
}

/// One entry of an inspector's `/json/list`.
#[derive(Debug, Clone, Deserialize)]
pub struct Target {
    pub id: String,
    /// "node" for a Node.js main thread.
    #[serde(default, rename = "type")]
    pub kind: String,
    /// The main script, as Node names it.
    #[serde(default)]
    pub title: String,
}

/// Who answers on a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// This process's inspector (its target id was listed).
    Ours,
    /// An inspector that does not list this process's target.
    Other,
    /// Nothing answered.
    Nothing(String),
}

/// The targets the inspector at `at` lists, read with the time and size bounds above.
pub async fn list_targets(at: Endpoint) -> Result<Vec<Target>, DevtoolsError> {
    let discovery = |reason: String| DevtoolsError::Discovery { at, reason };
    match tokio::time::timeout(DISCOVERY_TIMEOUT, read_target_list(at)).await {
        Ok(list) => list,
        Err(_) => Err(discovery(format!(
            "no complete answer within {} s",
            DISCOVERY_TIMEOUT.as_secs()
        ))),
    }
}

async fn read_target_list(at: Endpoint) -> Result<Vec<Target>, DevtoolsError> {
    let url = format!("http://{at}/json/list");
    let discovery = |reason: String| DevtoolsError::Discovery { at, reason };
    // Built together with the helper (crates/upload), reqwest has rustls without a crypto
    // provider, and building a client without one installed panics: install ring's (a no-op when
    // one is installed already, and unused for this plain-http request).
    let _ = rustls::crypto::ring::default_provider().install_default();
    // No redirect is followed: whatever listens on the port would send us anywhere (off the
    // loopback: a metadata endpoint, with our network identity).
    let client = reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(DISCOVERY_TIMEOUT)
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| discovery(e.to_string()))?;
    let mut response = client.get(&url).send().await.map_err(|e| {
        if e.is_connect() {
            DevtoolsError::NothingListening { at }
        } else {
            discovery(e.to_string())
        }
    })?;
    if response.status() != reqwest::StatusCode::OK {
        return Err(discovery(format!(
            "it answered HTTP {}, not a target list (an inspector answers 200)",
            response.status()
        )));
    }
    // Read as it arrives and stop past the limit: never the whole answer of a peer that does not end.
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| discovery(e.to_string()))?
    {
        if body.len() + chunk.len() > MAX_TARGET_LIST_BYTES {
            return Err(discovery(format!(
                "the answer is larger than {} bytes, which no inspector sends",
                MAX_TARGET_LIST_BYTES
            )));
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).map_err(|e| discovery(format!("not a target list: {e}")))
}

/// Checks whether this process's inspector (target `own_id`, if it has one) answers at `at`.
pub async fn probe(at: Endpoint, own_id: Option<&str>) -> Probe {
    match list_targets(at).await {
        Ok(targets) if own_id.is_some_and(|id| targets.iter().any(|t| t.id == id)) => Probe::Ours,
        Ok(_) => Probe::Other,
        Err(e) => Probe::Nothing(e.to_string()),
    }
}

/// An open protocol session with an inspector's target.
pub struct Session {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    url: String,
    next_id: u64,
}

/// One incoming message, borrowed from its text.
#[derive(Deserialize)]
struct Incoming<'a> {
    id: Option<u64>,
    #[serde(borrow)]
    method: Option<&'a str>,
    #[serde(borrow)]
    params: Option<&'a RawValue>,
    #[serde(borrow)]
    result: Option<&'a RawValue>,
    #[serde(borrow)]
    error: Option<&'a RawValue>,
}

impl Session {
    /// Connects to the target `own_id` at `at`, after checking that the inspector listening there
    /// lists it (so that we never capture another process).
    pub async fn connect(
        at: Endpoint,
        own_id: Option<&str>,
        limits: Limits,
    ) -> Result<Session, DevtoolsError> {
        let targets = list_targets(at).await?;
        let Some(id) = own_id.filter(|id| targets.iter().any(|t| t.id == *id)) else {
            return Err(DevtoolsError::NotThisProcess {
                at,
                pid: std::process::id(),
            });
        };
        Session::open(at, id, limits).await
    }

    /// Connects to target `id` at `at` (one [`list_targets`] listed: the caller chose it).
    pub async fn open(at: Endpoint, id: &str, limits: Limits) -> Result<Session, DevtoolsError> {
        let url = format!("ws://{at}/{id}");
        let mut config = WebSocketConfig::default();
        config.max_message_size = Some(limits.max_message_bytes);
        config.max_frame_size = Some(limits.max_message_bytes);
        let handshake = tokio_tungstenite::connect_async_with_config(&url, Some(config), false);
        let (ws, _) = tokio::time::timeout(DISCOVERY_TIMEOUT, handshake)
            .await
            .map_err(|_| DevtoolsError::Silent {
                url: url.clone(),
                what: "the websocket handshake".into(),
                secs: DISCOVERY_TIMEOUT.as_secs(),
            })?
            .map_err(|e| DevtoolsError::WebSocket {
                url: url.clone(),
                reason: e.to_string(),
            })?;
        Ok(Session {
            ws,
            url,
            next_id: 1,
        })
    }

    /// The websocket's address (for messages).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Sends `method` and returns its id without waiting for the answer.
    pub async fn send(
        &mut self,
        method: &str,
        params: serde_json::Value,
    ) -> Result<u64, DevtoolsError> {
        let id = self.next_id;
        self.next_id += 1;
        let text = serde_json::json!({ "id": id, "method": method, "params": params }).to_string();
        tokio::time::timeout(ANSWER_SILENCE, self.ws.send(Message::text(text)))
            .await
            .map_err(|_| DevtoolsError::Silent {
                url: self.url.clone(),
                what: format!("(reading) {method}"),
                secs: ANSWER_SILENCE.as_secs(),
            })?
            .map_err(|e| DevtoolsError::WebSocket {
                url: self.url.clone(),
                reason: e.to_string(),
            })?;
        Ok(id)
    }

    /// Sends `method` and waits for its answer, handing every event that arrives meanwhile to
    /// `on_event(method, params)` (params as JSON text). `received` counts bytes for the error
    /// message if the socket closes. `silence`: the longest wait for the answer, whatever else
    /// arrives meanwhile (a peer's events do not keep a command pending).
    pub async fn call(
        &mut self,
        method: &str,
        params: serde_json::Value,
        silence: Duration,
        on_event: &mut (dyn FnMut(&str, &str) -> Result<(), DevtoolsError> + Send),
        received: &(dyn Fn() -> u64 + Sync),
    ) -> Result<Box<RawValue>, DevtoolsError> {
        let wait = Wait {
            first: silence,
            then: silence,
            progress: &[],
        };
        self.call_with(method, params, wait, on_event, received)
            .await
    }

    /// [`Session::call`], waiting as `wait` says.
    pub async fn call_with(
        &mut self,
        method: &str,
        params: serde_json::Value,
        wait: Wait<'_>,
        on_event: &mut (dyn FnMut(&str, &str) -> Result<(), DevtoolsError> + Send),
        received: &(dyn Fn() -> u64 + Sync),
    ) -> Result<Box<RawValue>, DevtoolsError> {
        let id = self.send(method, params).await?;
        let mut limit = wait.first;
        let mut deadline = tokio::time::Instant::now() + limit;
        loop {
            let silent = |url: &str, limit: Duration| DevtoolsError::Silent {
                url: url.to_owned(),
                what: method.to_owned(),
                secs: limit.as_secs(),
            };
            // Messages already waiting are read without a timer firing: a peer that floods is cut
            // off here.
            if tokio::time::Instant::now() >= deadline {
                return Err(silent(&self.url, limit));
            }
            let next = self.next_text(received);
            let text = tokio::time::timeout_at(deadline, next)
                .await
                .map_err(|_| silent(&self.url, limit))??;
            let mut progressed = |event: &str| {
                if wait.progress.contains(&event) {
                    limit = wait.then;
                    deadline = tokio::time::Instant::now() + limit;
                }
            };
            // Events are most of the traffic (snapshot chunks): split them without parsing them.
            if let Some((event, params)) = split_event(&text) {
                on_event(event, params)?;
                progressed(event);
                continue;
            }
            let msg: Incoming = serde_json::from_str(&text)
                .map_err(|e| DevtoolsError::BadMessage(e.to_string()))?;
            match (msg.id, msg.method) {
                (Some(got), _) if got == id => {
                    if let Some(err) = msg.error {
                        return Err(DevtoolsError::Protocol {
                            method: method.to_owned(),
                            message: err.get().to_owned(),
                        });
                    }
                    let result = msg.result.map(|r| r.get()).unwrap_or("{}");
                    return RawValue::from_string(result.to_owned())
                        .map_err(|e| DevtoolsError::BadMessage(e.to_string()));
                }
                (None, Some(event)) => {
                    on_event(event, msg.params.map_or("null", |p| p.get()))?;
                    progressed(event);
                }
                _ => {}
            }
        }
    }

    /// Waits for the next text message; any other close is [`DevtoolsError::Closed`].
    pub async fn next_text(
        &mut self,
        received: &(dyn Fn() -> u64 + Sync),
    ) -> Result<Utf8Bytes, DevtoolsError> {
        loop {
            match self.ws.next().await {
                Some(Ok(Message::Text(t))) => return Ok(t),
                Some(Ok(
                    Message::Binary(_) | Message::Ping(_) | Message::Pong(_) | Message::Frame(_),
                )) => {}
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                    return Err(DevtoolsError::Closed {
                        url: self.url.clone(),
                        bytes: received(),
                    })
                }
            }
        }
    }

    /// Waits `duration` while a profiler runs, reading (and dropping) events: a connection closed
    /// meanwhile fails at once, not after the wait.
    pub async fn wait(&mut self, duration: Duration) -> Result<(), DevtoolsError> {
        let none = || 0;
        let sleep = tokio::time::sleep(duration);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                _ = &mut sleep => return Ok(()),
                msg = self.next_text(&none) => { msg?; }
            }
        }
    }

    /// Closes the connection, waiting at most [`ANSWER_SILENCE`] for the peer.
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(ANSWER_SILENCE, self.ws.close(None)).await;
    }
}

/// `(method, params)` of a message shaped as V8 writes events, `{"method":"..","params":{..}}`;
/// None for anything else (answers, or another layout), which then takes the general path.
fn split_event(text: &str) -> Option<(&str, &str)> {
    let rest = text.strip_prefix("{\"method\":\"")?;
    let end = rest.find('"')?;
    let (method, rest) = rest.split_at(end);
    let params = rest.strip_prefix("\",\"params\":")?.strip_suffix('}')?;
    Some((method, params))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A peer on the loopback that answers the first command after sending `events` (method names),
    /// one every `every`; with `answer` false it never answers.
    async fn peer(events: Vec<&'static str>, every: Duration, answer: bool) -> Session {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
            let Some(Ok(Message::Text(command))) = ws.next().await else {
                return;
            };
            let id = serde_json::from_str::<serde_json::Value>(&command).unwrap()["id"].clone();
            for event in events {
                tokio::time::sleep(every).await;
                let text = serde_json::json!({ "method": event, "params": {} }).to_string();
                if ws.send(Message::text(text)).await.is_err() {
                    return;
                }
            }
            if answer {
                let text = serde_json::json!({ "id": id, "result": { "ok": true } }).to_string();
                let _ = ws.send(Message::text(text)).await;
            }
            // Held open until the client goes.
            while let Some(Ok(_)) = ws.next().await {}
        });
        Session::open(Endpoint::v4(port), "target", LIMITS)
            .await
            .unwrap()
    }

    const LIMITS: Limits = Limits {
        max_message_bytes: 1 << 20,
    };

    async fn call(session: &mut Session, wait: Wait<'_>) -> Result<String, DevtoolsError> {
        let mut seen = |_: &str, _: &str| Ok(());
        let none = || 0;
        let answer = session
            .call_with(
                "Test.command",
                serde_json::json!({}),
                wait,
                &mut seen,
                &none,
            )
            .await?;
        Ok(answer.get().to_owned())
    }

    const PROGRESS: &str = "Test.progress";

    #[tokio::test]
    async fn only_the_commands_own_progress_events_move_its_deadline() {
        let wait = Wait {
            first: Duration::from_secs(2),
            then: Duration::from_secs(2),
            progress: &[PROGRESS],
        };
        let every = Duration::from_millis(100);
        // 4 s of progress, one report every 100 ms: each moves the 2 s deadline on.
        let mut s = peer(vec![PROGRESS; 40], every, true).await;
        assert_eq!(call(&mut s, wait).await.unwrap(), r#"{"ok":true}"#);
        // 4 s of other events, as often, then the answer: too late, the deadline stood.
        let mut s = peer(vec!["Test.other"; 40], every, true).await;
        let err = call(&mut s, wait).await.unwrap_err();
        assert!(
            matches!(err, DevtoolsError::Silent { secs: 2, .. }),
            "{err}"
        );
        // Progress events of a command that lists none do not move it either.
        let mut s = peer(vec![PROGRESS; 40], every, true).await;
        let none = Wait {
            progress: &[],
            ..wait
        };
        let err = call(&mut s, none).await.unwrap_err();
        assert!(
            matches!(err, DevtoolsError::Silent { secs: 2, .. }),
            "{err}"
        );
    }

    #[test]
    fn events_split_without_parsing() {
        assert_eq!(
            split_event(
                r#"{"method":"HeapProfiler.addHeapSnapshotChunk","params":{"chunk":"{\"a\":1}"}}"#
            ),
            Some((
                "HeapProfiler.addHeapSnapshotChunk",
                r#"{"chunk":"{\"a\":1}"}"#
            ))
        );
        assert_eq!(split_event(r#"{"id":3,"result":{}}"#), None);
        assert_eq!(split_event(r#"{"method":"X"}"#), None);
    }
}
