//! Listing repositories: every directory under the root that holds an `index.json`.

use super::layout::{PRIVATE_DIR, UPLOADS_DIR};
use crate::oci::RepoName;
use std::collections::BTreeSet;
use std::path::Path;

/// Walk the root and collect repository names (nested names included).
pub fn scan(root: &Path) -> std::io::Result<BTreeSet<String>> {
    let mut found = BTreeSet::new();
    let mut stack = vec![(root.to_owned(), String::new())];
    while let Some((dir, prefix)) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let is_repo = !prefix.is_empty() && dir.join("index.json").is_file();
        if is_repo && RepoName::parse(&prefix).is_ok() {
            found.insert(prefix.clone());
        }
        for entry in entries {
            let entry = entry?;
            if !entry.file_type()?.is_dir() {
                continue;
            }
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            let skip = name == PRIVATE_DIR
                || name == UPLOADS_DIR
                || name.starts_with('.')
                || (is_repo && name == "blobs");
            if !skip {
                let child = if prefix.is_empty() {
                    name
                } else {
                    format!("{prefix}/{name}")
                };
                stack.push((entry.path(), child));
            }
        }
    }
    Ok(found)
}

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
