//! The sampling heap profile: read from V8 (through the shim) into the `.heapprofile` format that
//! Chrome DevTools' Memory tab loads (`head` with `callFrame`, `selfSize`, `id`, `children`, and
//! `samples`), and the allocation sites that hold the most live sampled bytes.

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::shim::{self, ProfileNode, ProfileSample, ProfileVisitor};

struct Node {
    id: u32,
    function_name: String,
    url: String,
    script_id: i32,
    line: i32,
    column: i32,
    self_size: u64,
    children: Vec<usize>,
}

#[derive(Default)]
pub struct HeapProfile {
    nodes: Vec<Node>,
    index: HashMap<u32, usize>,
    samples: Vec<ProfileSample>,
}

/// An allocation site: a function and where it is, with the live sampled bytes allocated there.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Site {
    pub function_name: String,
    pub url: String,
    /// 1-based; 0 when unknown.
    pub line_number: i32,
    pub column_number: i32,
    pub bytes: u64,
}

impl ProfileVisitor for HeapProfile {
    fn node(&mut self, n: &ProfileNode) {
        let at = self.nodes.len();
        self.nodes.push(Node {
            id: n.id,
            function_name: n.function_name(),
            url: n.url(),
            script_id: n.script_id,
            line: n.line_number,
            column: n.column_number,
            self_size: n.self_size,
            children: Vec::new(),
        });
        self.index.insert(n.id, at);
        if let Some(&parent) = self.index.get(&n.parent_id).filter(|_| n.parent_id != 0) {
            self.nodes[parent].children.push(at);
        }
    }

    fn sample(&mut self, s: ProfileSample) {
        self.samples.push(s);
    }
}

impl HeapProfile {
    /// The current profile of the sampling heap profiler, if it runs. `at_oom` raises the heap limit
    /// while V8 builds it.
    pub fn read(at_oom: bool) -> Option<HeapProfile> {
        let mut profile = HeapProfile::default();
        (shim::read_allocation_profile(at_oom, &mut profile) && !profile.nodes.is_empty())
            .then_some(profile)
    }

    /// Live sampled bytes in all.
    pub fn total_bytes(&self) -> u64 {
        self.nodes.iter().map(|n| n.self_size).sum()
    }

    /// The `n` sites holding the most live sampled bytes (a site reached by several stacks counts once).
    pub fn top_sites(&self, n: usize) -> Vec<Site> {
        let mut by_site: HashMap<(&str, &str, i32, i32), u64> = HashMap::new();
        for node in self.nodes.iter().filter(|n| n.self_size > 0) {
            *by_site
                .entry((&node.function_name, &node.url, node.line, node.column))
                .or_default() += node.self_size;
        }
        let mut sites: Vec<Site> = by_site
            .into_iter()
            .map(|((f, url, line, column), bytes)| Site {
                function_name: if f.is_empty() {
                    "(anonymous)".into()
                } else {
                    f.to_owned()
                },
                url: url.to_owned(),
                line_number: line,
                column_number: column,
                bytes,
            })
            .collect();
        sites.sort_by(|a, b| {
            b.bytes
                .cmp(&a.bytes)
                .then_with(|| a.function_name.cmp(&b.function_name))
        });
        sites.truncate(n);
        sites
    }

    /// The profile as Chrome DevTools loads it, with `samplingInterval` (bytes; DevTools ignores
    /// it, `node-oom-heapdump convert` makes it pprof's period).
    pub fn to_json(&self, sampling_interval: u64) -> Vec<u8> {
        let samples: Vec<Value> = self
            .samples
            .iter()
            .map(|s| json!({ "size": s.size * u64::from(s.count), "nodeId": s.node_id, "ordinal": s.ordinal }))
            .collect();
        let head = self.node_json(0);
        serde_json::to_vec(
            &json!({ "head": head, "samples": samples, "samplingInterval": sampling_interval }),
        )
        .expect("JSON of plain values")
    }

    fn node_json(&self, at: usize) -> Value {
        let n = &self.nodes[at];
        let children: Vec<Value> = n.children.iter().map(|&c| self.node_json(c)).collect();
        json!({
            "callFrame": {
                "functionName": n.function_name,
                "scriptId": n.script_id.to_string(),
                "url": n.url,
                // The protocol counts from 0; V8's profile from 1, with 0 for unknown.
                "lineNumber": n.line - 1,
                "columnNumber": n.column - 1,
            },
            "selfSize": n.self_size,
            "id": n.id,
            "children": children,
        })
    }
}

impl Site {
    /// `name (url:line:column)` as a stack frame reads.
    pub fn describe(&self) -> String {
        if self.url.is_empty() {
            self.function_name.clone()
        } else {
            format!(
                "{} ({}:{}:{})",
                self.function_name, self.url, self.line_number, self.column_number
            )
        }
    }
}
