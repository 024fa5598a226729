//! V8's sampling heap profiler over a window (`HeapProfiler.startSampling`, then after the duration
//! `stopSampling`, whose answer carries the profile): the production-safe view of what allocates,
//! costing almost nothing where a snapshot costs many times the heap. The profile is checked
//! (a tree of allocation sites, every sample pointing into it) and written as `.heapprofile`, the
//! file Chrome DevTools' Memory panel loads.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use oom_heapdump_capture::{AtomicFile, CaptureError, Landing};
use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::json;

use crate::client::{Limits, Session};
use crate::window::Window;
use crate::DevtoolsError;

/// Largest message of a heap profile session: `stopSampling` answers with the whole tree of
/// allocation sites in one message, a few hundred bytes per site.
pub const MAX_MESSAGE_BYTES: usize = 1 << 30;
/// Deepest allocation-site tree accepted (a JavaScript stack is at most some ten thousand frames).
const MAX_DEPTH: usize = 100_000;

/// What a heap profile session accepts.
pub const LIMITS: Limits = Limits {
    max_message_bytes: MAX_MESSAGE_BYTES,
};

#[derive(Debug, thiserror::Error)]
pub enum HeapProfileError {
    #[error("heap profile is not complete: {0}")]
    Incomplete(String),
    #[error(transparent)]
    Capture(#[from] CaptureError),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Node {
    id: u64,
    #[allow(dead_code)]
    call_frame: IgnoredAny,
    #[allow(dead_code)]
    self_size: f64,
    children: Vec<Node>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Sample {
    size: f64,
    node_id: u64,
}

#[derive(Deserialize)]
struct Profile {
    head: Node,
    samples: Vec<Sample>,
}

/// Samples the heap over an open session (opened with [`LIMITS`]) for `duration`, one sample per
/// `interval_bytes` allocated on average; returns the profile's JSON text, not yet checked.
pub async fn record_on(
    session: &mut Session,
    duration: Duration,
    interval_bytes: u64,
) -> Result<String, DevtoolsError> {
    Window {
        start: &[
            ("HeapProfiler.enable", json!({})),
            (
                "HeapProfiler.startSampling",
                json!({ "samplingInterval": interval_bytes }),
            ),
        ],
        stop: "HeapProfiler.stopSampling",
        disable: "HeapProfiler.disable",
    }
    .record(session, duration)
    .await
}

/// What a checked heap profile holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeapProfileSummary {
    pub nodes: u64,
    pub samples: u64,
    /// Samples taken while V8 serialized the profile, of sites the tree does not hold yet.
    pub newer_than_tree: u64,
}

/// Checks that `json` is a complete sampling heap profile: a tree of allocation sites with unique
/// ids, and samples that each point at one of them. Runs on a thread with a large stack, as the
/// tree is as deep as the deepest allocating stack.
pub fn check(json: &[u8]) -> Result<HeapProfileSummary, HeapProfileError> {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("ohd-heapprofile-check".into())
            .stack_size(512 << 20)
            .spawn_scoped(s, || check_here(json))
            .map_err(|e| HeapProfileError::Incomplete(format!("cannot start the check: {e}")))?
            .join()
            .unwrap_or_else(|_| Err(HeapProfileError::Incomplete("the check failed".into())))
    })
}

