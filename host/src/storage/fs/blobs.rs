//! Blobs on a filesystem, inside each repository's OCI image layout (`blobs/<alg>/<hex>`), as
//! zot stores them. Blobs appear only by rename or hard link of complete, fsynced files, and the
//! directory fsyncs that make those names durable are shared among concurrent commits to one
//! directory. With dedupe, `_portcullis/blobs` keeps one hard link per content digest, so later
//! pushes and mounts of the same content share its inode.

use super::group_sync::DirSyncs;
use super::sweep;
use crate::fsutil;
use crate::oci::{Digest, RepoName};
use crate::pool::BlockingPool;
use crate::storage::blob_store::{BlobFile, BlobStore};
use crate::storage::layout::Layout;
use crate::storage::Result;
use async_trait::async_trait;
use bytes::Bytes;
use std::collections::HashSet;
use std::io::ErrorKind::NotFound;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Blobs in OCI image layouts under one root.
pub struct FsBlobs {
    layout: Layout,
    io: BlockingPool,
    dedupe: bool,
    dirs: DirSyncs,
}

impl FsBlobs {
    /// Blobs under `layout`'s root, sharing identical content when `dedupe` is on.
    pub fn new(layout: Layout, io: BlockingPool, dedupe: bool) -> FsBlobs {
        FsBlobs {
            layout,
            io,
            dedupe,
            dirs: DirSyncs::default(),
        }
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
    ) -> Result<T> {
        Ok(self.io.run(f).await??)
    }

    /// Run `make`, which puts a new name in `dir` (or returns false when it made none), and make
    /// that name durable: in the same job when no other commit is syncing `dir` (one trip to the
    /// pool, as a lone sequential push has it), else by sharing the directory's next fsync.
    async fn with_new_name(
        &self,
        dir: PathBuf,
        make: impl FnOnce() -> std::io::Result<bool> + Send + 'static,
    ) -> Result<()> {
        let group = self.dirs.of(&dir);
        let inline = group.clone();
        let synced = dir.clone();
        let owed = self
            .blocking(move || {
                if !make()? {
                    return Ok(None);
                }
                let ticket = inline.ticket();
                let done = inline.sync_if_idle(ticket, || fsutil::fsync_dir(&synced))?;
                Ok((!done).then_some(ticket))
            })
            .await?;
        let Some(ticket) = owed else {
            return Ok(());
        };
        let io = self.io.clone();
        group
            .wait(ticket, || async move {
                io.run(move || fsutil::fsync_dir(&dir))
                    .await
                    .map_err(std::io::Error::other)?
            })
            .await?;
        Ok(())
    }
}

/// `Some` of what `f` found, `None` when the file is missing (or is not a regular file).
fn if_present<T>(result: std::io::Result<Option<T>>) -> std::io::Result<Option<T>> {
    match result {
        Err(e) if e.kind() == NotFound => Ok(None),
        other => other,
    }
}

#[async_trait]
impl BlobStore for FsBlobs {
    async fn stat(&self, name: &RepoName, digest: &Digest) -> Result<Option<u64>> {
        let path = self.layout.blob(name, digest);
        self.blocking(move || {
            if_present(std::fs::metadata(path).map(|m| m.is_file().then_some(m.len())))
        })
        .await
    }

    async fn open(&self, name: &RepoName, digest: &Digest) -> Result<Option<BlobFile>> {
        let path = self.layout.blob(name, digest);
        self.blocking(move || {
            if_present((|| {
                let file = std::fs::File::open(path)?;
                let meta = file.metadata()?;
                Ok(meta.is_file().then(|| BlobFile {
                    file,
                    size: meta.len(),
                }))
            })())
        })
        .await
    }

    async fn read(&self, name: &RepoName, digest: &Digest) -> Result<Option<Bytes>> {
        let path = self.layout.blob(name, digest);
        self.blocking(move || if_present(std::fs::read(path).map(|b| Some(Bytes::from(b)))))
            .await
    }

    async fn write(&self, name: &RepoName, digest: &Digest, bytes: Bytes) -> Result<()> {
        let path = self.layout.blob(name, digest);
        let dir = fsutil::parent(&path)?.to_owned();
        self.with_new_name(dir, move || {
            if path.is_file() {
                // Acknowledged as stored: whatever its age, it is as new as this push.
                fsutil::touch(&path).map(|()| false)
            } else {
                fsutil::write_and_rename(&path, &bytes).map(|_| true)
            }
        })
        .await
    }

    async fn first_missing(&self, name: &RepoName, digests: Vec<Digest>) -> Result<Option<Digest>> {
        let paths: Vec<(Digest, PathBuf)> = digests
            .into_iter()
            .map(|d| {
                let path = self.layout.blob(name, &d);
                (d, path)
            })
            .collect();
        self.blocking(move || {
            Ok(paths
                .into_iter()
                .find(|(_, p)| !p.is_file())
                .map(|(d, _)| d))
        })
        .await
    }

