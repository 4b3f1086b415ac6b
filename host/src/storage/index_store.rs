//! The index store: each repository's tags and manifests, as a document and the changes made
//! since it was written. Changes are appended and made durable in two steps, so that the
//! commits of concurrent writers share one sync (group commit): the writer appends under the
//! repository's lock, releases it, then waits for its ticket. [`super::fs::FsIndex`] keeps
//! `index.json` plus a journal on a filesystem; a database driver implements the same trait.

use super::index::IndexFile;
use super::view::{IndexOp, IndexView};
use super::Result;
use crate::oci::RepoName;
use async_trait::async_trait;
use std::collections::BTreeSet;

/// A repository's committed index.
pub struct Committed {
    /// The document as last written whole.
    pub file: IndexFile,
    /// The changes after it, in order, with their sequence numbers.
    pub changes: Vec<(u64, IndexOp)>,
}

/// Says when an appended change is durable.
#[derive(Clone, Copy, Debug)]
pub struct Ticket(pub u64);

/// Tags and manifests, per repository.
#[async_trait]
pub trait IndexStore: Send + Sync {
    /// Every repository's name.
    async fn repositories(&self) -> Result<BTreeSet<String>>;
    /// Create a repository with an empty index (nothing happens if it exists).
    async fn create(&self, name: &RepoName) -> Result<()>;
    /// The repository's committed index.
    async fn load(&self, name: &RepoName) -> Result<Committed>;
    /// Append changes (each with its sequence number) without waiting for them to be durable.
    /// A failed append leaves nothing behind.
    async fn append(&self, name: &RepoName, changes: &[(u64, IndexOp)]) -> Result<Ticket>;
    /// Wait until the changes behind `ticket`, and every earlier one, are durable.
    async fn sync(&self, name: &RepoName, ticket: Ticket) -> Result<()>;
    /// `view` is durable: the store may write it whole when convenient (folding changes).
    fn settled(&self, name: &RepoName, view: &IndexView);
    /// Write every index with outstanding changes whole (at shutdown).
    async fn flush(&self) -> Result<()>;
}
