//! A profiler run over a window of time, the shape CPU profiles (`Profiler.*`) and sampling heap
//! profiles (`HeapProfiler.*Sampling`) share: the commands that start it, a wait during which a
//! closed connection fails at once, then the command whose answer carries `profile`, and the
//! domain's `disable` (best effort: the profile is already in hand).

use std::time::Duration;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::client::{Session, ANSWER_SILENCE};
use crate::DevtoolsError;

/// Silence allowed while V8 stops a profiler and serializes its profile.
pub const STOP_SILENCE: Duration = Duration::from_secs(60);

/// One profiler's commands.
pub(crate) struct Window<'a> {
    /// Sent in order, each answered before the next (`enable`, settings, `start`).
    pub start: &'a [(&'a str, Value)],
    /// Answers with `{ "profile": ... }`.
    pub stop: &'a str,
    /// Sent last; its failure is ignored.
    pub disable: &'a str,
}

#[derive(Deserialize)]
struct Stopped<'a> {
    #[serde(borrow)]
    profile: &'a RawValue,
}

impl Window<'_> {
    /// Runs the window on an open session; returns the profile's JSON text, not yet checked.
    pub(crate) async fn record(
        &self,
        session: &mut Session,
        duration: Duration,
    ) -> Result<String, DevtoolsError> {
        let mut ignore = |_: &str, _: &str| Ok(());
        let none = || 0;
        for (method, params) in self.start {
            session
                .call(method, params.clone(), ANSWER_SILENCE, &mut ignore, &none)
                .await?;
        }
        session.wait(duration).await?;
        let stopped = session
            .call(
                self.stop,
                serde_json::json!({}),
                STOP_SILENCE,
                &mut ignore,
                &none,
            )
            .await?;
        let _ = session
            .call(
                self.disable,
                serde_json::json!({}),
                ANSWER_SILENCE,
                &mut ignore,
                &none,
            )
            .await;
        let stopped: Stopped = serde_json::from_str(stopped.get())
            .map_err(|e| DevtoolsError::BadMessage(format!("{}: {e}", self.stop)))?;
        Ok(stopped.profile.get().to_owned())
    }
}