    async fn delete(&self, name: &RepoName, digest: &Digest) -> Result<bool> {
        let path = self.layout.blob(name, digest);
        self.blocking(move || {
            if_present((|| {
                if !std::fs::symlink_metadata(&path)?.is_file() {
                    return Ok(None);
                }
                std::fs::remove_file(&path).map(Some)
            })())
            .map(|removed| removed.is_some())
        })
        .await
    }

    async fn mount(
        &self,
        name: &RepoName,
        digest: &Digest,
        from: Option<&RepoName>,
    ) -> Result<bool> {
        let source = match from {
            Some(from) => self.layout.blob(from, digest),
            None if self.dedupe => self.layout.shared_blob(digest),
            None => return Ok(false),
        };
        let target = self.layout.blob(name, digest);
        let share = self.dedupe;
        let require_links = from.is_none();
        self.blocking(move || {
            // A content-index entry only counts while some repository still links to it.
            let live = match std::fs::metadata(&source) {
                Ok(m) => {
                    m.is_file() && (!require_links || std::os::unix::fs::MetadataExt::nlink(&m) > 1)
                }
                Err(e) if e.kind() == NotFound => false,
                Err(e) => return Err(e),
            };
            if !live {
                return Ok(false);
            }
            match fsutil::link_or_copy(&source, &target, share) {
                // Acknowledged as stored: whatever its age, it is as new as this mount.
                Ok(()) => fsutil::touch(&target).map(|()| true),
                // The source vanished between the check and the link (deleted or collected).
                Err(e) if e.kind() == NotFound => Ok(false),
                Err(e) => Err(e),
            }
        })
        .await
    }

    async fn commit(&self, name: &RepoName, digest: &Digest, staged: PathBuf) -> Result<()> {
        let target = self.layout.blob(name, digest);
        let shared = self.dedupe.then(|| self.layout.shared_blob(digest));
        let dir = fsutil::parent(&target)?.to_owned();
        self.with_new_name(dir, move || place(&staged, &target, shared.as_deref()))
            .await
    }

    async fn sweep(
        &self,
        name: &RepoName,
        keep: HashSet<Digest>,
        delay: Duration,
    ) -> Result<usize> {
        let repo_dir = self.layout.repo(name);
        self.blocking(move || {
            let removed =
                sweep::sweep_blobs(&repo_dir.join("blobs"), delay, |d| !keep.contains(d))?;
            sweep::sweep_leftovers(&repo_dir, delay)?;
            Ok(removed)
        })
        .await
    }

    async fn collect(&self, delay: Duration) -> Result<usize> {
        let shared = self.layout.shared_blobs();
        self.blocking(move || {
            use std::os::unix::fs::MetadataExt;
            let mut removed = 0;
            // Unlinking from the last repository bumps the ctime, so entries age by mtime.
            let unused = |m: &std::fs::Metadata| {
                m.nlink() <= 1 && m.modified().ok().and_then(|t| t.elapsed().ok()) >= Some(delay)
            };
            for alg in sweep::read_dir_or_empty(&shared)? {
                removed += sweep::sweep_dir(&alg, unused)?.len();
            }
            Ok(removed)
        })
        .await
    }
}

/// Fsync `file` and rename it to `target` (or drop it when identical content is already
/// there, linking from the content index when possible), then record `target` in the content
/// index. A `target` that exists but is not a regular file is never taken for the blob.
/// Returns whether `target` is a new name (its directory then needs a sync).
fn place(file: &Path, target: &Path, shared: Option<&Path>) -> std::io::Result<bool> {
    let dir = fsutil::parent(target)?;
    std::fs::create_dir_all(dir)?;
    match std::fs::symlink_metadata(target) {
        Ok(m) if m.is_file() => {
            // Acknowledged as stored: whatever its age, it is as new as this push.
            fsutil::touch(target)?;
            std::fs::remove_file(file)?;
            return Ok(false);
        }
        Ok(_) => {
            return Err(std::io::Error::other(format!(
                "{} is in the way of a blob and is not a file",
                target.display()
            )))
        }
        Err(e) if e.kind() == NotFound => {}
        Err(e) => return Err(e),
    }
    if let Some(shared) = shared.filter(|s| s.is_file()) {
        if std::fs::hard_link(shared, target).is_ok() {
            fsutil::touch(target)?;
            std::fs::remove_file(file)?;
            return Ok(true);
        }
    }
    // Only a file that becomes the blob needs its content made durable.
    std::fs::File::open(file)?.sync_all()?;
    std::fs::rename(file, target)?;
    if let Some(shared) = shared {
        std::fs::create_dir_all(fsutil::parent(shared)?)?;
        // The content index's new name is not synced: the blob is durable through `target`,
        // and an entry lost in a crash only costs a later push the chance to share this inode.
        match std::fs::hard_link(target, shared) {
            Ok(()) => {}
            // A concurrent push of the same content won: share its inode instead of ours.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let tmp = fsutil::temp_path(dir);
                if std::fs::hard_link(shared, &tmp).is_ok() {
                    std::fs::rename(&tmp, target)?;
                }
            }
            Err(_) => {} // another filesystem: no sharing
        }
    }
    Ok(true)
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
