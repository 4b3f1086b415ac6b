//! A repository's blobs: reads, deletes, mounts and commits, through the blob store. Commits and
//! mounts hold the repository's sweep lock shared, so a collection that decided before a blob
//! arrived never sweeps it once it is acknowledged.

use super::{BlobFile, Result, Storage, StorageError};
use crate::oci::{Digest, RepoName};
use std::path::PathBuf;

impl Storage {
    /// Refuse a blob of `size` bytes if it exceeds `storage.maxBlobSize`.
    pub fn check_blob_size(&self, size: u64) -> Result<()> {
        let limit = self.options.max_blob_size;
        if limit > 0 && size > limit {
            return Err(StorageError::TooLarge { limit });
        }
        Ok(())
    }

    /// Open a blob for reading.
    pub async fn open_blob(&self, name: &RepoName, digest: &Digest) -> Result<BlobFile> {
        if !self.repo_exists(name) {
            return Err(StorageError::BlobUnknown);
        }
        self.blobs
            .open(name, digest)
            .await?
            .ok_or(StorageError::BlobUnknown)
    }

    /// The size of a blob.
    pub async fn blob_size(&self, name: &RepoName, digest: &Digest) -> Result<u64> {
        if !self.repo_exists(name) {
            return Err(StorageError::BlobUnknown);
        }
        self.blobs
            .stat(name, digest)
            .await?
            .ok_or(StorageError::BlobUnknown)
    }

    /// Remove a blob from a repository. With dedupe, the content stays in the content index
    /// until garbage collection finds no repository linking to it.
    pub async fn delete_blob(&self, name: &RepoName, digest: &Digest) -> Result<()> {
        if !self.repo_exists(name) || !self.blobs.delete(name, digest).await? {
            return Err(StorageError::BlobUnknown);
        }
        Ok(())
    }

    /// Make a blob that `from` holds (or, with `from` None, that any repository holds when
    /// dedupe keeps the content index) available in `name`. False when there is no such blob.
    pub async fn mount_blob(
        &self,
        name: &RepoName,
        digest: &Digest,
        from: Option<&RepoName>,
    ) -> Result<bool> {
        match from {
            Some(from) if !self.repo_exists(from) => return Ok(false),
            None if !self.options.dedupe => return Ok(false),
            _ => {}
        }
        self.ensure_repo(name).await?;
        let repo = self.repo(name);
        let _no_sweep = repo.sweep.read().await;
        self.blobs.mount(name, digest, from).await
    }

    /// Take a complete, fsynced file holding `digest` into the repository.
    pub(super) async fn commit_blob(
        &self,
        name: &RepoName,
        digest: &Digest,
        file: PathBuf,
    ) -> Result<()> {
        self.ensure_repo(name).await?;
        let repo = self.repo(name);
        let _no_sweep = repo.sweep.read().await;
        self.blobs.commit(name, digest, file).await
    }
}
