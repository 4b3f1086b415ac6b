//! A repository's blobs: reads, deletes, mounts and commits, through the blob store. Commits and
//! mounts hold the repository's sweep lock shared, so a collection that decided before a blob
//! arrived never sweeps it once it is acknowledged.

use super::{BlobFile, Result, Storage, StorageError};
use crate::oci::{Digest, RepoName};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;

/// A window of an open blob, ready to send.
pub enum Window {
    /// Mapped into memory, its pages read ahead into the page cache (so that sending it never
    /// waits for the disk on an async worker).
    Mapped(memmap2::Mmap),
    /// Read into memory.
    Read(bytes::Bytes),
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
        let mark = self.blob_sizes.mark();
        let blob = self
            .blobs
            .open(name, digest)
            .await?
            .ok_or(StorageError::BlobUnknown)?;
        self.blob_sizes.keep(mark, name, digest, blob.size);
        Ok(blob)
    }

    /// Bytes `offset..offset + len` of an open blob, mapped or read, on the storage pool.
    pub async fn blob_window(
        &self,
        file: Arc<std::fs::File>,
        offset: u64,
        len: usize,
        mapped: bool,
    ) -> Result<Window> {
        self.blocking(move || {
            if mapped {
                use std::os::fd::AsRawFd;
                // SAFETY: readahead only reads the file into the page cache.
                unsafe {
                    libc::readahead(file.as_raw_fd(), offset as libc::off64_t, len);
                }
                // SAFETY: blob files are immutable once committed (they appear by rename and
                // leave by unlink, never truncated), so the mapping stays valid.
                let map = unsafe {
                    memmap2::MmapOptions::new()
                        .offset(offset)
                        .len(len)
                        .map(&*file)?
                };
                Ok(Window::Mapped(map))
            } else {
                let mut buf = vec![0; len];
                file.read_exact_at(&mut buf, offset)?;
                Ok(Window::Read(buf.into()))
            }
        })
        .await
    }

    /// The size of a blob (remembered for a while once found).
    pub async fn blob_size(&self, name: &RepoName, digest: &Digest) -> Result<u64> {
        if !self.repo_exists(name) {
            return Err(StorageError::BlobUnknown);
        }
        if let Some(size) = self.blob_sizes.get(name, digest) {
            return Ok(size);
        }
        let mark = self.blob_sizes.mark();
        let size = self
            .blobs
            .stat(name, digest)
            .await?
            .ok_or(StorageError::BlobUnknown)?;
        self.blob_sizes.keep(mark, name, digest, size);
        Ok(size)
    }

    /// Remove a blob from a repository. With dedupe, the content stays in the content index
    /// until garbage collection finds no repository linking to it.
    pub async fn delete_blob(&self, name: &RepoName, digest: &Digest) -> Result<()> {
        if !self.repo_exists(name) {
            return Err(StorageError::BlobUnknown);
        }
        let removed = self.blobs.delete(name, digest).await;
        // Forgotten whatever the outcome: a failed removal may still have removed the file.
        self.blob_sizes.forget(name, digest);
        if !removed? {
            return Err(StorageError::BlobUnknown);
        }
        Ok(())
    }

    /// Make a blob that `from` holds (or, with `from` None, that any repository holds when
    /// dedupe keeps the content index) available in `name`. False when there is no such blob.
    pub async fn mount_blob(
        &self,
        name: &RepoName,
        digest: &Digest,
        from: Option<&RepoName>,
    ) -> Result<bool> {
        match from {
            Some(from) if !self.repo_exists(from) => return Ok(false),
            None if !self.options.dedupe => return Ok(false),
            _ => {}
        }
        self.ensure_repo(name).await?;
        let repo = self.repo(name);
        let _no_sweep = repo.sweep.read().await;
        self.blobs.mount(name, digest, from).await
    }

    /// Take a complete, verified file holding `digest` into the repository, durably.
    pub(super) async fn commit_blob(
        &self,
        name: &RepoName,
        digest: &Digest,
        file: PathBuf,
    ) -> Result<()> {
        self.ensure_repo(name).await?;
        let repo = self.repo(name);
        let _no_sweep = repo.sweep.read().await;
        self.blobs.commit(name, digest, file).await
    }
}
