//! Content storage: one OCI image layout per repository under the root directory.
//!
//! Storage never sees an identity or an HTTP request: it takes validated names, references and
//! digests, and streams of bytes.

mod blobs;
mod catalog;
mod error;
mod gc;
mod index;
mod layout;
mod manifests;
mod uploads;

pub use blobs::BlobFile;
pub use error::{Result, StorageError};
pub use gc::GcReport;
pub use index::IndexFile;
pub use manifests::{ManifestBody, PutManifest, PutOutcome};
pub use uploads::UploadStatus;

use crate::fsutil;
use crate::oci::manifest::Descriptor;
use crate::oci::{Digest, RepoName};
use index::IndexFile as Index;
use layout::Layout;
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

/// Storage settings taken from the configuration.
#[derive(Clone, Debug)]
pub struct StorageOptions {
    /// Root directory.
    pub root: PathBuf,
    /// Share identical blobs by hard link.
    pub dedupe: bool,
}

/// What the registry remembers about one stored manifest, for the referrers API.
#[derive(Clone, Debug)]
struct ManifestFacts {
    descriptor: Descriptor,
    subject: Option<Digest>,
}

/// In-memory state of one repository.
#[derive(Default)]
struct Repo {
    /// Serializes every change to the repository's `index.json`.
    writer: tokio::sync::Mutex<()>,
    /// The last `index.json` read or written.
    index: RwLock<Option<Arc<Index>>>,
    /// Facts about each manifest, built on first use by the referrers API.
    facts: Mutex<Option<HashMap<Digest, ManifestFacts>>>,
    /// Bytes of recently served manifests (immutable by digest; only ever served after the
    /// index has resolved the reference).
    manifest_bytes: Mutex<HashMap<Digest, bytes::Bytes>>,
}

/// The registry's content store.
pub struct Storage {
    layout: Layout,
    dedupe: bool,
    repos: Mutex<HashMap<RepoName, Arc<Repo>>>,
    catalog: RwLock<BTreeSet<String>>,
    uploads: uploads::Sessions,
    /// Bytes held by every repository's `manifest_bytes`.
    cached_manifest_bytes: std::sync::atomic::AtomicUsize,
}

impl Storage {
    /// Open (creating if needed) the storage under `options.root`, and list its repositories.
    pub async fn open(options: StorageOptions) -> Result<Storage> {
        let layout = Layout::new(options.root);
        let root = layout.root().to_owned();
        let catalog = blocking(move || {
            std::fs::create_dir_all(&root)?;
            catalog::scan(&root)
        })
        .await?;
        Ok(Storage {
            layout,
            dedupe: options.dedupe,
            repos: Mutex::new(HashMap::new()),
            catalog: RwLock::new(catalog),
            uploads: uploads::Sessions::default(),
            cached_manifest_bytes: Default::default(),
        })
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
        let dir = self.layout.repo(name);
        let index_path = self.layout.index(name);
        blocking(move || {
            std::fs::create_dir_all(dir.join("blobs"))?;
            let marker = dir.join("oci-layout");
            if !marker.exists() {
                fsutil::write_atomic(&marker, layout::OCI_LAYOUT)?;
            }
            if !index_path.exists() {
                let empty = serde_json::to_vec(&Index::empty()).map_err(std::io::Error::other)?;
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

    /// The repository's current index (cached after the first read).
    pub async fn index(&self, name: &RepoName) -> Result<Arc<Index>> {
        if !self.repo_exists(name) {
            return Err(StorageError::NameUnknown);
        }
        let repo = self.repo(name);
        if let Some(index) = repo.index.read().unwrap_or_else(|e| e.into_inner()).clone() {
            return Ok(index);
        }
        let path = self.layout.index(name);
        let index = blocking(move || {
            let bytes = std::fs::read(&path)?;
            serde_json::from_slice::<Index>(&bytes).map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{}: {e}", path.display()),
                )
            })
        })
        .await
        .map(Arc::new)?;
        *repo.index.write().unwrap_or_else(|e| e.into_inner()) = Some(index.clone());
        Ok(index)
    }

    /// Write a new index for the repository (the caller holds the repository's writer lock).
    async fn save_index(&self, name: &RepoName, repo: &Repo, index: Index) -> Result<()> {
        let path = self.layout.index(name);
        let bytes = serde_json::to_vec(&index).map_err(std::io::Error::other)?;
        blocking(move || fsutil::write_atomic(&path, &bytes)).await?;
        *repo.index.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(index));
        Ok(())
    }
}

/// Run blocking filesystem work off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(std::io::Error::other)?
}
