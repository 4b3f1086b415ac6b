//! Blobs inside a repository's layout, and moving finished uploads into place.

use super::{blocking, Result, Storage, StorageError};
use crate::fsutil;
use crate::oci::{Digest, RepoName};
use std::path::{Path, PathBuf};

/// An open blob, ready to stream.
pub struct BlobFile {
    /// The open file.
    pub file: tokio::fs::File,
    /// Its size in bytes.
    pub size: u64,
}

impl Storage {
    /// Size of a blob in a repository.
    pub async fn blob_size(&self, name: &RepoName, digest: &Digest) -> Result<u64> {
        if !self.repo_exists(name) {
            return Err(StorageError::BlobUnknown);
        }
        match tokio::fs::metadata(self.layout.blob(name, digest)).await {
            Ok(m) if m.is_file() => Ok(m.len()),
            Ok(_) => Err(StorageError::BlobUnknown),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(StorageError::BlobUnknown),
            Err(e) => Err(e.into()),
        }
    }

    /// Open a blob for reading.
    pub async fn open_blob(&self, name: &RepoName, digest: &Digest) -> Result<BlobFile> {
        if !self.repo_exists(name) {
            return Err(StorageError::BlobUnknown);
        }
        let file = match tokio::fs::File::open(self.layout.blob(name, digest)).await {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StorageError::BlobUnknown)
            }
            Err(e) => return Err(e.into()),
        };
        let size = file.metadata().await?.len();
        Ok(BlobFile { file, size })
    }

    /// Remove a blob from a repository.
    pub async fn delete_blob(&self, name: &RepoName, digest: &Digest) -> Result<()> {
        if !self.repo_exists(name) {
            return Err(StorageError::BlobUnknown);
        }
        match tokio::fs::remove_file(self.layout.blob(name, digest)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(StorageError::BlobUnknown),
            Err(e) => Err(e.into()),
        }
    }

    /// Make a blob that `from` holds (or, with `from` None, that any repository holds when
    /// dedupe keeps the content index) available in `name`. False when there is no such blob.
    pub async fn mount_blob(
        &self,
        name: &RepoName,
        digest: &Digest,
        from: Option<&RepoName>,
    ) -> Result<bool> {
        let source = match from {
            Some(from) if self.repo_exists(from) => self.layout.blob(from, digest),
            Some(_) => return Ok(false),
            None if self.dedupe => self.layout.shared_blob(digest),
            None => return Ok(false),
        };
        // A content-index entry only counts while some repository still links to it.
        let live = match tokio::fs::metadata(&source).await {
            Ok(m) => from.is_some() || std::os::unix::fs::MetadataExt::nlink(&m) > 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => return Err(e.into()),
        };
        if !live {
            return Ok(false);
        }
        self.ensure_repo(name).await?;
        let target = self.layout.blob(name, digest);
        let share = self.dedupe;
        match blocking(move || fsutil::link_or_copy(&source, &target, share)).await {
            Ok(()) => Ok(true),
            // The source vanished between the check and the link (deleted or collected).
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Move a complete, fsynced file holding `digest` into the repository. With dedupe, the
    /// content index keeps a hard link so later pushes of the same content share it.
    pub(super) async fn commit_blob(
        &self,
        name: &RepoName,
        digest: &Digest,
        file: PathBuf,
    ) -> Result<()> {
        self.ensure_repo(name).await?;
        let target = self.layout.blob(name, digest);
        let shared = self.dedupe.then(|| self.layout.shared_blob(digest));
        blocking(move || place(&file, &target, shared.as_deref())).await?;
        Ok(())
    }
}

/// Rename `file` to `target` (or drop it when identical content is already there, linking from
/// the content index when possible), then record `target` in the content index.
fn place(file: &Path, target: &Path, shared: Option<&Path>) -> std::io::Result<()> {
    let dir = target
        .parent()
        .ok_or_else(|| std::io::Error::other("no parent"))?;
    std::fs::create_dir_all(dir)?;
    if target.exists() {
        return std::fs::remove_file(file);
    }
    if let Some(shared) = shared.filter(|s| s.exists()) {
        if fsutil::link_or_copy(shared, target, true).is_ok() && target.exists() {
            return std::fs::remove_file(file);
        }
    }
    std::fs::rename(file, target)?;
    fsutil::fsync_dir(dir)?;
    if let Some(shared) = shared {
        let shared_dir = shared
            .parent()
            .ok_or_else(|| std::io::Error::other("no parent"))?;
        std::fs::create_dir_all(shared_dir)?;
        match std::fs::hard_link(target, shared) {
            Ok(()) => fsutil::fsync_dir(shared_dir)?,
            // A concurrent push of the same content won: share its inode instead of ours.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let tmp = fsutil::temp_path(dir);
                if std::fs::hard_link(shared, &tmp).is_ok() {
                    std::fs::rename(&tmp, target)?;
                    fsutil::fsync_dir(dir)?;
                }
            }
            Err(_) => {} // another filesystem: no sharing
        }
    }
    Ok(())
}
