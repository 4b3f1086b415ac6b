//! Blob upload sessions. Bytes stream to `<repo>/.uploads/<id>` while being hashed; a session
//! outlives a restart (its file is re-hashed on first use); a failed or mismatched chunk is
//! rolled back; only a verified, fsynced file is moved into the repository.

use super::{blocking, Result, Storage, StorageError};
use crate::oci::{Algorithm, Digest, Hasher, RepoName};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use std::collections::HashMap;
use std::io::SeekFrom;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Bytes gathered before one write to disk.
const WRITE_BATCH: usize = 1 << 20;

/// Where an upload stands.
#[derive(Clone, Copy, Debug)]
pub struct UploadStatus {
    /// Bytes received so far.
    pub size: u64,
}

/// One open upload.
struct Session {
    repo: RepoName,
    path: PathBuf,
    size: u64,
    /// SHA-256 of the bytes so far; None until re-read after a restart.
    hasher: Option<Hasher>,
}

/// The sessions this process has touched.
#[derive(Default)]
pub struct Sessions {
    open: Mutex<HashMap<uuid::Uuid, Arc<tokio::sync::Mutex<Session>>>>,
}

impl Storage {
    /// Open a new upload session in `name`; returns its id.
    pub async fn start_upload(&self, name: &RepoName) -> Result<String> {
        self.ensure_repo(name).await?;
        let id = uuid::Uuid::new_v4();
        let dir = self.layout.uploads(name);
        tokio::fs::create_dir_all(&dir).await?;
        let path = dir.join(id.to_string());
        tokio::fs::File::create(&path).await?;
        let session = Session {
            repo: name.clone(),
            path,
            size: 0,
            hasher: Some(Hasher::new(Algorithm::Sha256)),
        };
        self.uploads
            .open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, Arc::new(tokio::sync::Mutex::new(session)));
        Ok(id.to_string())
    }

    /// Find a session by id, restoring it from disk after a restart.
    async fn session(&self, name: &RepoName, id: &str) -> Result<Arc<tokio::sync::Mutex<Session>>> {
        let id = uuid::Uuid::try_parse(id).map_err(|_| StorageError::UploadUnknown)?;
        let known = self
            .uploads
            .open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .cloned();
        if let Some(session) = known {
            if &session.lock().await.repo != name {
                return Err(StorageError::UploadUnknown);
            }
            return Ok(session);
        }
        if !self.repo_exists(name) {
            return Err(StorageError::UploadUnknown);
        }
        let path = self.layout.uploads(name).join(id.to_string());
        let size = match tokio::fs::metadata(&path).await {
            Ok(m) if m.is_file() => m.len(),
            Ok(_) => return Err(StorageError::UploadUnknown),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StorageError::UploadUnknown)
            }
            Err(e) => return Err(e.into()),
        };
        let restored = Arc::new(tokio::sync::Mutex::new(Session {
            repo: name.clone(),
            path,
            size,
            hasher: None,
        }));
        let mut open = self.uploads.open.lock().unwrap_or_else(|e| e.into_inner());
        Ok(open.entry(id).or_insert(restored).clone())
    }

    /// How much of an upload has arrived.
    pub async fn upload_status(&self, name: &RepoName, id: &str) -> Result<UploadStatus> {
        let session = self.session(name, id).await?;
        let size = session.lock().await.size;
        Ok(UploadStatus { size })
    }

    /// Append a chunk. `range` is the chunk's (first, last) byte offsets when the client sent
    /// `Content-Range`; the first must equal the bytes received so far, and the chunk's length
    /// must match. A chunk that fails is rolled back entirely.
    pub async fn append_upload<S, E>(
        &self,
        name: &RepoName,
        id: &str,
        range: Option<(u64, u64)>,
        body: S,
    ) -> Result<UploadStatus>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let session = self.session(name, id).await?;
        let mut session = session.lock().await;
        if let Some((first, _)) = range {
            if first != session.size {
                return Err(StorageError::RangeInvalid { size: session.size });
            }
        }
        let written = append(&mut session, body).await?;
        if let Some((first, last)) = range {
            if last.checked_sub(first).map(|l| l + 1) != Some(written) {
                rollback(&mut session, written).await?;
                return Err(StorageError::RangeInvalid { size: session.size });
            }
        }
        Ok(UploadStatus { size: session.size })
    }

    /// Append the final chunk (possibly empty; `range` as for [`Storage::append_upload`]),
    /// verify the content against `digest`, and move it into the repository. An out-of-order
    /// final chunk leaves the session as it was; otherwise the session ends, matched or not.
    pub async fn finish_upload<S, E>(
        &self,
        name: &RepoName,
        id: &str,
        range: Option<(u64, u64)>,
        digest: &Digest,
        body: S,
    ) -> Result<()>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let handle = self.session(name, id).await?;
        let mut session = handle.lock().await;
        if let Some((first, _)) = range {
            if first != session.size {
                return Err(StorageError::RangeInvalid { size: session.size });
            }
        }
        append(&mut session, body).await?;
        let path = session.path.clone();
        let actual = match (digest.algorithm(), session.hasher.clone()) {
            (Algorithm::Sha256, Some(hasher)) => hasher.finish(),
            (algorithm, _) => hash_file(path.clone(), algorithm).await?,
        };
        self.forget_upload(id);
        if &actual != digest {
            let _ = tokio::fs::remove_file(&path).await;
            return Err(StorageError::DigestMismatch);
        }
        blocking({
            let path = path.clone();
            move || std::fs::File::open(path)?.sync_all()
        })
        .await?;
        self.commit_blob(name, digest, path).await
    }

    /// Push a whole blob in one request.
    pub async fn put_blob<S, E>(&self, name: &RepoName, digest: &Digest, body: S) -> Result<()>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let id = self.start_upload(name).await?;
        self.finish_upload(name, &id, None, digest, body).await
    }

    /// Abandon an upload and delete what it received.
    pub async fn cancel_upload(&self, name: &RepoName, id: &str) -> Result<()> {
        let handle = self.session(name, id).await?;
        let session = handle.lock().await;
        self.forget_upload(id);
        match tokio::fs::remove_file(&session.path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(StorageError::UploadUnknown),
            Err(e) => Err(e.into()),
        }
    }

    fn forget_upload(&self, id: &str) {
        if let Ok(id) = uuid::Uuid::try_parse(id) {
            self.uploads
                .open
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&id);
        }
    }

    /// Drop in-memory sessions whose files garbage collection removed.
    pub(super) fn forget_uploads_of(&self, removed: &[PathBuf]) {
        let ids: Vec<uuid::Uuid> = removed
            .iter()
            .filter_map(|p| p.file_name()?.to_str()?.parse().ok())
            .collect();
        let mut open = self.uploads.open.lock().unwrap_or_else(|e| e.into_inner());
        for id in ids {
            open.remove(&id);
        }
    }
}

