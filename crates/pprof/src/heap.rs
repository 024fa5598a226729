//! V8's sampling heap profile (`.heapprofile`, as Chrome DevTools' Memory tab, `node --heap-prof`
//! and this package write it) as a pprof profile.
//!
//! The profile is a tree of call frames (`head`), each node with the live bytes V8 attributes to
//! allocations made there (`selfSize`, already scaled by V8 from the sampled allocations to an
//! estimate of all of them), and `samples[]`, one per sampled allocation still alive, naming its
//! node. Each node with bytes or samples becomes one pprof sample, its stack from the node up to
//! (not including) V8's `(root)`, with two values:
//!
//! - `space/bytes`: the node's `selfSize`, so pprof's total is the profile's total.
//! - `objects/count`: how many of `samples[]` name the node: the sampled allocations, not an
//!   estimate of every object (V8's scaling per allocation size is not in the file). A profile
//!   without `samples[]` (older DevTools exports) gives `space/bytes` only: sizes alone do not
//!   tell how many objects there were.
//!
//! V8 builds the tree and the samples one after the other, so allocations in between can leave a
//! sample naming a node that is not in the tree (`node --heap-prof` files have them): such samples
//! are not counted, and the profile's comments and the summary say how many.
//!
//! `period` is the sampling interval in bytes when the file says it (`samplingInterval`, which
//! this package adds to the files it writes), else unset.

use std::collections::HashMap;

use serde::Deserialize;

use crate::encode::{Builder, Frame, Profile};
use crate::input::CallFrame;
use crate::Totals;

#[derive(Debug, Default)]
pub struct HeapNode {
    pub frame: CallFrame,
    pub self_size: u64,
    pub id: u64,
    /// Indices into the node list.
    pub children: Vec<usize>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HeapSample {
    /// The sampled allocation's bytes, scaled by V8.
    pub size: u64,
    pub node_id: u64,
}

/// A sampling heap profile, read.
pub struct HeapProfile {
    /// Each node after its children; the root last.
    nodes: Vec<HeapNode>,
    /// Samples per node index; None when the file has no `samples`.
    counts: Option<Vec<u64>>,
    /// Samples naming a node not in the tree.
    unmatched: usize,
    sampling_interval: Option<u64>,
}

impl HeapProfile {
    /// The profile from its flattened tree (root last, as read); Err says what is wrong.
    pub fn new(
        nodes: Vec<HeapNode>,
        samples: Option<Vec<HeapSample>>,
        sampling_interval: Option<u64>,
    ) -> Result<HeapProfile, String> {
        if nodes.is_empty() {
            return Err("its head is empty".into());
        }
        let mut unmatched = 0;
        let counts = match samples {
            None => None,
            Some(samples) => {
                let index: HashMap<u64, usize> =
                    nodes.iter().enumerate().map(|(i, n)| (n.id, i)).collect();
                if index.len() != nodes.len() {
                    return Err("two of its nodes have the same id".into());
                }
                let mut counts = vec![0u64; nodes.len()];
                for s in &samples {
                    match index.get(&s.node_id) {
                        Some(&i) => counts[i] += 1,
                        None => unmatched += 1,
                    }
                }
                Some(counts)
            }
        };
        Ok(HeapProfile {
            nodes,
            counts,
            unmatched,
            sampling_interval,
        })
    }

    /// What the pprof profile leaves out, for the summary.
    pub fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        if self.unmatched > 0 {
            notes.push(format!(
                "{} sample(s) named a node not in the tree and are not counted",
                self.unmatched
            ));
        }
        if self.counts.is_none() {
            notes.push("no samples in the profile: space/bytes only".into());
        }
        notes
    }

    /// The pprof profile (`time_nanos`: when it was taken, 0 if unknown) and its totals per
    /// sample type.
    pub fn to_pprof(&self, time_nanos: i64) -> (Profile, Totals) {
        let types: &[(&str, &str)] = if self.counts.is_some() {
            &[("objects", "count"), ("space", "bytes")]
        } else {
            &[("space", "bytes")]
        };
        let mut b = Builder::new(types);
        let mut totals = vec![0i64; types.len()];
        // Depth first from the root, without recursion: the path holds the location ids from
        // the root's first child down to the node.
        let root = self.nodes.len() - 1;
        let mut path: Vec<u64> = Vec::new();
        let mut stack: Vec<(usize, usize)> = self.nodes[root]
            .children
            .iter()
            .rev()
            .map(|&c| (c, 0))
            .collect();
        while let Some((at, depth)) = stack.pop() {
            let node = &self.nodes[at];
            path.truncate(depth);
            path.push(b.location(&frame(&node.frame)));
            let count = self.counts.as_ref().map(|c| c[at]);
            if node.self_size > 0 || count.is_some_and(|c| c > 0) {
                let mut value: Vec<i64> = count.map(|c| c as i64).into_iter().collect();
                value.push(node.self_size as i64);
                for (t, v) in totals.iter_mut().zip(&value) {
                    *t += v;
                }
                b.sample(path.iter().rev().copied().collect(), value);
            }
            stack.extend(node.children.iter().rev().map(|&c| (c, depth + 1)));
        }
        if let Some(interval) = self.sampling_interval {
            b.period("space", "bytes", interval as i64);
        }
        b.time(time_nanos, 0);
        for note in self.notes() {
            b.comment(&note);
        }
        let totals = types
            .iter()
            .zip(totals)
            .map(|((t, u), v)| (format!("{t}/{u}"), v))
            .collect();
        (b.finish(), totals)
    }
}

