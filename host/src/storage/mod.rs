//! Content storage: the distribution API's operations over two stores — blobs
//! ([`BlobStore`]) and each repository's index of tags and manifests ([`IndexStore`]) — whose
//! first implementations keep one OCI image layout per repository under the root directory
//! ([`fs`]).
//!
//! Storage never sees an identity or an HTTP request: it takes validated names, references and
//! digests, and streams of bytes. Everything that touches the disk runs on a bounded pool
//! ([`crate::pool`]), never on the async workers.

mod blob_sizes;
mod blob_store;
mod blobs;
mod catalog;
mod error;
pub mod fs;
mod gc;
mod index;
mod index_store;
mod landing;
mod layout;
mod manifests;
mod uploads;
mod view;

pub use blob_store::{BlobFile, BlobStore};
pub use blobs::Window;
pub use error::{BodyError, Result, StorageError};
pub use gc::GcReport;
pub use index::IndexFile;
pub use index_store::{Committed, IndexStore, Ticket};
pub use landing::Landing;
pub use manifests::{ManifestBody, PutManifest, PutOutcome, TagExpectation};
pub use uploads::UploadStatus;
pub use view::{IndexOp, IndexView};

use crate::oci::{Digest, RepoName};
use crate::pool::BlockingPool;
use layout::Layout;
use smol_str::SmolStr;
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// Memory for recently served manifests, all repositories together.
const MANIFEST_CACHE_BYTES: u64 = 64 << 20;
/// Largest manifest kept in that memory.
const MANIFEST_CACHE_ITEM: usize = 1 << 20;
/// Storage jobs running at once (file I/O, hashing, fsync).
const IO_POOL_SIZE: usize = 64;
/// Longest wait for a storage job to start before the request is answered 503.
const IO_QUEUE_TIMEOUT: Duration = Duration::from_secs(10);

/// Storage settings taken from the configuration.
#[derive(Clone, Debug)]
pub struct StorageOptions {
    /// Root directory.
    pub root: PathBuf,
    /// Share identical blobs by hard link.
    pub dedupe: bool,
    /// Largest blob accepted, in bytes (0: no limit).
    pub max_blob_size: u64,
    /// Upload sessions open at once, in all repositories together.
    pub max_uploads: usize,
    /// Upload sessions open at once in one repository.
    pub max_uploads_per_repository: usize,
    /// A session with no activity for this long is abandoned: its file is removed.
    pub upload_timeout: Duration,
    /// Most repositories (0: no limit; zot's `storage.maxRepos`).
    pub max_repos: usize,
}

impl StorageOptions {
    /// The defaults for a root directory.
    pub fn new(root: PathBuf) -> StorageOptions {
        StorageOptions {
            root,
            dedupe: true,
            max_blob_size: 0,
            max_uploads: uploads::MAX_UPLOADS,
            max_uploads_per_repository: uploads::MAX_UPLOADS_PER_REPOSITORY,
            upload_timeout: uploads::UPLOAD_TIMEOUT,
            max_repos: 0,
        }
    }
}

/// In-memory state of one repository.
#[derive(Default)]
struct Repo {
    /// Serializes every change to the repository's index, and holds the newest version: the
    /// one changes build on, which may not be durable yet.
    writer: tokio::sync::Mutex<Option<Arc<IndexView>>>,
    /// Blob commits hold it shared; garbage collection exclusively while it sweeps, so a blob
    /// acknowledged as stored is never swept by a collection that decided before it arrived.
    sweep: tokio::sync::RwLock<()>,
    /// The newest durable version: what readers see.
    view: RwLock<Option<Arc<IndexView>>>,
    /// Subjects found by scanning an index written by another registry (see
    /// [`index::SUBJECTS_COMPLETE`]); recorded in the index at its next change.
    scanned_subjects: Mutex<Option<Arc<HashMap<Digest, Digest>>>>,
}

/// The registry's content store.
pub struct Storage {
    layout: Layout,
    options: StorageOptions,
    io: BlockingPool,
    blobs: Arc<dyn BlobStore>,
    indexes: Arc<dyn IndexStore>,
    repos: Mutex<HashMap<RepoName, Arc<Repo>>>,
    /// Every repository's name. Names of up to 23 bytes are held inline, so a catalog page
    /// copies a few bytes per name and touches no reference count shared with other threads.
    catalog: RwLock<BTreeSet<SmolStr>>,
    uploads: uploads::Sessions,
    /// Recently served manifests by digest (content-addressed, so shared by repositories; only
    /// ever served after a repository's index resolved the reference).
    manifests: crate::caches::Cache<Digest, bytes::Bytes>,
    /// Recently found blob sizes, so a `HEAD` needs no trip to the storage pool.
    blob_sizes: blob_sizes::BlobSizes,
}

impl Storage {
    /// Open (creating if needed) the storage under `options.root`, and list its repositories.
    pub async fn open(options: StorageOptions) -> Result<Storage> {
        let layout = Layout::new(options.root.clone());
        let io = BlockingPool::new("the storage I/O pool", IO_POOL_SIZE, IO_QUEUE_TIMEOUT);
        let blobs = Arc::new(fs::FsBlobs::new(layout.clone(), io.clone(), options.dedupe));
        let indexes = Arc::new(fs::FsIndex::new(layout.clone(), io.clone()));
        let catalog = indexes
            .repositories()
            .await?
            .into_iter()
            .map(SmolStr::from)
            .collect();
        Ok(Storage {
            layout,
            io,
            blobs,
            indexes,
            repos: Mutex::new(HashMap::new()),
            catalog: RwLock::new(catalog),
            uploads: uploads::Sessions::default(),
            manifests: moka::sync::Cache::builder()
                .max_capacity(MANIFEST_CACHE_BYTES)
                .weigher(|_, b: &bytes::Bytes| b.len().try_into().unwrap_or(u32::MAX))
                .build_with_hasher(crate::caches::hasher()),
            blob_sizes: blob_sizes::BlobSizes::default(),
            options,
        })
    }