/// Stream `body` onto the end of the session's file; returns the bytes written. Receiving and
/// hashing run here while a blocking thread writes the previous batch, so the disk and the
/// network overlap. On a body or disk error the file and hash are restored to where they were.
async fn append<S, E>(session: &mut Session, mut body: S) -> Result<u64>
where
    S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    if session.hasher.is_none() {
        let path = session.path.clone();
        let hash = blocking(move || {
            let mut hasher = Hasher::new(Algorithm::Sha256);
            let mut f = std::fs::File::open(path)?;
            copy_into_hasher(&mut f, &mut hasher)?;
            Ok(hasher)
        })
        .await?;
        session.hasher = Some(hash);
    }
    let before_hash = session.hasher.clone();
    let (batches, writer) = spawn_writer(session.path.clone(), session.size);
    let mut written = 0u64;
    let mut batch: Vec<u8> = Vec::with_capacity(WRITE_BATCH);
    let received: Result<()> = async {
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| StorageError::Body(e.to_string()))?;
            if let Some(h) = session.hasher.as_mut() {
                h.update(&chunk);
            }
            batch.extend_from_slice(&chunk);
            written += chunk.len() as u64;
            if batch.len() >= WRITE_BATCH {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(WRITE_BATCH));
                if batches.send(full).await.is_err() {
                    break; // the writer failed; its error is reported below
                }
            }
        }
        if !batch.is_empty() {
            let _ = batches.send(batch).await;
        }
        Ok(())
    }
    .await;
    drop(batches);
    let stored = writer.await.map_err(std::io::Error::other).and_then(|r| r);
    match (received, stored) {
        (Ok(()), Ok(())) => {
            session.size += written;
            Ok(written)
        }
        (received, stored) => {
            session.hasher = before_hash;
            let f = tokio::fs::OpenOptions::new()
                .write(true)
                .open(&session.path)
                .await?;
            f.set_len(session.size).await?;
            Err(match (received, stored) {
                (Err(e), _) => e,
                (_, Err(e)) => e.into(),
                _ => unreachable!("both succeeded"),
            })
        }
    }
}

/// Batches in flight between the receiving task and the disk writer.
const WRITE_QUEUE: usize = 4;

/// A blocking thread writing the batches it is sent to `path`, from `offset` on, in order.
fn spawn_writer(
    path: PathBuf,
    offset: u64,
) -> (
    tokio::sync::mpsc::Sender<Vec<u8>>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    use std::io::{Seek, Write};
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(WRITE_QUEUE);
    let writer = tokio::task::spawn_blocking(move || {
        let mut file = std::fs::OpenOptions::new().write(true).open(path)?;
        file.seek(SeekFrom::Start(offset))?;
        while let Some(batch) = rx.blocking_recv() {
            file.write_all(&batch)?;
        }
        Ok(())
    });
    (tx, writer)
}

/// Undo the last `written` bytes of an append.
async fn rollback(session: &mut Session, written: u64) -> Result<()> {
    session.size -= written;
    let f = tokio::fs::OpenOptions::new()
        .write(true)
        .open(&session.path)
        .await?;
    f.set_len(session.size).await?;
    session.hasher = None; // re-read from disk on next use
    Ok(())
}

/// Hash a whole file with `algorithm`.
async fn hash_file(path: PathBuf, algorithm: Algorithm) -> Result<Digest> {
    Ok(blocking(move || {
        let mut hasher = Hasher::new(algorithm);
        copy_into_hasher(&mut std::fs::File::open(path)?, &mut hasher)?;
        Ok(hasher.finish())
    })
    .await?)
}

fn copy_into_hasher(f: &mut std::fs::File, hasher: &mut Hasher) -> std::io::Result<()> {
    use std::io::Read;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        hasher.update(&buf[..n]);
    }
}
