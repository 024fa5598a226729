//! V8's CPU profile (`.cpuprofile`, as `node --cpu-prof`, Chrome DevTools and this package's
//! on-request captures write it) as a pprof profile.
//!
//! The profile lists call-tree `nodes` (id, call frame, children's ids), then `samples[]` (the
//! node on top of the stack at each tick) and `timeDeltas[]` (microseconds since the previous
//! tick, the first since `startTime`). Each node that was sampled becomes one pprof sample, its
//! stack from the node up to (not including) V8's `(root)`, with two values:
//!
//! - `samples/count`: how many ticks found it on top.
//! - `cpu/nanoseconds`: the sum of those ticks' `timeDeltas`, the time each tick stands for
//!   (V8 may record a tick out of order, with a negative delta: counted as 0).
//!
//! `duration_nanos` is `endTime - startTime`; `period` the median interval between ticks (the
//! sampling interval is not in the file).

use std::collections::HashMap;

use serde::Deserialize;

use crate::encode::{Builder, Profile};
use crate::heap::frame;
use crate::input::CallFrame;
use crate::Totals;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CpuNode {
    pub id: u64,
    pub call_frame: CallFrame,
    #[serde(default)]
    pub children: Vec<u64>,
    /// Some writers give the parent instead of (or as well as) the children.
    pub parent: Option<u64>,
}

/// A CPU profile, read.
pub struct CpuProfile {
    nodes: Vec<CpuNode>,
    /// Parent index per node (None: a root).
    parents: Vec<Option<usize>>,
    /// Ticks and microseconds per node index.
    ticks: Vec<u64>,
    micros: Vec<u64>,
    samples: usize,
    duration_micros: f64,
    period_micros: u64,
}

impl CpuProfile {
    /// The profile from its parts; Err says what is wrong.
    pub fn new(
        nodes: Vec<CpuNode>,
        samples: Option<Vec<u64>>,
        time_deltas: Option<Vec<i64>>,
        start_time: Option<f64>,
        end_time: Option<f64>,
    ) -> Result<CpuProfile, String> {
        let (Some(samples), Some(deltas)) = (samples, time_deltas) else {
            return Err("it has no samples and timeDeltas".into());
        };
        if samples.len() != deltas.len() {
            return Err(format!(
                "it has {} samples but {} timeDeltas",
                samples.len(),
                deltas.len()
            ));
        }
        let (Some(start), Some(end)) = (start_time, end_time) else {
            return Err("it has no startTime and endTime".into());
        };
        let index: HashMap<u64, usize> = nodes.iter().enumerate().map(|(i, n)| (n.id, i)).collect();
        if index.len() != nodes.len() {
            return Err("two of its nodes have the same id".into());
        }
        let node_of = |id: u64, what: &str| {
            index
                .get(&id)
                .copied()
                .ok_or_else(|| format!("{what} names node {id}, which is not in its nodes"))
        };
        let mut parents = vec![None; nodes.len()];
        for (i, n) in nodes.iter().enumerate() {
            for &c in &n.children {
                parents[node_of(c, "a node's children")?] = Some(i);
            }
            if let Some(p) = n.parent {
                parents[i] = Some(node_of(p, "a node's parent")?);
            }
        }
        let (mut ticks, mut micros) = (vec![0u64; nodes.len()], vec![0u64; nodes.len()]);
        for (&id, &delta) in samples.iter().zip(&deltas) {
            let i = node_of(id, "a sample")?;
            ticks[i] += 1;
            micros[i] += delta.max(0) as u64;
        }
        let mut intervals: Vec<i64> = deltas.iter().skip(1).copied().filter(|&d| d > 0).collect();
        intervals.sort_unstable();
        Ok(CpuProfile {
            parents,
            ticks,
            micros,
            samples: samples.len(),
            duration_micros: (end - start).max(0.0),
            period_micros: intervals.get(intervals.len() / 2).map_or(0, |&d| d as u64),
            nodes,
        })
    }

    /// How long it covers, in nanoseconds.
    pub fn duration_nanos(&self) -> i64 {
        (self.duration_micros * 1000.0) as i64
    }