pub(crate) fn frame(c: &CallFrame) -> Frame<'_> {
    Frame {
        function_name: &c.function_name,
        url: &c.url,
        line: c.line_number,
        column: c.column_number,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::encode::Profile;
    use crate::input::{parse, Parsed};

    fn heap(json: &str) -> Result<(Profile, crate::Totals), crate::Error> {
        match parse(Path::new("t.heapprofile"), json.as_bytes())? {
            Parsed::Heap(h) => Ok(h.to_pprof(0)),
            Parsed::Cpu(_) => panic!("read as a CPU profile"),
        }
    }

    fn node(id: u64, name: &str, line: i64, self_size: u64, children: &str) -> String {
        format!(
            r#"{{"callFrame":{{"functionName":"{name}","scriptId":"1","url":"file:///a.js","lineNumber":{line},"columnNumber":4}},"selfSize":{self_size},"id":{id},"children":[{children}]}}"#
        )
    }

    fn names(p: &Profile, stack: &[u64]) -> Vec<String> {
        stack
            .iter()
            .map(|&l| {
                let loc = &p.location[l as usize - 1];
                let f = &p.function[loc.line[0].function_id as usize - 1];
                p.string_table[f.name as usize].clone()
            })
            .collect()
    }

    #[test]
    fn nodes_with_bytes_become_samples_with_their_stacks_leaf_first() {
        let leaf = node(3, "grow", 9, 3000, "");
        let mid = node(2, "", 1, 1000, &leaf);
        let other = node(4, "idle", 20, 0, "");
        let root = node(1, "(root)", -1, 0, &format!("{mid},{other}"));
        let json = format!(
            r#"{{"head":{root},"samples":[{{"size":1000,"nodeId":2,"ordinal":1}},{{"size":1500,"nodeId":3,"ordinal":2}},{{"size":1500,"nodeId":3,"ordinal":3}}],"samplingInterval":32768}}"#
        );
        let (p, totals) = heap(&json).unwrap();
        assert_eq!(
            totals,
            [("objects/count".into(), 3), ("space/bytes".into(), 4000)]
        );
        assert_eq!(p.sample.len(), 2, "the node without bytes is left out");
        assert_eq!(names(&p, &p.sample[0].location_id), ["(anonymous)"]);
        assert_eq!(p.sample[0].value, [1, 1000]);
        assert_eq!(names(&p, &p.sample[1].location_id), ["grow", "(anonymous)"]);
        assert_eq!(p.sample[1].value, [2, 3000]);
        assert_eq!(p.period, 32768);
        let grow = &p.location[p.sample[1].location_id[0] as usize - 1].line[0];
        assert_eq!((grow.line, grow.column), (10, 5), "1-based");
        assert!(!p.string_table.contains(&"(root)".to_owned()));
    }

    #[test]
    fn without_samples_there_are_bytes_only() {
        let json = format!(
            r#"{{"head":{}}}"#,
            node(1, "(root)", -1, 0, &node(2, "f", 0, 77, ""))
        );
        let (p, totals) = heap(&json).unwrap();
        assert_eq!(totals, [("space/bytes".into(), 77)]);
        assert_eq!(p.sample_type.len(), 1);
        assert_eq!(p.period, 0, "unknown interval");
    }

    #[test]
    fn a_tree_deeper_than_serde_jsons_limit_is_read_and_bad_ones_are_named() {
        let mut tree = node(5000, "leaf", 1, 8, "");
        for id in (1..5000).rev() {
            tree = node(id, "f", id as i64, 0, &tree);
        }
        let (p, totals) = heap(&format!(r#"{{"head":{tree}}}"#)).unwrap();
        assert_eq!(totals[0].1, 8);
        assert_eq!(p.sample[0].location_id.len(), 4999, "root left out");

        let orphan = format!(
            r#"{{"head":{},"samples":[{{"size":1,"nodeId":9}}]}}"#,
            node(1, "(root)", -1, 0, "")
        );
        let (p, totals) = heap(&orphan).unwrap();
        assert_eq!(totals[0], ("objects/count".into(), 0));
        assert_eq!(
            p.string_table[p.comment[0] as usize],
            "1 sample(s) named a node not in the tree and are not counted"
        );
        let err = heap(r#"{"head":{"selfSize":"x"}}"#).err().unwrap();
        assert!(matches!(err, crate::Error::Malformed { .. }), "{err}");
        let err = heap(r#"{"head":{"#).err().unwrap();
        assert!(matches!(err, crate::Error::NotJson { .. }), "{err}");
        let err = heap(r#"{"snapshot":{},"nodes":[1,2]}"#).err().unwrap();
        assert!(matches!(err, crate::Error::HeapSnapshot { .. }), "{err}");
        let err = heap(r#"{"profile":{}}"#).err().unwrap();
        assert!(matches!(err, crate::Error::NotAProfile { .. }), "{err}");
    }
}
