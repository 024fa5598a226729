//! A CPU profile over the websocket: `Profiler.enable`, `setSamplingInterval`, `start`, then after
//! the duration `stop`, whose answer carries the profile; it is checked and written atomically.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_json::json;
use serde_json::value::RawValue;

use super::client::{Limits, Session, ANSWER_SILENCE};
use super::DevtoolsError;
use crate::on_request::cpu_profile_file;
use crate::on_request::transport::Endpoint;

/// Largest message of a CPU profile session: `Profiler.stop` answers with the whole profile in one
/// message, about 10 bytes per sample (an hour at 100 µs is some 400 MB), so the bound is generous.
pub const MAX_MESSAGE_BYTES: usize = 1 << 30;
/// Silence allowed while V8 stops the profiler and serializes the profile.
pub const STOP_SILENCE: Duration = Duration::from_secs(60);

#[derive(Deserialize)]
struct Stopped<'a> {
    #[serde(borrow)]
    profile: &'a RawValue,
}

pub async fn record(
    at: Endpoint,
    own_id: Option<&str>,
    final_path: &Path,
    duration: Duration,
    sampling_interval_us: u32,
) -> Result<(PathBuf, u64), DevtoolsError> {
    let limits = Limits {
        max_message_bytes: MAX_MESSAGE_BYTES,
    };
    let mut session = Session::connect(at, own_id, limits).await?;
    let mut ignore = |_: &str, _: &str| Ok(());
    let none = || 0;
    session
        .call(
            "Profiler.enable",
            json!({}),
            ANSWER_SILENCE,
            &mut ignore,
            &none,
        )
        .await?;
    session
        .call(
            "Profiler.setSamplingInterval",
            json!({ "interval": sampling_interval_us }),
            ANSWER_SILENCE,
            &mut ignore,
            &none,
        )
        .await?;
    session
        .call(
            "Profiler.start",
            json!({}),
            ANSWER_SILENCE,
            &mut ignore,
            &none,
        )
        .await?;
    // While the profile runs, a closed connection must fail the capture at once, not after the wait.
    let sleep = tokio::time::sleep(duration);
    tokio::pin!(sleep);
    loop {
        tokio::select! {
            _ = &mut sleep => break,
            msg = session.next_text(&none) => { msg?; }
        }
    }
    let stopped = session
        .call("Profiler.stop", json!({}), STOP_SILENCE, &mut ignore, &none)
        .await?;
    let _ = session
        .call(
            "Profiler.disable",
            json!({}),
            ANSWER_SILENCE,
            &mut ignore,
            &none,
        )
        .await;
    session.close().await;
    let stopped: Stopped = serde_json::from_str(stopped.get())
        .map_err(|e| DevtoolsError::BadMessage(format!("Profiler.stop: {e}")))?;
    Ok(cpu_profile_file::write(
        final_path,
        stopped.profile.get().as_bytes(),
    )?)
}
