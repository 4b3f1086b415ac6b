//! Listing repositories, a page at a time.

use smol_str::SmolStr;
use std::ops::Bound;

impl super::Storage {
    /// Up to `n` repository names after `last`, in lexical order; the flag says whether more
    /// remained.
    pub fn catalog_page(&self, n: Option<usize>, last: Option<&str>) -> (Vec<SmolStr>, bool) {
        let catalog = self.catalog.read().unwrap_or_else(|e| e.into_inner());
        let start = last.map_or(Bound::Unbounded, Bound::Excluded);
        page(
            catalog.range::<str, _>((start, Bound::Unbounded)).cloned(),
            n,
        )
    }
}

/// Take up to `n` items (all when `n` is None); the flag says whether more remained.
pub fn page<T>(mut items: impl Iterator<Item = T>, n: Option<usize>) -> (Vec<T>, bool) {
    match n {
        None => (items.collect(), false),
        Some(n) => {
            let taken: Vec<T> = items.by_ref().take(n).collect();
            let more = items.next().is_some();
            (taken, more)
        }
    }
}
