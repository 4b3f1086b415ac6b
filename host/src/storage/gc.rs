//! Garbage collection: blobs no manifest reaches, upload sessions left idle, and content-index
//! entries no repository links to any more — each only once older than the configured delay.

use super::{Result, Storage};
use crate::fsutil;
use crate::oci::{Digest, RepoName};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What one collection removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct GcReport {
    /// Blob files removed from repositories and from the content index.
    pub blobs_removed: usize,
    /// Upload sessions removed.
    pub uploads_removed: usize,
    /// Repositories that could not be collected (each logged).
    pub repositories_skipped: usize,
}

impl Storage {
    /// Collect garbage older than `delay` in every repository. A repository that cannot be
    /// collected (an unreadable index, a permission problem) is skipped with a log line; the
    /// others are still collected.
    pub async fn collect_garbage(&self, delay: Duration) -> Result<GcReport> {
        let mut report = GcReport::default();
        let (names, _) = self.catalog_page(None, None);
        for name in names {
            let Ok(name) = RepoName::parse(&name) else {
                continue;
            };
            match self.collect_repository(&name, delay).await {
                Ok((blobs, uploads)) => {
                    report.blobs_removed += blobs;
                    report.uploads_removed += uploads;
                }
                Err(e) => {
                    report.repositories_skipped += 1;
                    tracing::error!(repository = %name, error = %e, "garbage collection skipped a repository");
                }
            }
        }
        let shared = self.layout.shared_blobs();
        report.blobs_removed += self
            .blocking(move || {
                use std::os::unix::fs::MetadataExt;
                let mut removed = 0;
                // Unlinking from the last repository bumps the ctime, so entries age by mtime.
                let unused = |m: &std::fs::Metadata| {
                    m.nlink() <= 1
                        && m.modified().ok().and_then(|t| t.elapsed().ok()) >= Some(delay)
                };
                for alg in read_dir_or_empty(&shared)? {
                    removed += sweep_dir(&alg, unused)?.len();
                }
                Ok(removed)
            })
            .await?;
        Ok(report)
    }

    /// Collect one repository: returns the blobs and upload sessions removed.
    async fn collect_repository(&self, name: &RepoName, delay: Duration) -> Result<(usize, usize)> {
        let repo = self.repo(name);
        let _writer = repo.writer.lock().await;
        // No blob is committed into this repository while it is swept.
        let _sweep = repo.sweep.write().await;
        let view = self.index(name).await?;
        let roots: Vec<Digest> = view.digests().cloned().collect();
        let repo_dir = self.layout.repo(name);
        let uploads_dir = self.layout.uploads(name);
        let (blobs, uploads) = self
            .blocking(move || {
                let reachable = reachable(&repo_dir, roots);
                let blobs =
                    sweep_blobs(&repo_dir.join("blobs"), delay, |d| !reachable.contains(d))?;
                let uploads = sweep_dir(&uploads_dir, |m| fsutil::age(m) >= delay)?;
                sweep_leftovers(&repo_dir, delay)?;
                Ok((blobs, uploads))
            })
            .await?;
        self.forget_uploads_of(&uploads);
        Ok((blobs, uploads.len()))
    }
}

/// Digests reachable from `roots`: the manifests and everything they reference, recursively.
fn reachable(repo_dir: &Path, roots: Vec<Digest>) -> HashSet<Digest> {
    let mut seen = HashSet::new();
    let mut stack = roots;
    while let Some(digest) = stack.pop() {
        if !seen.insert(digest.clone()) {
            continue;
        }
        let path = repo_dir
            .join("blobs")
            .join(digest.algorithm().name())
            .join(digest.hex());
        let Ok(bytes) = std::fs::read(path) else {
            continue;
        };
        let Ok(doc) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
            continue;
        };
        let descriptors = doc.get("config").into_iter().chain(
            ["layers", "manifests", "blobs"]
                .iter()
                .flat_map(|k| doc.get(k).and_then(|v| v.as_array()).into_iter().flatten()),
        );
        for d in descriptors {
            if let Some(digest) = d.get("digest").and_then(|v| v.as_str()) {
                if let Ok(digest) = digest.parse::<Digest>() {
                    stack.push(digest);
                }
            }
        }
    }
    seen
}

/// Remove blob files (under `blobs/<alg>/`) that `unwanted` selects and are older than `delay`.
fn sweep_blobs(
    blobs: &Path,
    delay: Duration,
    unwanted: impl Fn(&Digest) -> bool,
) -> std::io::Result<usize> {
    let mut removed = 0;
    for alg_dir in read_dir_or_empty(blobs)? {
        let Some(alg) = alg_dir
            .file_name()
            .and_then(|a| a.to_str())
            .map(str::to_owned)
        else {
            continue;
        };
        for file in read_dir_or_empty(&alg_dir)? {
            let Some(hex) = file.file_name().and_then(|h| h.to_str()) else {
                continue;
            };
            let Ok(digest) = format!("{alg}:{hex}").parse::<Digest>() else {
                continue;
            };
            if unwanted(&digest) {
                removed += remove_if(&file, |m| fsutil::age(m) >= delay)? as usize;
            }
        }
    }
    Ok(removed)
}

/// Remove temporary files a crash left behind (in the layout and its blob directories).
fn sweep_leftovers(repo_dir: &Path, delay: Duration) -> std::io::Result<()> {
    let dirs =
        std::iter::once(repo_dir.to_owned()).chain(read_dir_or_empty(&repo_dir.join("blobs"))?);
    for dir in dirs {
        for file in read_dir_or_empty(&dir)? {
            let temporary = file
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(fsutil::TEMP_PREFIX));
            if temporary {
                remove_if(&file, |m| fsutil::age(m) >= delay)?;
            }
        }
    }
    Ok(())
}

/// Remove the files directly in `dir` that `select` picks.
fn sweep_dir(
    dir: &Path,
    select: impl Fn(&std::fs::Metadata) -> bool,
) -> std::io::Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    for file in read_dir_or_empty(dir)? {
        if remove_if(&file, &select)? {
            removed.push(file);
        }
    }
    Ok(removed)
}

/// Remove a regular file if `select` picks it; true if it was removed.
fn remove_if(file: &Path, select: impl Fn(&std::fs::Metadata) -> bool) -> std::io::Result<bool> {
    let meta = match std::fs::symlink_metadata(file) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    if !meta.is_file() || !select(&meta) {
        return Ok(false);
    }
    match std::fs::remove_file(file) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

fn read_dir_or_empty(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    match std::fs::read_dir(dir) {
        Ok(entries) => entries.map(|e| e.map(|e| e.path())).collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}
