//! Finding repositories: every directory under the root that holds an `index.json`.

use crate::oci::RepoName;
use crate::storage::layout::{PRIVATE_DIR, UPLOADS_DIR};
use std::collections::BTreeSet;
use std::path::Path;

/// Walk the root and collect repository names (nested names included). Each directory is
/// read once: whether it holds an `index.json` is seen among its entries, not asked again.
pub fn scan(root: &Path) -> std::io::Result<BTreeSet<String>> {
    let mut found = BTreeSet::new();
    let mut stack = vec![(root.to_owned(), String::new())];
    while let Some((dir, prefix)) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let mut has_index = false;
        let mut children = Vec::new();
        for entry in entries {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                if let Some(name) = entry.file_name().to_str() {
                    children.push((entry.path(), name.to_owned()));
                }
            } else if entry.file_name() == "index.json" {
                // A symlink is followed, as a path lookup would.
                has_index = kind.is_file()
                    || (kind.is_symlink()
                        && std::fs::metadata(entry.path()).is_ok_and(|m| m.is_file()));
            }
        }
        let is_repo = has_index && !prefix.is_empty();
        if is_repo && RepoName::parse(&prefix).is_ok() {
            found.insert(prefix.clone());
        }
        for (path, name) in children {
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
                stack.push((path, child));
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories_are_directories_holding_an_index() {
        let root = tempfile::tempdir().unwrap();
        let repo = |name: &str| {
            let dir = root.path().join(name);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("index.json"), "{}").unwrap();
            dir
        };
        repo("alpine");
        let nested = repo("team/app");
        repo("team/app/sub");
        // A repository's blob directory is its layout, never a repository.
        repo("team/app/blobs");
        repo(PRIVATE_DIR);
        std::fs::create_dir_all(root.path().join("empty/dir")).unwrap();
        std::fs::create_dir_all(root.path().join("not-a-file/index.json")).unwrap();
        let linked = root.path().join("linked");
        std::fs::create_dir_all(&linked).unwrap();
        std::os::unix::fs::symlink(nested.join("index.json"), linked.join("index.json")).unwrap();
        let found: Vec<String> = scan(root.path()).unwrap().into_iter().collect();
        assert_eq!(found, ["alpine", "linked", "team/app", "team/app/sub"]);
    }
}