fn check_here(json: &[u8]) -> Result<HeapProfileSummary, HeapProfileError> {
    let incomplete = HeapProfileError::Incomplete;
    // The tree is parsed (and dropped) recursively: its nesting is bounded first, so that a peer's
    // answer nested millions deep is an error, not an overflow of this thread's stack.
    let most = 2 * MAX_DEPTH + 8;
    if nesting(json) > most {
        return Err(incomplete(format!(
            "JSON nested deeper than {most} levels (a tree deeper than {MAX_DEPTH})"
        )));
    }
    let mut de = serde_json::Deserializer::from_slice(json);
    de.disable_recursion_limit();
    let profile = Profile::deserialize(&mut de).map_err(|e| incomplete(e.to_string()))?;
    de.end().map_err(|e| incomplete(e.to_string()))?;
    let mut ids = HashSet::new();
    let mut stack = vec![(&profile.head, 0usize)];
    while let Some((node, depth)) = stack.pop() {
        if depth > MAX_DEPTH {
            return Err(incomplete(format!("tree deeper than {MAX_DEPTH}")));
        }
        if !ids.insert(node.id) {
            return Err(incomplete(format!("node id {} appears twice", node.id)));
        }
        stack.extend(node.children.iter().map(|c| (c, depth + 1)));
    }
    // V8 builds the tree, then lists the samples, while the sampler still runs: a sample taken in
    // between (V8 allocating to serialize the profile) may point at a site newer than the tree, so
    // with an id above every id in it. Any other missing id is a broken profile.
    let newest = ids.iter().copied().max().unwrap_or(0);
    let mut newer = 0;
    for s in &profile.samples {
        if !ids.contains(&s.node_id) {
            if s.node_id <= newest {
                return Err(incomplete(format!(
                    "a sample points at node {}, which is not in the tree",
                    s.node_id
                )));
            }
            newer += 1;
        }
        if s.size.is_nan() || s.size <= 0.0 {
            return Err(incomplete(format!("a sample has size {}", s.size)));
        }
    }
    Ok(HeapProfileSummary {
        nodes: ids.len() as u64,
        samples: profile.samples.len() as u64,
        newer_than_tree: newer,
    })
}

/// Checks `json` (see [`check`]) and writes it to `final_path`; returns where, how big, and what
/// it holds.
pub fn write(
    final_path: &Path,
    json: &[u8],
) -> Result<(PathBuf, u64, HeapProfileSummary), HeapProfileError> {
    let summary = check(json)?;
    let mut file = AtomicFile::create(final_path)?;
    file.write_all(json)?;
    let len = file.len();
    Ok((file.commit(Landing::Replace)?, len, summary))
}

/// The deepest nesting of arrays and objects in `json` (strings skipped), in one pass.
fn nesting(json: &[u8]) -> usize {
    let (mut depth, mut most) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &b in json {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                most = most.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    most
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tree_nested_millions_deep_is_an_error_not_a_stack_overflow() {
        const LEVELS: usize = 3_000_000;
        let mut json = String::from(r#"{"head":"#);
        json.push_str(&r#"{"children":["#.repeat(LEVELS));
        json.push_str(&"]}".repeat(LEVELS));
        json.push_str(r#","samples":[]}"#);
        let err = check(json.as_bytes()).unwrap_err().to_string();
        assert!(
            err.contains("JSON nested deeper than 200008 levels"),
            "{err}"
        );
        assert_eq!(nesting(br#"{"a":"[[[{\"","b":[[]]}"#), 3);
    }

    fn node(id: u64, children: &str) -> String {
        format!(
            r#"{{"callFrame":{{"functionName":"f"}},"selfSize":8,"id":{id},"children":[{children}]}}"#
        )
    }

    #[test]
    fn profiles_are_checked() {
        let tree = node(1, &node(2, &node(3, "")));
        let good = format!(r#"{{"head":{tree},"samples":[{{"size":64,"nodeId":3,"ordinal":1}}]}}"#);
        assert_eq!(
            check(good.as_bytes()).unwrap(),
            HeapProfileSummary {
                nodes: 3,
                samples: 1,
                newer_than_tree: 0
            }
        );
        let newer = format!(r#"{{"head":{tree},"samples":[{{"size":64,"nodeId":9}}]}}"#);
        assert_eq!(check(newer.as_bytes()).unwrap().newer_than_tree, 1);
        let tree = node(1, &node(2, &node(4, "")));
        let dangling = format!(r#"{{"head":{tree},"samples":[{{"size":64,"nodeId":3}}]}}"#);
        assert!(check(dangling.as_bytes())
            .unwrap_err()
            .to_string()
            .contains("node 3"));
        let twice = format!(r#"{{"head":{},"samples":[]}}"#, node(1, &node(1, "")));
        assert!(check(twice.as_bytes())
            .unwrap_err()
            .to_string()
            .contains("twice"));
        assert!(check(&good.as_bytes()[..good.len() - 3]).is_err());
        assert!(check(br#"{"samples":[]}"#).is_err());
    }

    #[test]
    fn deep_trees_are_read() {
        let mut tree = node(0, "");
        for id in 1..20_000 {
            tree = node(id, &tree);
        }
        let deep = format!(r#"{{"head":{tree},"samples":[]}}"#);
        assert_eq!(check(deep.as_bytes()).unwrap().nodes, 20_000);
    }
}
