//! Blobs inside a repository's layout, and moving finished uploads into place.

use super::{Result, Storage, StorageError};
use crate::fsutil;
use crate::oci::{Digest, RepoName};
use std::path::{Path, PathBuf};

/// An open blob, ready to stream.
pub struct BlobFile {
    /// The open file.
    pub file: std::fs::File,
    /// Its size in bytes.
    pub size: u64,
}

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
        let path = self.layout.blob(name, digest);
        let opened = self
            .blocking(move || {
                let file = std::fs::File::open(path)?;
                let meta = file.metadata()?;
                Ok((file, meta))
            })
            .await;
        match opened {
            Ok((file, meta)) if meta.is_file() => Ok(BlobFile {
                file,
                size: meta.len(),
            }),
            Ok(_) => Err(StorageError::BlobUnknown),
            Err(StorageError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(StorageError::BlobUnknown)
            }
            Err(e) => Err(e),
        }
    }

    /// Remove a blob from a repository. With dedupe, the content stays in the content index
    /// until garbage collection finds no repository linking to it.
    pub async fn delete_blob(&self, name: &RepoName, digest: &Digest) -> Result<()> {
        if !self.repo_exists(name) {
            return Err(StorageError::BlobUnknown);
        }
        let path = self.layout.blob(name, digest);
        let removed = self
            .blocking(move || {
                if !std::fs::symlink_metadata(&path)?.is_file() {
                    return Err(std::io::ErrorKind::NotFound.into());
                }
                std::fs::remove_file(&path)
            })
            .await;
        match removed {
            Ok(()) => Ok(()),
            Err(StorageError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(StorageError::BlobUnknown)
            }
            Err(e) => Err(e),
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
            None if self.options.dedupe => self.layout.shared_blob(digest),
            None => return Ok(false),
        };
        self.ensure_repo(name).await?;
        let repo = self.repo(name);
        let _no_sweep = repo.sweep.read().await;
        let target = self.layout.blob(name, digest);
        let share = self.options.dedupe;
        let require_links = from.is_none();
        self.blocking(move || {
            // A content-index entry only counts while some repository still links to it.
            let live = match std::fs::metadata(&source) {
                Ok(m) => {
                    m.is_file() && (!require_links || std::os::unix::fs::MetadataExt::nlink(&m) > 1)
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
                Err(e) => return Err(e),
            };
            if !live {
                return Ok(false);
            }
            match fsutil::link_or_copy(&source, &target, share) {
                // Acknowledged as stored: whatever its age, it is as new as this mount.
                Ok(()) => fsutil::touch(&target).map(|()| true),
                // The source vanished between the check and the link (deleted or collected).
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
                Err(e) => Err(e),
            }
        })
        .await
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
        let repo = self.repo(name);
        let _no_sweep = repo.sweep.read().await;
        let target = self.layout.blob(name, digest);
        let shared = self.options.dedupe.then(|| self.layout.shared_blob(digest));
        self.blocking(move || place(&file, &target, shared.as_deref()))
            .await
    }
}

/// Rename `file` to `target` (or drop it when identical content is already there, linking from
/// the content index when possible), then record `target` in the content index. A `target`
/// that exists but is not a regular file is never taken for the blob.
fn place(file: &Path, target: &Path, shared: Option<&Path>) -> std::io::Result<()> {
    let dir = target
        .parent()
        .ok_or_else(|| std::io::Error::other("no parent"))?;
    std::fs::create_dir_all(dir)?;
    match std::fs::symlink_metadata(target) {
        Ok(m) if m.is_file() => {
            // Acknowledged as stored: whatever its age, it is as new as this push.
            fsutil::touch(target)?;
            return std::fs::remove_file(file);
        }
        Ok(_) => {
            return Err(std::io::Error::other(format!(
                "{} is in the way of a blob and is not a file",
                target.display()
            )))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    if let Some(shared) = shared.filter(|s| s.is_file()) {
        if fsutil::link_or_copy(shared, target, true).is_ok() && target.is_file() {
            fsutil::touch(target)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_is_never_a_blob() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("blobs/sha256/abc");
        std::fs::create_dir_all(&target).unwrap();
        let upload = dir.path().join("upload");
        std::fs::write(&upload, b"content").unwrap();
        assert!(place(&upload, &target, None).is_err());
        assert!(
            upload.exists(),
            "the upload is kept for the caller to report"
        );
    }
}
