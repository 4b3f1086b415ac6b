//! What can go wrong in storage, in the distribution spec's terms.

use crate::oci::Digest;

/// A storage failure; the API maps each variant to the spec's error code and status.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The repository does not exist.
    #[error("repository name not known to registry")]
    NameUnknown,
    /// The blob is not in the repository.
    #[error("blob unknown to registry")]
    BlobUnknown,
    /// The manifest is not in the repository.
    #[error("manifest unknown")]
    ManifestUnknown,
    /// No such upload session.
    #[error("blob upload unknown to registry")]
    UploadUnknown,
    /// The uploaded content does not match the digest given.
    #[error("provided digest did not match uploaded content")]
    DigestMismatch,
    /// The manifest is malformed or inconsistent.
    #[error("manifest invalid: {0}")]
    ManifestInvalid(String),
    /// The manifest references a blob or manifest the repository does not hold.
    #[error("manifest references unknown blob {0}")]
    ManifestBlobUnknown(Digest),
    /// A chunk does not continue where the upload stands.
    #[error("requested range not satisfiable")]
    RangeInvalid {
        /// Bytes received so far.
        size: u64,
    },
    /// Deleting this manifest would remove content other tags still reference.
    #[error("manifest is referenced by more than one tag")]
    ManifestCollision,
    /// The request body failed while streaming.
    #[error("request body: {0}")]
    Body(String),
    /// An I/O failure.
    #[error("storage I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// Result alias for storage operations.
pub type Result<T> = std::result::Result<T, StorageError>;