    /// Write out everything the stores hold back (at shutdown).
    pub async fn flush(&self) -> Result<()> {
        self.indexes.flush().await
    }

    /// Run blocking filesystem work on the storage pool.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
    ) -> Result<T> {
        Ok(self.io.run(f).await??)
    }

    fn repo(&self, name: &RepoName) -> Arc<Repo> {
        let mut repos = self.repos.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(repo) = repos.get(name) {
            return repo.clone();
        }
        repos.entry(name.clone()).or_default().clone()
    }

    /// Whether the repository exists.
    pub fn repo_exists(&self, name: &RepoName) -> bool {
        self.catalog
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains(name.as_str())
    }

    /// Create the repository's layout if it does not exist yet.
    async fn ensure_repo(&self, name: &RepoName) -> Result<()> {
        if self.repo_exists(name) {
            return Ok(());
        }
        // The layout is re-checked here, whatever the caller validated.
        RepoName::parse(name.as_str()).map_err(|_| StorageError::NameInvalid)?;
        let limit = self.options.max_repos;
        if limit > 0 && self.catalog.read().unwrap_or_else(|e| e.into_inner()).len() >= limit {
            return Err(StorageError::TooManyRepositories(limit));
        }
        self.indexes.create(name).await?;
        self.catalog
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_smol());
        Ok(())
    }

    /// The repository's current index and lookups (read once, then kept up to date).
    pub async fn index(&self, name: &RepoName) -> Result<Arc<IndexView>> {
        if !self.repo_exists(name) {
            return Err(StorageError::NameUnknown);
        }
        let repo = self.repo(name);
        if let Some(view) = repo.view.read().unwrap_or_else(|e| e.into_inner()).clone() {
            return Ok(view);
        }
        let view = Arc::new(self.load_index(name).await?);
        let mut slot = repo.view.write().unwrap_or_else(|e| e.into_inner());
        // A writer may have installed a newer view meanwhile; keep it.
        Ok(slot.get_or_insert(view).clone())
    }

    /// The newest version of the repository's index, including changes still on their way to
    /// the disk: what a push re-decides against after the tags it expected changed.
    pub async fn newest_index(&self, name: &RepoName) -> Result<Arc<IndexView>> {
        if !self.repo_exists(name) {
            return Err(StorageError::NameUnknown);
        }
        let repo = self.repo(name);
        let mut writer = repo.writer.lock().await;
        self.latest(name, &mut writer).await
    }

    /// Read a repository's committed index: the document, the children of its index manifests,
    /// and the changes made since the document was written.
    async fn load_index(&self, name: &RepoName) -> Result<IndexView> {
        let committed = self.indexes.load(name).await?;
        let children = self.children_of(name, &committed.file).await?;
        let mut view = IndexView::from_file(committed.file, children);
        for (seq, op) in &committed.changes {
            view = view.apply(op, *seq);
        }
        Ok(view)
    }

    /// The newest version of the index, for a writer holding the repository's writer lock.
    async fn latest(
        &self,
        name: &RepoName,
        newest: &mut Option<Arc<IndexView>>,
    ) -> Result<Arc<IndexView>> {
        if let Some(view) = newest {
            return Ok(view.clone());
        }
        let view = self.index(name).await?;
        *newest = Some(view.clone());
        Ok(view)
    }

    /// Commit `op` to the repository's index: applied to the newest version and appended under
    /// the writer lock (which this releases), then awaited until durable — concurrent commits
    /// share that wait — and only then shown to readers.
    async fn commit(
        &self,
        name: &RepoName,
        repo: &Repo,
        mut writer: tokio::sync::MutexGuard<'_, Option<Arc<IndexView>>>,
        op: IndexOp,
    ) -> Result<()> {
        let mut view = self.latest(name, &mut writer).await?;
        let mut changes = Vec::new();
        let scanned = repo
            .scanned_subjects
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(subjects) = scanned.filter(|_| !view.subjects_complete()) {
            let record = IndexOp::RecordSubjects {
                subjects: subjects
                    .iter()
                    .map(|(d, s)| (d.clone(), s.clone()))
                    .collect(),
            };
            changes.push((view.seq() + 1, record));
        }
        changes.push((view.seq() + changes.len() as u64 + 1, op));
        for (seq, op) in &changes {
            view = Arc::new(view.apply(op, *seq));
        }
        let ticket = self.indexes.append(name, &changes).await?;
        *writer = Some(view.clone());
        drop(writer);
        if let Err(e) = self.indexes.sync(name, ticket).await {
            // Whether the change reached the disk is unknown: read the index again next time.
            *repo.writer.lock().await = None;
            *repo.view.write().unwrap_or_else(|e| e.into_inner()) = None;
            return Err(e);
        }
        {
            let mut published = repo.view.write().unwrap_or_else(|e| e.into_inner());
            if published.as_ref().is_none_or(|p| p.seq() < view.seq()) {
                *published = Some(view.clone());
            }
        }
        self.indexes.settled(name, &view);
        Ok(())
    }
}
