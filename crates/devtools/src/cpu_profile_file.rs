//! Writing a `.cpuprofile`: checked to be a complete profile (the shape Chrome DevTools loads), then
//! written with the atomic-file rules. Used by the DevTools and the in-process paths of the addon,
//! and by the command line (which may stream a checked profile to its stdout instead).

use std::path::Path;

use oom_heapdump_capture::{AtomicFile, CaptureError, Landed, Landing};
use serde::de::IgnoredAny;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Profile {
    nodes: Vec<IgnoredAny>,
    start_time: f64,
    end_time: f64,
    samples: Vec<u64>,
    time_deltas: Vec<f64>,
}

#[derive(Debug, thiserror::Error)]
pub enum CpuProfileError {
    #[error("CPU profile is not complete: {0}")]
    Incomplete(String),
    #[error(transparent)]
    Capture(#[from] CaptureError),
}

/// Checks `json` is a complete CPU profile, writes it to `final_path`; returns which file landed
/// where, and how big.
pub fn write(final_path: &Path, json: &[u8]) -> Result<(Landed, u64), CpuProfileError> {
    check(json)?;
    let mut file = AtomicFile::create(final_path)?;
    file.write_all(json)?;
    let len = file.len();
    Ok((file.land(Landing::Replace)?, len))
}

/// Checks that `json` is a complete CPU profile: nodes, as many samples as time deltas, a start
/// before the end.
pub fn check(json: &[u8]) -> Result<(), CpuProfileError> {
    let p: Profile =
        serde_json::from_slice(json).map_err(|e| CpuProfileError::Incomplete(e.to_string()))?;
    if p.nodes.is_empty() {
        return Err(CpuProfileError::Incomplete("no nodes".into()));
    }
    if p.samples.len() != p.time_deltas.len() {
        return Err(CpuProfileError::Incomplete(format!(
            "{} samples but {} timeDeltas",
            p.samples.len(),
            p.time_deltas.len()
        )));
    }
    if p.start_time > p.end_time {
        return Err(CpuProfileError::Incomplete(
            "startTime is after endTime".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incomplete_profiles_are_refused_and_leave_nothing() {
        let dir = std::env::temp_dir().join(format!("ohd-cpu-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let target = dir.join("p.cpuprofile");
        for (bad, why) in [
            (
                &br#"{"nodes":[],"startTime":1,"endTime":2,"samples":[],"timeDeltas":[]}"#[..],
                "no nodes",
            ),
            (
                br#"{"nodes":[{}],"startTime":1,"endTime":2,"samples":[1],"timeDeltas":[]}"#,
                "1 samples but 0 timeDeltas",
            ),
            (
                br#"{"nodes":[{}],"startTime":3,"endTime":2,"samples":[],"timeDeltas":[]}"#,
                "startTime is after endTime",
            ),
            (br#"{"nodes":[{}],"startTime":1"#, "EOF"),
        ] {
            let err = write(&target, bad).unwrap_err().to_string();
            assert!(err.contains(why), "{err}");
        }
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        let good =
            br#"{"nodes":[{"id":1}],"startTime":1,"endTime":2,"samples":[1],"timeDeltas":[5]}"#;
        let (landed, len) = write(&target, good).unwrap();
        assert_eq!((landed.path, len), (target.clone(), good.len() as u64));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
