//! Garbage collection: blobs no manifest reaches, upload sessions left idle, and content-index
//! entries no repository links to any more — each only once older than the configured delay.

use super::fs::sweep;
use super::{Result, Storage};
use crate::fsutil;
use crate::oci::{Digest, RepoName};
use std::collections::HashSet;
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
        report.blobs_removed += self.blobs.collect(delay).await?;
        Ok(report)
    }

    /// Collect one repository: returns the blobs and upload sessions removed.
    async fn collect_repository(&self, name: &RepoName, delay: Duration) -> Result<(usize, usize)> {
        let repo = self.repo(name);
        let mut writer = repo.writer.lock().await;
        // No blob is committed into this repository while it is swept.
        let _sweep = repo.sweep.write().await;
        let view = self.latest(name, &mut writer).await?;
        let roots: Vec<Digest> = view.digests().cloned().collect();
        let keep = self.reachable(name, roots).await?;
        let blobs = self.blobs.sweep(name, keep, delay).await;
        // Forgotten whatever the outcome: a failed sweep may still have removed some.
        self.blob_sizes.forget_all();
        let blobs = blobs?;
        let uploads_dir = self.layout.uploads(name);
        let uploads = self
            .blocking(move || sweep::sweep_dir(&uploads_dir, |m| fsutil::age(m) >= delay))
            .await?;
        self.forget_uploads_of(&uploads);
        Ok((blobs, uploads.len()))
    }

    /// Digests reachable from `roots`: the manifests, the blobs they reference, and the
    /// manifests an index names, recursively. Only manifests are read (never a layer).
    async fn reachable(&self, name: &RepoName, roots: Vec<Digest>) -> Result<HashSet<Digest>> {
        let mut seen = HashSet::new();
        let mut manifests = roots;
        while let Some(digest) = manifests.pop() {
            if !seen.insert(digest.clone()) {
                continue;
            }
            let Some(bytes) = self.blobs.read(name, &digest).await? else {
                continue;
            };
            let Ok(doc) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
                continue;
            };
            let digests_in =
                |keys: &[&str]| -> Vec<Digest> {
                    let single = doc.get("config").filter(|_| keys.contains(&"config"));
                    single
                        .into_iter()
                        .chain(keys.iter().flat_map(|k| {
                            doc.get(*k).and_then(|v| v.as_array()).into_iter().flatten()
                        }))
                        .filter_map(|d| d.get("digest").and_then(|v| v.as_str()))
                        .filter_map(|d| d.parse::<Digest>().ok())
                        .collect()
                };
            seen.extend(digests_in(&["config", "layers", "blobs"]));
            manifests.extend(digests_in(&["manifests"]));
        }
        Ok(seen)
    }
}
