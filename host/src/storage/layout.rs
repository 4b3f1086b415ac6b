//! Where things live under the root directory. Each repository is an OCI image layout, as zot
//! stores it; `_portcullis/` (never a valid repository name) holds the registry's own state.

use crate::oci::{Digest, RepoName};
use std::path::{Path, PathBuf};

/// Name of the registry's private directory under the root.
pub const PRIVATE_DIR: &str = "_portcullis";
/// Name of the per-repository directory of upload sessions (as zot names it).
pub const UPLOADS_DIR: &str = ".uploads";
/// The layout marker file's content.
pub const OCI_LAYOUT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;

/// Paths of one storage root.
#[derive(Clone, Debug)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    /// Paths under `root`.
    pub fn new(root: PathBuf) -> Layout {
        Layout { root }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A repository's layout directory.
    pub fn repo(&self, name: &RepoName) -> PathBuf {
        self.root.join(name.as_str())
    }

    /// A repository's `index.json`.
    pub fn index(&self, name: &RepoName) -> PathBuf {
        self.repo(name).join("index.json")
    }

    /// A blob inside a repository's layout.
    pub fn blob(&self, name: &RepoName, digest: &Digest) -> PathBuf {
        self.repo(name)
            .join("blobs")
            .join(digest.algorithm().name())
            .join(digest.hex())
    }

    /// A repository's upload directory.
    pub fn uploads(&self, name: &RepoName) -> PathBuf {
        self.repo(name).join(UPLOADS_DIR)
    }

    /// The content index: one name per blob ever stored, hard-linked when dedupe is on.
    pub fn shared_blob(&self, digest: &Digest) -> PathBuf {
        self.shared_blobs()
            .join(digest.algorithm().name())
            .join(digest.hex())
    }

    /// Directory of the content index.
    pub fn shared_blobs(&self) -> PathBuf {
        self.root.join(PRIVATE_DIR).join("blobs")
    }
}
