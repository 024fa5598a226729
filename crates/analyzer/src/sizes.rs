//! Adjusted self sizes (`summary.rs`) in 4 bytes a node: V8 writes self sizes as 32-bit numbers,
//! and only an owner that takes over the sizes of many hidden or array nodes can go past them;
//! those few are kept aside at full width.

use rustc_hash::FxHashMap;

/// Marks a size kept in `large`.
const LARGE: u32 = u32::MAX;

pub(crate) struct SelfSizes {
    small: Vec<u32>,
    large: FxHashMap<u32, u64>,
}

impl SelfSizes {
    /// The sizes `size(v)` of `n` nodes.
    pub fn new(n: usize, size: impl Fn(usize) -> u32) -> SelfSizes {
        let mut s = SelfSizes {
            small: (0..n).map(&size).collect(),
            large: FxHashMap::default(),
        };
        for v in 0..n {
            if s.small[v] == LARGE {
                s.large.insert(v as u32, u64::from(LARGE));
            }
        }
        s
    }

    pub fn get(&self, v: usize) -> u64 {
        match self.small[v] {
            LARGE => self.large[&(v as u32)],
            size => u64::from(size),
        }
    }

    pub fn set(&mut self, v: usize, size: u64) {
        if self.small[v] == LARGE {
            self.large.remove(&(v as u32));
        }
        match u32::try_from(size) {
            Ok(s) if s != LARGE => self.small[v] = s,
            _ => {
                self.small[v] = LARGE;
                self.large.insert(v as u32, size);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.small.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        (0..self.len()).map(|v| self.get(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_past_32_bits_are_kept_whole() {
        let mut s = SelfSizes::new(3, |v| [7, u32::MAX, 0][v]);
        assert_eq!(s.iter().collect::<Vec<_>>(), [7, u64::from(u32::MAX), 0]);
        s.set(0, 5 << 32);
        s.set(1, 9);
        s.set(2, u64::from(u32::MAX) - 1);
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            [5 << 32, 9, u64::from(u32::MAX) - 1]
        );
        assert_eq!(s.large.len(), 1);
    }
}
