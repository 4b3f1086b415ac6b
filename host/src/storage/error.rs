//! What can go wrong in storage, in the distribution spec's terms.

use crate::oci::Digest;
use crate::pool::PoolError;

/// Why the bytes of an upload stopped coming.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The client was too slow (or its whole-body deadline passed).
    #[error("{0}")]
    TooSlow(String),
    /// The stream broke (the client disconnected, malformed framing).
    #[error("{0}")]
    Broken(String),
}

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
    /// A tag changed between the decision to write it and the write (it appeared or vanished):
    /// the caller re-decides with the repository as it now is.
    #[error("tag {0} changed while the push was decided")]
    TagChanged(String),
    /// The blob would exceed `storage.maxBlobSize`.
    #[error("blob exceeds the registry's maximum size of {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// Too many upload sessions are open (per repository or in total).
    #[error("too many upload sessions are open ({scope}: {limit}); finish or cancel some")]
    TooManyUploads {
        /// Which limit: the repository's or the registry's.
        scope: &'static str,
        /// The limit.
        limit: usize,
    },
    /// `storage.maxRepos` is reached.
    #[error("the registry holds its maximum of {0} repositories")]
    TooManyRepositories(usize),
    /// The request body failed while streaming.
    #[error("request body: {0}")]
    Body(BodyError),
    /// The filesystem is full (or over quota); nothing was half-written.
    #[error("the registry's storage is full")]
    Full,
    /// The storage's I/O pool is saturated.
    #[error(transparent)]
    Busy(PoolError),
    /// A name collides with the storage layout (checked again here, whatever the caller did).
    #[error("invalid repository name")]
    NameInvalid,
    /// Another I/O failure.
    #[error("storage I/O: {0}")]
    Io(std::io::Error),
}

impl From<std::io::Error> for StorageError {
    fn from(e: std::io::Error) -> StorageError {
        use std::io::ErrorKind;
        match e.kind() {
            ErrorKind::StorageFull | ErrorKind::QuotaExceeded => StorageError::Full,
            _ => StorageError::Io(e),
        }
    }
}

impl From<PoolError> for StorageError {
    fn from(e: PoolError) -> StorageError {
        StorageError::Busy(e)
    }
}

/// Result alias for storage operations.
pub type Result<T> = std::result::Result<T, StorageError>;
