//! The blob store: each repository's content-addressed bytes. The handlers never see how blobs
//! are kept; [`super::fs::FsBlobs`] keeps them in OCI image layouts on a filesystem, and a
//! driver for an object store implements the same trait. Upload sessions are staged in local
//! files, which [`BlobStore::commit`] takes once they are complete and verified.

use super::Result;
use crate::oci::{Digest, RepoName};
use async_trait::async_trait;
use bytes::Bytes;
use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

/// An open blob, ready to stream (a local file, so that it can be sent without copying).
pub struct BlobFile {
    /// The open file.
    pub file: std::fs::File,
    /// Its size in bytes.
    pub size: u64,
}

/// Content-addressed blobs, per repository.
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// The size of a blob the repository holds, if it holds it.
    async fn stat(&self, name: &RepoName, digest: &Digest) -> Result<Option<u64>>;
    /// Open a blob for reading, if the repository holds it.
    async fn open(&self, name: &RepoName, digest: &Digest) -> Result<Option<BlobFile>>;
    /// Read a small blob (a manifest) whole, if the repository holds it.
    async fn read(&self, name: &RepoName, digest: &Digest) -> Result<Option<Bytes>>;
    /// Store a small blob (a manifest) durably; storing it again refreshes its age.
    async fn write(&self, name: &RepoName, digest: &Digest, bytes: Bytes) -> Result<()>;
    /// The first of `digests` the repository does not hold.
    async fn first_missing(&self, name: &RepoName, digests: Vec<Digest>) -> Result<Option<Digest>>;
    /// Remove a blob from a repository; false if it did not hold it.
    async fn delete(&self, name: &RepoName, digest: &Digest) -> Result<bool>;
    /// Make a blob that `from` holds (or, with `from` None, that any repository holds, where
    /// the store can tell) available in `name`; false when there is no such blob.
    async fn mount(
        &self,
        name: &RepoName,
        digest: &Digest,
        from: Option<&RepoName>,
    ) -> Result<bool>;
    /// Take a complete, verified local file holding `digest` into the repository, durably
    /// (its content too: the file has not been synced).
    async fn commit(&self, name: &RepoName, digest: &Digest, staged: PathBuf) -> Result<()>;
    /// Remove the repository's blobs that are not in `keep` and are older than `delay`;
    /// returns how many were removed.
    async fn sweep(&self, name: &RepoName, keep: HashSet<Digest>, delay: Duration)
        -> Result<usize>;
    /// Store-wide collection once every repository was swept (content no repository holds any
    /// more); returns how many blobs were removed.
    async fn collect(&self, delay: Duration) -> Result<usize>;
}