    /// The pprof profile (`time_nanos`: when it started, 0 if unknown) and its totals per sample
    /// type.
    pub fn to_pprof(&self, time_nanos: i64) -> Result<(Profile, Totals), String> {
        let types = [("samples", "count"), ("cpu", "nanoseconds")];
        let mut b = Builder::new(&types);
        let mut locations: Vec<Option<u64>> = vec![None; self.nodes.len()];
        let mut totals = [0i64; 2];
        for at in (0..self.nodes.len()).filter(|&i| self.ticks[i] > 0) {
            let mut stack = Vec::new();
            let mut cur = Some(at);
            while let Some(i) = cur {
                // A parent chain longer than the node list has a cycle.
                if stack.len() > self.nodes.len() {
                    return Err("its nodes' parents form a cycle".into());
                }
                cur = self.parents[i];
                if cur.is_none() && self.nodes[i].call_frame.function_name == "(root)" {
                    break;
                }
                let id = *locations[i]
                    .get_or_insert_with(|| b.location(&frame(&self.nodes[i].call_frame)));
                stack.push(id);
            }
            let value = [self.ticks[at] as i64, self.micros[at] as i64 * 1000];
            totals[0] += value[0];
            totals[1] += value[1];
            b.sample(stack, value.to_vec());
        }
        debug_assert_eq!(totals[0] as usize, self.samples);
        b.period("cpu", "nanoseconds", self.period_micros as i64 * 1000);
        b.time(time_nanos, self.duration_nanos());
        let totals = types
            .iter()
            .zip(totals)
            .map(|((t, u), v)| (format!("{t}/{u}"), v))
            .collect();
        Ok((b.finish(), totals))
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::encode::Profile;
    use crate::input::{parse, Parsed};

    fn cpu(json: &str) -> Result<(Profile, crate::Totals), String> {
        match parse(Path::new("t.cpuprofile"), json.as_bytes()).map_err(|e| e.to_string())? {
            Parsed::Cpu(c) => c.to_pprof(0),
            Parsed::Heap(_) => panic!("read as a heap profile"),
        }
    }

    fn frame(name: &str, line: i64) -> String {
        format!(
            r#"{{"functionName":"{name}","scriptId":"3","url":"file:///w.js","lineNumber":{line},"columnNumber":0}}"#
        )
    }

    fn profile(samples: &str, deltas: &str) -> String {
        format!(
            r#"{{"nodes":[{{"id":1,"callFrame":{},"children":[2,4]}},{{"id":2,"callFrame":{},"children":[3]}},{{"id":3,"callFrame":{},"hitCount":2}},{{"id":4,"callFrame":{}}}],"startTime":1000,"endTime":9000,"samples":[{samples}],"timeDeltas":[{deltas}]}}"#,
            frame("(root)", -1),
            frame("main", 0),
            frame("spin", 4),
            frame("(idle)", -1)
        )
    }

    #[test]
    fn ticks_and_their_time_per_node_with_stacks_leaf_first() {
        let (p, totals) = cpu(&profile("3,3,4,2", "100,1000,1000,1000")).unwrap();
        assert_eq!(
            totals,
            [
                ("samples/count".into(), 4),
                ("cpu/nanoseconds".into(), 3_100_000)
            ]
        );
        let values: Vec<&[i64]> = p.sample.iter().map(|s| s.value.as_slice()).collect();
        assert_eq!(
            values,
            [&[1, 1_000_000][..], &[2, 1_100_000], &[1, 1_000_000]]
        );
        let spin = &p.sample[1];
        let names: Vec<&str> = spin
            .location_id
            .iter()
            .map(|&l| {
                let f = p.location[l as usize - 1].line[0].function_id;
                p.string_table[p.function[f as usize - 1].name as usize].as_str()
            })
            .collect();
        assert_eq!(names, ["spin", "main"]);
        assert_eq!(p.duration_nanos, 8_000_000);
        assert_eq!(p.period, 1_000_000, "median interval");
        let spin_line = p.location[spin.location_id[0] as usize - 1].line[0];
        assert_eq!(spin_line.line, 5, "1-based");
    }

    #[test]
    fn negative_deltas_count_as_zero_and_bad_profiles_are_named() {
        let (_, totals) = cpu(&profile("3,2", "50,-20")).unwrap();
        assert_eq!(totals[1].1, 50_000);
        assert_eq!(
            cpu(&profile("3,9", "1,1")).unwrap_err(),
            r#""t.cpuprofile" is not a valid CPU profile: a sample names node 9, which is not in its nodes"#
        );
        assert!(cpu(&profile("3,3", "1"))
            .unwrap_err()
            .ends_with("it has 2 samples but 1 timeDeltas"));
        let looped = r#"{"nodes":[{"id":1,"callFrame":{},"children":[2]},{"id":2,"callFrame":{},"children":[1]}],"startTime":0,"endTime":1,"samples":[2],"timeDeltas":[1]}"#;
        assert!(cpu(looped).unwrap_err().ends_with("form a cycle"));
    }
}
