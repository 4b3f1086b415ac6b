//! Listing repositories, a page at a time.

impl super::Storage {
    /// Up to `n` repository names after `last`, in lexical order; the flag says whether more
    /// remained.
    pub fn catalog_page(&self, n: Option<usize>, last: Option<&str>) -> (Vec<String>, bool) {
        let catalog = self.catalog.read().unwrap_or_else(|e| e.into_inner());
        let start = match last {
            Some(l) => std::ops::Bound::Excluded(l.to_owned()),
            None => std::ops::Bound::Unbounded,
        };
        page(
            catalog.range((start, std::ops::Bound::Unbounded)).cloned(),
            n,
        )
    }
}

/// Take up to `n` items (all when `n` is None); the flag says whether more remained.
pub fn page(mut items: impl Iterator<Item = String>, n: Option<usize>) -> (Vec<String>, bool) {
    match n {
        None => (items.collect(), false),
        Some(n) => {
            let taken: Vec<String> = items.by_ref().take(n).collect();
            let more = items.next().is_some();
            (taken, more)
        }
    }
}
