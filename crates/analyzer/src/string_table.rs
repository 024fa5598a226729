//! The snapshot's strings, keeping only the texts the analysis reads.
//!
//! Most strings of a heap that holds text (log lines, request bodies) are the values of string
//! objects, each held by one node: no class, path or report ever shows them, and a text is a
//! duplicate only when two nodes name it. Holding them all would cost as much memory as the
//! strings section of the file (half of a 4 GB snapshot of such a heap). So once the nodes and
//! edges are read (V8 writes them before the strings), a text is kept when it is:
//!
//! - the name of an edge, or of a node that is not a string value (`string`, `concatenated
//!   string`, `sliced string`): class names, property names, closure names, V8's own names;
//! - the name of two string values or more (duplicate strings, `strings.rs`);
//! - the name of the root or of a child of the root (retainer paths start there);
//! - a name the analysis compares node names with ([`COMPARED_NAMES`], or `system / ...`), so that
//!   such a comparison gives the same answer whatever node carries it.
//!
//! Any other text is read and dropped: [`Strings::get`] gives `""` for it. When the strings come
//! before the nodes or edges (V8 never writes them so), every text is kept.

use crate::error::ParseError;

/// Names the analysis compares node names with, besides those starting with [`SYSTEM`].
pub(crate) const COMPARED_NAMES: [&str; 6] = [
    "(GC roots)",
    "(Stack roots)",
    "(Document DOM trees)",
    "(map descriptors)",
    "Object",
    "__proto__",
];

/// The prefix of V8's internal objects' names (`system / Context`), which the analysis tests for.
pub(crate) const SYSTEM: &str = "system / ";

/// All strings of the snapshot in one buffer (a `String` each would cost more than their text),
/// texts the analysis never reads left out.
#[derive(Debug, Clone, Default)]
pub struct Strings {
    bytes: Vec<u8>,
    /// Where each kept text ends in `bytes`.
    ends: Vec<u64>,
    /// Strings in all, kept or not.
    count: usize,
    /// Which strings are kept (a bit each), and the kept strings before each word of 64.
    kept: Kept,
}

#[derive(Debug, Clone, Default)]
struct Kept {
    bits: Vec<u64>,
    before: Vec<u32>,
}

impl Strings {
    /// Strings in all (the indexes nodes and edges may use), kept or not.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The `i`th string, or `""` when its text was not kept.
    pub fn get(&self, i: usize) -> &str {
        match self.kept_index(i) {
            Some(k) => self.text(k),
            None => {
                assert!(i < self.count, "string {i} of {}", self.count);
                ""
            }
        }
    }

    /// The `k`th kept text.
    pub fn kept_text(&self, k: usize) -> &str {
        self.text(k)
    }

    fn text(&self, k: usize) -> &str {
        let start = if k == 0 { 0 } else { self.ends[k - 1] as usize };
        let end = self.ends[k] as usize;
        let bytes = &self.bytes[start..end];
        debug_assert!(std::str::from_utf8(bytes).is_ok());
        // SAFETY: the only writer, `Json::string_append` (through `buffer` and `close`), appends
        // whole strings of valid UTF-8 (it replaces what is not UTF-8), and `drop_last` removes
        // whole strings, so every range between two ends is valid UTF-8. This runs for every name
        // the analysis looks at.
        unsafe { std::str::from_utf8_unchecked(bytes) }
    }

    /// The number of string `i` among the kept ones (None when its text was not kept): arrays
    /// by string can be this long instead of [`Strings::len`].
    pub fn kept_index(&self, i: usize) -> Option<usize> {
        let (word, bit) = (i / 64, i % 64);
        let w = *self.kept.bits.get(word)?;
        (w & (1 << bit) != 0).then(|| {
            self.kept.before[word] as usize + (w & ((1u64 << bit) - 1)).count_ones() as usize
        })
    }

    /// How many texts are kept.
    pub fn kept_len(&self) -> usize {
        self.ends.len()
    }

