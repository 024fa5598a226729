//! A CPU profile over the websocket: `Profiler.enable`, `setSamplingInterval`, `start`, then after
//! the duration `stop`, whose answer carries the profile; it is checked and written atomically.

use oom_heapdump_capture::Landed;
use std::path::Path;
use std::time::Duration;

use serde_json::json;

use crate::client::{Limits, Session};
use crate::window::Window;
use crate::{cpu_profile_file, DevtoolsError, Endpoint};

/// Largest message of a CPU profile session: `Profiler.stop` answers with the whole profile in one
/// message, about 10 bytes per sample (an hour at 100 µs is some 400 MB), so the bound is generous.
pub const MAX_MESSAGE_BYTES: usize = 1 << 30;

/// What a CPU profile session accepts.
pub const LIMITS: Limits = Limits {
    max_message_bytes: MAX_MESSAGE_BYTES,
};

/// Records a profile of target `own_id` at `at` and writes it to `final_path`.
pub async fn record(
    at: Endpoint,
    own_id: Option<&str>,
    final_path: &Path,
    duration: Duration,
    sampling_interval_us: u32,
) -> Result<(Landed, u64), DevtoolsError> {
    let mut session = Session::connect(at, own_id, LIMITS).await?;
    let json = record_on(&mut session, duration, sampling_interval_us).await?;
    session.close().await;
    Ok(cpu_profile_file::write(final_path, json.as_bytes())?)
}

/// Records a profile over an open session (opened with [`LIMITS`]); returns the profile's JSON
/// text, not yet checked.
pub async fn record_on(
    session: &mut Session,
    duration: Duration,
    sampling_interval_us: u32,
) -> Result<String, DevtoolsError> {
    Window {
        start: &[
            ("Profiler.enable", json!({})),
            (
                "Profiler.setSamplingInterval",
                json!({ "interval": sampling_interval_us }),
            ),
            ("Profiler.start", json!({})),
        ],
        stop: "Profiler.stop",
        disable: "Profiler.disable",
    }
    .record(session, duration)
    .await
}
