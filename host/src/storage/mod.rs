//! Content storage: one OCI image layout per repository under the root directory.
//!
//! Storage never sees an identity or an HTTP request: it takes validated names, references and
//! digests, and streams of bytes. Everything that touches the disk runs on a bounded pool
//! ([`crate::pool`]), never on the async workers.

mod blobs;
mod catalog;
mod error;
mod gc;
mod index;
mod layout;
mod manifests;
mod uploads;

pub use blobs::BlobFile;
pub use error::{BodyError, Result, StorageError};
pub use gc::GcReport;
pub use index::{IndexFile, IndexView};
pub use manifests::{ManifestBody, PutManifest, PutOutcome, TagExpectation};
pub use uploads::UploadStatus;

use crate::fsutil;
use crate::oci::{Digest, RepoName};
use crate::pool::BlockingPool;
use layout::Layout;
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
    /// Serializes every change to the repository's `index.json`.
    writer: tokio::sync::Mutex<()>,
    /// Blob commits hold it shared; garbage collection exclusively while it sweeps, so a blob
    /// acknowledged as stored is never swept by a collection that decided before it arrived.
    sweep: tokio::sync::RwLock<()>,
    /// The last `index.json` read or written, with its lookups.
    view: RwLock<Option<Arc<IndexView>>>,
    /// Subjects found by scanning an index written by another registry (see
    /// [`index::SUBJECTS_COMPLETE`]); recorded in `index.json` at its next write.
    scanned_subjects: Mutex<Option<Arc<HashMap<Digest, Digest>>>>,
}

/// The registry's content store.
pub struct Storage {
    layout: Layout,
    options: StorageOptions,
    io: BlockingPool,
    repos: Mutex<HashMap<RepoName, Arc<Repo>>>,
    catalog: RwLock<BTreeSet<String>>,
    uploads: uploads::Sessions,
    /// Recently served manifests by digest (content-addressed, so shared by repositories; only
    /// ever served after a repository's index resolved the reference).
    manifests: moka::sync::Cache<Digest, bytes::Bytes>,
}

impl Storage {
    /// Open (creating if needed) the storage under `options.root`, and list its repositories.
    pub async fn open(options: StorageOptions) -> Result<Storage> {
        let layout = Layout::new(options.root.clone());
        let io = BlockingPool::new("the storage I/O pool", IO_POOL_SIZE, IO_QUEUE_TIMEOUT);
        let root = layout.root().to_owned();
        let catalog = io
            .run(move || {
                std::fs::create_dir_all(&root)?;
                catalog::scan(&root)
            })
            .await??;
        Ok(Storage {
            layout,
            io,
            repos: Mutex::new(HashMap::new()),
            catalog: RwLock::new(catalog),
            uploads: uploads::Sessions::default(),
            manifests: moka::sync::Cache::builder()
                .max_capacity(MANIFEST_CACHE_BYTES)
                .weigher(|_, b: &bytes::Bytes| b.len().try_into().unwrap_or(u32::MAX))
                .build(),
            options,
        })
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
        let dir = self.layout.repo(name);
        let index_path = self.layout.index(name);
        self.blocking(move || {
            std::fs::create_dir_all(dir.join("blobs"))?;
            let marker = dir.join("oci-layout");
            if !marker.exists() {
                fsutil::write_atomic(&marker, layout::OCI_LAYOUT)?;
            }
            if !index_path.exists() {
                let empty =
                    serde_json::to_vec(&IndexFile::empty()).map_err(std::io::Error::other)?;
                fsutil::write_atomic(&index_path, &empty)?;
            }
            Ok(())
        })
        .await?;
        self.catalog
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.as_str().to_owned());
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
        let path = self.layout.index(name);
        let repo_dir = self.layout.repo(name);
        let view = self
            .blocking(move || {
                let bytes = std::fs::read(&path)?;
                let file = serde_json::from_slice::<IndexFile>(&bytes).map_err(|e| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("{}: {e}", path.display()),
                    )
                })?;
                let children = manifests::children_on_disk(&repo_dir, &file);
                Ok(IndexView::new(file, children))
            })
            .await
            .map(Arc::new)?;
        let mut slot = repo.view.write().unwrap_or_else(|e| e.into_inner());
        // A writer may have installed a newer view meanwhile; keep it.
        Ok(slot.get_or_insert(view).clone())
    }

    /// Write a new index for the repository (the caller holds the repository's writer lock).
    async fn save_index(
        &self,
        name: &RepoName,
        repo: &Repo,
        mut file: IndexFile,
        children: Vec<crate::oci::manifest::Descriptor>,
    ) -> Result<()> {
        let scanned = repo
            .scanned_subjects
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(subjects) = scanned {
            for (digest, subject) in subjects.iter() {
                file.record_subject(digest, subject);
            }
            file.mark_subjects_complete();
        }
        let path = self.layout.index(name);
        let bytes = serde_json::to_vec(&file).map_err(std::io::Error::other)?;
        self.blocking(move || fsutil::write_atomic(&path, &bytes))
            .await?;
        *repo.view.write().unwrap_or_else(|e| e.into_inner()) =
            Some(Arc::new(IndexView::new(file, children)));
        Ok(())
    }
}