    /// Every string, `""` for those not kept.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        (0..self.len()).map(|i| self.get(i))
    }

    /// The kept strings, with their index.
    pub fn iter_kept(&self) -> impl Iterator<Item = (usize, &str)> {
        (0..self.len()).filter_map(|i| self.kept_index(i).map(|k| (i, self.text(k))))
    }

    /// The buffer to append the next string's UTF-8 to; then call [`Strings::close`].
    pub(crate) fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.bytes
    }

    /// Ends the string appended to [`Strings::buffer`] since the last call, keeping its text or
    /// not.
    pub(crate) fn close(&mut self, keep: bool) -> Result<(), ParseError> {
        let memory = |e| ParseError::Memory(format!("the strings: {e}"));
        let i = self.count;
        if i.is_multiple_of(64) {
            self.kept.bits.try_reserve(1).map_err(memory)?;
            self.kept.before.try_reserve(1).map_err(memory)?;
            self.kept.bits.push(0);
            self.kept.before.push(self.ends.len() as u32);
        }
        if keep {
            self.ends.try_reserve(1).map_err(memory)?;
            self.ends.push(self.bytes.len() as u64);
            self.kept.bits[i / 64] |= 1 << (i % 64);
        } else {
            let start = self.ends.last().copied().unwrap_or(0) as usize;
            self.bytes.truncate(start);
        }
        self.count += 1;
        Ok(())
    }

    pub(crate) fn shrink_to_fit(&mut self) {
        self.bytes.shrink_to_fit();
        self.ends.shrink_to_fit();
        self.kept.bits.shrink_to_fit();
        self.kept.before.shrink_to_fit();
    }
}

/// Which strings the analysis reads by their index alone (the rest is decided on their text,
/// [`keeps_text`]): two bits a string.
pub(crate) struct Needed {
    bits: Vec<u8>,
    /// Names go past the bits (which were capped): the strings past them are kept.
    capped: bool,
}

/// Not named by anything.
const UNUSED: u8 = 0;
/// The name of one string value.
const ONE_VALUE: u8 = 1;
/// Needed: named by two string values or more, or by anything else that reads it.
const NEEDED: u8 = 3;

impl Needed {
    fn state(&self, i: usize) -> u8 {
        self.bits
            .get(i / 4)
            .map_or(UNUSED, |b| (b >> (2 * (i % 4))) & 3)
    }

    fn set(&mut self, i: usize, s: u8) {
        if i / 4 >= self.bits.len() {
            return; // past the capped bits: kept whatever names it
        }
        let shift = 2 * (i % 4);
        self.bits[i / 4] = (self.bits[i / 4] & !(3 << shift)) | (s << shift);
    }

    fn need(&mut self, i: u32) {
        self.set(i as usize, NEEDED);
    }

    fn value(&mut self, i: u32) {
        let s = self.state(i as usize);
        self.set(i as usize, if s == UNUSED { ONE_VALUE } else { NEEDED });
    }

    /// Whether the text of string `i` must be kept whatever it says.
    pub fn get(&self, i: usize) -> bool {
        if i / 4 >= self.bits.len() {
            return self.capped;
        }
        self.state(i) == NEEDED
    }
}

/// What [`needed`] reads: the columns as read so far.
pub(crate) struct Columns<'a> {
    pub node_types: &'a [String],
    pub node_type: &'a [u8],
    pub node_name: &'a [u32],
    pub first_edge: &'a [u32],
    pub edge_by_index: &'a dyn Fn(u8) -> bool,
    pub edge_type: &'a [u8],
    pub edge_name_or_index: &'a [u32],
    pub edge_to: &'a [u32],
}

/// The strings nodes and edges need by index (module doc).
pub(crate) fn needed(c: &Columns) -> Result<Needed, ParseError> {
    let of_type = |name: &str| c.node_types.iter().position(|t| t == name);
    let value_types: Vec<u8> = ["string", "concatenated string", "sliced string"]
        .iter()
        .filter_map(|t| of_type(t).map(|i| i as u8))
        .collect();
    let by_index: Vec<bool> = (0..=255u8).map(|t| (c.edge_by_index)(t)).collect();
    // The largest string index named (an element's index is no string: a sparse array's can be
    // near 2^32).
    let named_by_edges = c
        .edge_type
        .iter()
        .zip(c.edge_name_or_index)
        .filter(|&(&t, _)| !by_index[usize::from(t)])
        .map(|(_, &name)| name);
    let most = c
        .node_name
        .iter()
        .copied()
        .chain(named_by_edges)
        .max()
        .unwrap_or(0) as usize;
    // A name past what a snapshot of this size can have (it will be found wrong once the strings
    // are read) must not make the bits huge: past the capped bits every text is kept. (Past
    // uncapped bits, no node or edge names a string.)
    let cap = 4 * (c.node_type.len() + c.edge_type.len()) + (1 << 20);
    let capped = most > cap;
    let most = most.min(cap);
    let mut bits = Vec::new();
    bits.try_reserve_exact(most / 4 + 1)
        .map_err(|e| ParseError::Memory(format!("the strings: {e}")))?;
    bits.resize(most / 4 + 1, 0);
    let mut n = Needed { bits, capped };
    for (&t, &name) in c.node_type.iter().zip(c.node_name) {
        if value_types.contains(&t) {
            n.value(name);
        } else {
            n.need(name);
        }
    }
    if let Some(&root) = c.node_name.first() {
        n.need(root);
    }
    for (&t, &name) in c.edge_type.iter().zip(c.edge_name_or_index) {
        if !by_index[usize::from(t)] {
            n.need(name);
        }
    }
    // Retainer paths start at the root's children (`report.rs`). (Not the other GC roots': the
    // internalized strings hang from one.)
    let root_edges = c.first_edge.first().copied().unwrap_or(0) as usize
        ..c.first_edge.get(1).copied().unwrap_or(0) as usize;
    for &to in c.edge_to.get(root_edges).unwrap_or_default() {
        if let Some(&name) = c.node_name.get(to as usize) {
            n.need(name);
        }
    }
    Ok(n)
}

