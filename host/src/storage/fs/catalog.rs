//! Finding repositories: every directory under the root that holds an `index.json`.

use crate::oci::RepoName;
use crate::storage::layout::{PRIVATE_DIR, UPLOADS_DIR};
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
