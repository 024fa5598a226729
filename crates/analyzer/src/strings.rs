//! Duplicate strings (Eclipse MAT's and memlab's report): the same text held by many string
//! objects, where one shared copy would do. Bytes wasted: for each text held by more than one
//! string, the self sizes of all its copies but the largest.
//!
//! A string counts when V8 wrote it as a flat string (node type `string`; a `concatenated string`
//! or a `sliced string` holds no characters of its own) and it is alive (reachable from a root
//! through the edges DevTools follows, i.e. it has a distance). Copies are grouped by their text
//! and self size: V8 writes only the start of a long string as its name (1024 characters), so two
//! long strings with the same start but different lengths are not copies of each other.

use rustc_hash::FxHashMap as HashMap;
use serde::Serialize;

use crate::summary::Model;

/// Characters of a text shown in the report (the JSON's `value`), at most.
pub const MAX_VALUE_CHARS: usize = 100;
/// Bytes of a text shown in the report, at most (a character boundary at or before it).
pub const MAX_VALUE_BYTES: usize = 256;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DuplicateStrings {
    /// Texts held by more than one string.
    pub values: u64,
    /// Strings holding those texts.
    pub copies: u64,
    /// Their self sizes in all.
    pub size: u64,
    /// What one copy of each text would save: `size` less one copy per text.
    pub wasted_size: u64,
    /// The texts that waste the most, most first.
    pub top: Vec<DuplicateString>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DuplicateString {
    /// The text, its start only when `truncated` (at most [`MAX_VALUE_CHARS`] characters and
    /// [`MAX_VALUE_BYTES`] bytes, cut at a character boundary).
    pub value: String,
    /// The text is longer than `value`.
    pub truncated: bool,
    /// Strings holding it.
    pub count: u64,
    /// The self size of one.
    pub self_size: u64,
    /// `(count - 1) * selfSize`.
    pub wasted_size: u64,
}

/// The duplicate strings of the model's snapshot; `top` texts listed.
pub(crate) fn duplicate_strings(m: &Model, top: usize) -> DuplicateStrings {
    let string_type =
        m.g.s
            .meta
            .node_types
            .iter()
            .position(|t| t == "string")
            .map_or(u32::MAX, |i| i as u32);
    // (name index, self size) -> copies. V8 writes each text once in `strings`, so equal texts
    // have equal name indexes. A text named by one string value only is not kept
    // (`string_table`), and has no copy: it is left out here.
    let mut groups: HashMap<(u32, u32), u64> = HashMap::default();
    for v in 0..m.g.len() {
        if m.g.node_type(v) == string_type
            && m.distances.reached(v)
            && m.g.self_size(v) > 0
            && m.g
                .s
                .strings
                .kept_index(m.g.name_index(v) as usize)
                .is_some()
        {
            *groups
                .entry((m.g.name_index(v), m.g.self_size(v)))
                .or_default() += 1;
        }
    }
    let mut dups: Vec<((u32, u32), u64)> = groups.into_iter().filter(|&(_, n)| n > 1).collect();
    let wasted = |&((_, size), n): &((u32, u32), u64)| (n - 1) * u64::from(size);
    let mut out = DuplicateStrings {
        values: dups.len() as u64,
        copies: dups.iter().map(|d| d.1).sum(),
        size: dups.iter().map(|&((_, size), n)| n * u64::from(size)).sum(),
        wasted_size: dups.iter().map(wasted).sum(),
        top: Vec::new(),
    };
    // Most wasted first; then more copies, then the text, for a stable order.
    dups.sort_unstable_by(|a, b| {
        wasted(b)
            .cmp(&wasted(a))
            .then(b.1.cmp(&a.1))
            .then_with(|| {
                m.g.s
                    .strings
                    .get(a.0 .0 as usize)
                    .cmp(m.g.s.strings.get(b.0 .0 as usize))
            })
            .then(a.0 .1.cmp(&b.0 .1))
    });
    out.top = dups
        .iter()
        .take(top)
        .map(|d| {
            let (value, truncated) = truncate(m.g.s.strings.get(d.0 .0 as usize));
            DuplicateString {
                value: value.to_owned(),
                truncated,
                count: d.1,
                self_size: u64::from(d.0 .1),
                wasted_size: wasted(d),
            }
        })
        .collect();
    out
}

/// The start of `text` that fits [`MAX_VALUE_CHARS`] characters and [`MAX_VALUE_BYTES`] bytes,
/// cut at a character boundary; and whether anything was cut.
pub fn truncate(text: &str) -> (&str, bool) {
    let mut end = 0;
    for (chars, (at, c)) in text.char_indices().enumerate() {
        if chars == MAX_VALUE_CHARS || at + c.len_utf8() > MAX_VALUE_BYTES {
            return (&text[..end], true);
        }
        end = at + c.len_utf8();
    }
    (text, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_whole_characters() {
        assert_eq!(truncate("abc"), ("abc", false));
        let long = "x".repeat(MAX_VALUE_CHARS + 1);
        assert_eq!(truncate(&long), (&long[..MAX_VALUE_CHARS], true));
        let exact = "x".repeat(MAX_VALUE_CHARS);
        assert_eq!(truncate(&exact), (exact.as_str(), false));
        // 4-byte characters: the byte bound cuts first, between characters.
        let emoji = "\u{1F600}".repeat(MAX_VALUE_CHARS);
        let (cut, truncated) = truncate(&emoji);
        assert!(truncated);
        assert_eq!(cut.len(), MAX_VALUE_BYTES);
        assert_eq!(cut.chars().count(), MAX_VALUE_BYTES / 4);
        // A 3-byte character straddling the byte bound is left out whole.
        let euros = "\u{20AC}".repeat(90);
        let (cut, truncated) = truncate(&euros);
        assert!(truncated);
        assert_eq!(cut.len(), MAX_VALUE_BYTES / 3 * 3);
        assert_eq!(cut.chars().count(), MAX_VALUE_BYTES / 3);
    }
}