/// Whether a text is kept for what it says (module doc).
pub(crate) fn keeps_text(text: &[u8]) -> bool {
    text.starts_with(SYSTEM.as_bytes()) || COMPARED_NAMES.iter().any(|n| n.as_bytes() == text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(texts: &[&str], keep: impl Fn(usize) -> bool) -> Strings {
        let mut s = Strings::default();
        for (i, t) in texts.iter().enumerate() {
            s.buffer().extend_from_slice(t.as_bytes());
            s.close(keep(i)).unwrap();
        }
        s
    }

    #[test]
    fn kept_texts_are_found_by_index_across_words() {
        let texts: Vec<String> = (0..200).map(|i| format!("t{i}")).collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let keep = |i: usize| i.is_multiple_of(3) || (64..130).contains(&i);
        let s = table(&refs, keep);
        assert_eq!(s.len(), 200);
        let mut k = 0;
        for (i, t) in refs.iter().enumerate() {
            if keep(i) {
                assert_eq!((s.get(i), s.kept_index(i)), (*t, Some(k)));
                assert_eq!(s.kept_text(k), *t);
                k += 1;
            } else {
                assert_eq!((s.get(i), s.kept_index(i)), ("", None));
            }
        }
        assert_eq!(s.kept_len(), k);
        assert_eq!(s.iter_kept().count(), k);
        assert_eq!(s.kept_index(200), None);
    }

    #[test]
    fn values_named_once_are_not_needed() {
        let types: Vec<String> = ["hidden", "string", "object", "synthetic"]
            .map(String::from)
            .to_vec();
        // Node 0 a synthetic root named 0, node 1 an object named 1, nodes 2-4 strings named 2, 3,
        // 3, node 5 a string named 5 that the root holds, node 6 a synthetic named 7 holding
        // node 7, a string named 6; edges: 0 -> 1 named 4, 0 -> 5 (element), 1 -> 2 (element),
        // 6 -> 7 (element).
        let by_index = |t: u8| t == 1;
        let n = needed(&Columns {
            node_types: &types,
            node_type: &[3, 2, 1, 1, 1, 1, 3, 1],
            node_name: &[0, 1, 2, 3, 3, 5, 7, 6],
            first_edge: &[0, 2, 3, 3, 3, 3, 3, 4, 4],
            edge_by_index: &by_index,
            edge_type: &[2, 1, 1, 1],
            edge_name_or_index: &[4, 0, 0, 0],
            edge_to: &[1, 5, 2, 7],
        })
        .unwrap();
        let got: Vec<bool> = (0..9).map(|i| n.get(i)).collect();
        assert_eq!(
            got,
            [true, true, false, true, true, true, false, true, false]
        );
        assert!(
            !n.get(1 << 30),
            "no node or edge names a string past the bits"
        );
        assert!(keeps_text(b"system / Context") && keeps_text(b"(GC roots)"));
        // A name far past what two nodes can have: no bits that large, every text kept past them.
        let huge = needed(&Columns {
            node_types: &types,
            node_type: &[3, 1],
            node_name: &[0, 3_000_000_000],
            first_edge: &[0, 0, 0],
            edge_by_index: &by_index,
            edge_type: &[],
            edge_name_or_index: &[],
            edge_to: &[],
        })
        .unwrap();
        assert!(huge.bits.len() < 1 << 20);
        assert!(huge.get(0) && huge.get(3_000_000_000) && !huge.get(5));
        assert!(!keeps_text(b"GET /api") && !keeps_text(b"(GC roots"));
    }
}
