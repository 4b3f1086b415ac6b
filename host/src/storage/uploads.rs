//! Blob upload sessions. Bytes stream to `<repo>/.uploads/<id>`; each batch is hashed and
//! written by a short job on the storage pool (no thread is held for the life of a body, so a
//! thousand slow uploads cost memory, not threads). A session outlives a restart (its file is
//! re-hashed on first use); a failed or mismatched chunk is rolled back; only a verified,
//! fsynced file is moved into the repository. Sessions are bounded per repository and in
//! total, and one left idle for `upload_timeout` is abandoned.
//!
//! A new session's file is created while the POST's reply goes out, by a job that holds the
//! session until it is done: the client's next request on the session waits for it (usually
//! it is long done, the network round trip being slower than a file creation), and creates the
//! file itself if that job could not. A sequential push so waits for one storage job fewer.

use super::{BodyError, Landing, Result, Storage, StorageError};
use crate::oci::{Algorithm, Digest, Hasher, RepoName};
use bytes::Bytes;
use futures_util::{FutureExt, Stream, StreamExt};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Default `storage.maxUploads`.
pub const MAX_UPLOADS: usize = 4096;
/// Default `storage.maxUploadsPerRepository`.
pub const MAX_UPLOADS_PER_REPOSITORY: usize = 256;
/// Default `storage.uploadTimeout`.
pub const UPLOAD_TIMEOUT: Duration = Duration::from_secs(3600);
/// Bytes gathered before one write to disk.
const WRITE_BATCH: usize = 1 << 20;
/// A batch this small is hashed by the job that writes it (microseconds: less than a job).
const SMALL_BATCH: u64 = 16 << 10;

/// Who follows an upload as it lands, and the size its source announced.
type Reporter = Option<(watch::Sender<Landing>, Option<u64>)>;

/// Where an upload stands.
#[derive(Clone, Copy, Debug)]
pub struct UploadStatus {
    /// Bytes received so far.
    pub size: u64,
}

/// One open upload.
struct Session {
    path: PathBuf,
    size: u64,
    /// SHA-256 of the bytes so far; None until re-read after a restart.
    hasher: Option<Hasher>,
    /// Whether the file exists (false while its creation failed: the next user creates it).
    created: bool,
}

/// A session and when it was last used.
struct Entry {
    session: Arc<tokio::sync::Mutex<Session>>,
    repo: RepoName,
    touched: Instant,
}

/// The sessions this process has touched.
#[derive(Default)]
pub struct Sessions {
    open: Mutex<HashMap<uuid::Uuid, Entry>>,
}

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<uuid::Uuid, Entry>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Undo the last `written` bytes of an append, or a whole append that failed.
async fn truncate_to(storage: &Storage, path: PathBuf, size: u64) -> Result<()> {
    storage
        .blocking(move || {
            std::fs::OpenOptions::new()
                .write(true)
                .open(path)?
                .set_len(size)
        })
        .await
}

impl Storage {
    /// Open a new upload session in `name`; returns its id. Its file is created in the
    /// background (see the module's documentation).
    pub async fn start_upload(&self, name: &RepoName) -> Result<String> {
        self.check_upload_limits(name)?;
        self.ensure_repo(name).await?;
        let id = uuid::Uuid::new_v4();
        let session = Arc::new(tokio::sync::Mutex::new(Session {
            path: self.layout.uploads(name).join(id.to_string()),
            size: 0,
            hasher: Some(Hasher::new(Algorithm::Sha256)),
            created: false,
        }));
        let mut creating = session
            .clone()
            .try_lock_owned()
            .expect("a new session is not shared yet");
        self.uploads.lock().insert(
            id,
            Entry {
                session,
                repo: name.clone(),
                touched: Instant::now(),
            },
        );
        let io = self.io.clone();
        tokio::spawn(async move {
            let path = creating.path.clone();
            creating.created =
                matches!(io.run(move || create_session_file(&path)).await, Ok(Ok(())));
        });
        Ok(id.to_string())
    }

    /// Create the session's file if its background creation failed.
    async fn ensure_created(&self, session: &mut Session) -> Result<()> {
        if !session.created {
            let path = session.path.clone();
            self.blocking(move || create_session_file(&path)).await?;
            session.created = true;
        }
        Ok(())
    }

    fn check_upload_limits(&self, name: &RepoName) -> Result<()> {
        let open = self.uploads.lock();
        let total = self.options.max_uploads;
        if open.len() >= total {
            return Err(StorageError::TooManyUploads {
                scope: "storage.maxUploads",
                limit: total,
            });
        }
        let per_repo = self.options.max_uploads_per_repository;
        if open.values().filter(|e| &e.repo == name).count() >= per_repo {
            return Err(StorageError::TooManyUploads {
                scope: "storage.maxUploadsPerRepository",
                limit: per_repo,
            });
        }
        Ok(())
    }

    /// Find a session by id, restoring it from disk after a restart.
    async fn session(&self, name: &RepoName, id: &str) -> Result<Arc<tokio::sync::Mutex<Session>>> {
        let id = uuid::Uuid::try_parse(id).map_err(|_| StorageError::UploadUnknown)?;
        let known = self.uploads.lock().get_mut(&id).map(|e| {
            e.touched = Instant::now();
            (e.session.clone(), e.repo.clone())
        });
        if let Some((session, repo)) = known {
            if &repo != name {
                return Err(StorageError::UploadUnknown);
            }
            return Ok(session);
        }
        if !self.repo_exists(name) {
            return Err(StorageError::UploadUnknown);
        }
        let path = self.layout.uploads(name).join(id.to_string());
        let probe = path.clone();
        let size = match self
            .blocking(move || std::fs::symlink_metadata(probe))
            .await
        {
            Ok(m) if m.is_file() => m.len(),
            Ok(_) => return Err(StorageError::UploadUnknown),
            Err(StorageError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StorageError::UploadUnknown)
            }
            Err(e) => return Err(e),
        };
        self.check_upload_limits(name)?;
        let restored = Arc::new(tokio::sync::Mutex::new(Session {
            path,
            size,
            hasher: None,
            created: true,
        }));
        let mut open = self.uploads.lock();
        Ok(open
            .entry(id)
            .or_insert(Entry {
                session: restored,
                repo: name.clone(),
                touched: Instant::now(),
            })
            .session
            .clone())
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
    pub async fn append_upload<S>(
        &self,
        name: &RepoName,
        id: &str,
        range: Option<(u64, u64)>,
        body: S,
    ) -> Result<UploadStatus>
    where
        S: Stream<Item = std::result::Result<Bytes, BodyError>> + Unpin,
    {
        let session = self.session(name, id).await?;
        let mut session = session.lock().await;
        self.ensure_created(&mut session).await?;
        if let Some((first, _)) = range {
            if first != session.size {
                return Err(StorageError::RangeInvalid { size: session.size });
            }
        }
        let before = (session.size, session.hasher.clone());
        let written = self.append(&mut session, body, &None).await?;
        if let Some((first, last)) = range {
            if last.checked_sub(first).map(|l| l + 1) != Some(written) {
                (session.size, session.hasher) = before;
                truncate_to(self, session.path.clone(), session.size).await?;
                return Err(StorageError::RangeInvalid { size: session.size });
            }
        }
        Ok(UploadStatus { size: session.size })
    }

    /// Append the final chunk (possibly empty; `range` as for [`Storage::append_upload`]),
    /// verify the content against `digest`, and move it into the repository. An out-of-order
    /// final chunk leaves the session as it was; otherwise the session ends, matched or not.
    pub async fn finish_upload<S>(
        &self,
        name: &RepoName,
        id: &str,
        range: Option<(u64, u64)>,
        digest: &Digest,
        body: S,
    ) -> Result<()>
    where
        S: Stream<Item = std::result::Result<Bytes, BodyError>> + Unpin,
    {
        self.finish(name, id, range, digest, body, None).await
    }

    /// [`Storage::finish_upload`], telling `reporter` what lands.
    async fn finish<S>(
        &self,
        name: &RepoName,
        id: &str,
        range: Option<(u64, u64)>,
        digest: &Digest,
        body: S,
        reporter: Reporter,
    ) -> Result<()>
    where
        S: Stream<Item = std::result::Result<Bytes, BodyError>> + Unpin,
    {
        let handle = self.session(name, id).await?;
        let mut session = handle.lock().await;
        self.ensure_created(&mut session).await?;
        if let Some((first, _)) = range {
            if first != session.size {
                return Err(StorageError::RangeInvalid { size: session.size });
            }
        }
        self.append(&mut session, body, &reporter).await?;
        let path = session.path.clone();
        let sha256 = session
            .hasher
            .clone()
            .filter(|_| digest.algorithm() == Algorithm::Sha256);
        let algorithm = digest.algorithm();
        let hashed = path.clone();
        let streamed = sha256.map(Hasher::finish);
        if streamed.as_ref() == Some(digest) {
            // Readers may have the whole blob now; making it durable is storage's business.
            verified(&reporter);
        }
        // The file is hashed again only when the streamed hash does not apply; the blob
        // store makes it durable as it takes it.
        let actual = match streamed {
            Some(actual) => Ok(actual),
            None => self.blocking(move || hash_file(&hashed, algorithm)).await,
        };
        self.forget_upload(id);
        let actual = match actual {
            Ok(a) => a,
            Err(e) => {
                self.discard(path).await;
                return Err(e);
            }
        };
        if &actual != digest {
            self.discard(path).await;
            return Err(StorageError::DigestMismatch);
        }
        match self.commit_blob(name, digest, path.clone()).await {
            Ok(()) => Ok(()),
            Err(e) => {
                self.discard(path).await;
                Err(e)
            }
        }
    }

    /// Push a whole blob in one request.
    pub async fn put_blob<S>(&self, name: &RepoName, digest: &Digest, body: S) -> Result<()>
    where
        S: Stream<Item = std::result::Result<Bytes, BodyError>> + Unpin,
    {
        self.put_blob_reporting(name, digest, body, None).await
    }

    /// [`Storage::put_blob`], telling `reporter` what lands.
    pub(super) async fn put_blob_reporting<S>(
        &self,
        name: &RepoName,
        digest: &Digest,
        body: S,
        reporter: Reporter,
    ) -> Result<()>
    where
        S: Stream<Item = std::result::Result<Bytes, BodyError>> + Unpin,
    {
        let id = self.start_upload(name).await?;
        let result = self.finish(name, &id, None, digest, body, reporter).await;
        if result.is_err() {
            // A monolithic push leaves no session behind, whatever went wrong.
            let _ = self.cancel_upload(name, &id).await;
        }
        result
    }

    /// Abandon an upload and delete what it received.
    pub async fn cancel_upload(&self, name: &RepoName, id: &str) -> Result<()> {
        let handle = self.session(name, id).await?;
        let session = handle.lock().await;
        self.forget_upload(id);
        if !session.created {
            return Ok(()); // its file was never made: nothing on disk to remove
        }
        let path = session.path.clone();
        match self.blocking(move || std::fs::remove_file(path)).await {
            Ok(()) => Ok(()),
            Err(StorageError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(StorageError::UploadUnknown)
            }
            Err(e) => Err(e),
        }
    }

    /// Remove a file a failed upload left (best effort: GC collects it otherwise).
    async fn discard(&self, path: PathBuf) {
        let _ = self.blocking(move || std::fs::remove_file(path)).await;
    }

    fn forget_upload(&self, id: &str) {
        if let Ok(id) = uuid::Uuid::try_parse(id) {
            self.uploads.lock().remove(&id);
        }
    }

    /// Drop in-memory sessions whose files garbage collection removed.
    pub(super) fn forget_uploads_of(&self, removed: &[PathBuf]) {
        let ids: Vec<uuid::Uuid> = removed
            .iter()
            .filter_map(|p| p.file_name()?.to_str()?.parse().ok())
            .collect();
        let mut open = self.uploads.lock();
        for id in ids {
            open.remove(&id);
        }
    }

    /// Abandon sessions idle for longer than `storage.uploadTimeout` (not in use right now):
    /// their files are removed and they no longer count against the limits. Returns how many.
    pub async fn expire_uploads(&self) -> usize {
        let timeout = self.options.upload_timeout;
        let expired: Vec<(uuid::Uuid, Arc<tokio::sync::Mutex<Session>>)> = {
            let mut open = self.uploads.lock();
            let stale: Vec<uuid::Uuid> = open
                .iter()
                .filter(|(_, e)| e.touched.elapsed() >= timeout)
                .map(|(id, _)| *id)
                .collect();
            stale
                .into_iter()
                .filter_map(|id| {
                    let entry = open.get(&id)?;
                    // A session someone holds right now is not idle.
                    drop(entry.session.try_lock().ok()?);
                    open.remove(&id).map(|e| (id, e.session))
                })
                .collect()
        };
        for (_, session) in &expired {
            let path = session.lock().await.path.clone();
            self.discard(path).await;
        }
        expired.len()
    }

    /// Stream `body` onto the end of the session's file; returns the bytes written. A small
    /// body that has arrived whole by the time its first chunk is read (a monolithic push of a
    /// small blob, the usual last chunk) is opened, written and hashed by one job; anything
    /// else goes through [`Storage::append_streamed`].
    async fn append<S>(
        &self,
        session: &mut Session,
        mut body: S,
        reporter: &Reporter,
    ) -> Result<u64>
    where
        S: Stream<Item = std::result::Result<Bytes, BodyError>> + Unpin,
    {
        let hasher = match (&session.hasher, reporter) {
            (Some(hasher), None) => hasher.clone(),
            _ => return self.append_streamed(session, body, reporter).await,
        };
        let mut arrived = Vec::new();
        let mut len = 0;
        let mut next = body.next().await;
        let whole = loop {
            match next {
                None => break true,
                Some(chunk) => {
                    let chunk = chunk.map_err(StorageError::Body)?;
                    len += chunk.len() as u64;
                    arrived.push(chunk);
                }
            }
            if len > SMALL_BATCH {
                break false;
            }
            match body.next().now_or_never() {
                Some(more) => next = more,
                None => break false,
            }
        };
        if !whole {
            let arrived = futures_util::stream::iter(arrived.into_iter().map(Ok));
            return self
                .append_streamed(session, arrived.chain(body), reporter)
                .await;
        }
        self.check_blob_size(session.size + len)?;
        if len == 0 {
            return Ok(0);
        }
        let (path, at) = (session.path.clone(), session.size);
        let written = self
            .blocking(move || {
                let file = std::fs::OpenOptions::new().write(true).open(&path)?;
                write_hashed(&file, &arrived, at, hasher)
            })
            .await;
        match written {
            Ok(hasher) => {
                session.size += len;
                session.hasher = Some(hasher);
                Ok(len)
            }
            Err(e) => {
                truncate_to(self, session.path.clone(), session.size).await?;
                Err(e)
            }
        }
    }

    /// Stream `body` onto the end of the session's file; returns the bytes written. Each batch
    /// is hashed and written by a job on the storage pool while the next one is received. On a
    /// body or disk error (or the size limit), the file and hash are restored. `reporter` is
    /// told each batch once it is written.
    async fn append_streamed<S>(
        &self,
        session: &mut Session,
        mut body: S,
        reporter: &Reporter,
    ) -> Result<u64>
    where
        S: Stream<Item = std::result::Result<Bytes, BodyError>> + Unpin,
    {
        let path = session.path.clone();
        let stale_hasher = session.hasher.is_none();
        let (file, hasher) = self
            .blocking(move || {
                let mut file = std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(&path)?;
                let hasher = if stale_hasher {
                    let mut hasher = Hasher::new(Algorithm::Sha256);
                    copy_into_hasher(&mut file, &mut hasher)?;
                    Some(hasher)
                } else {
                    None
                };
                Ok((Arc::new(file), hasher))
            })
            .await?;
        if let Some(h) = hasher {
            session.hasher = Some(h);
        }
        report(reporter, &file, session.size);
        let start = (session.size, session.hasher.clone());
        let mut offset = session.size;
        let mut hasher = session
            .hasher
            .take()
            .unwrap_or_else(|| Hasher::new(Algorithm::Sha256));
        let mut in_flight: Option<tokio::task::JoinHandle<Result<Hasher>>> = None;
        // The chunks as they came (no copy), and their length.
        let mut batch: Vec<Bytes> = Vec::new();
        let mut batch_len = 0usize;
        let outcome: Result<()> = async {
            loop {
                // Followed by readers, what has arrived is written as soon as the source
                // pauses with the disk idle, not only in whole batches; while a write runs,
                // what arrives gathers into the next batch. `None`: write now.
                let next = if reporter.is_some() && batch_len > 0 {
                    match in_flight.as_mut() {
                        Some(write) => {
                            let written = tokio::select! {
                                biased;
                                chunk = body.next() => Err(chunk),
                                written = write => Ok(written),
                            };
                            match written {
                                Err(chunk) => Some(chunk),
                                Ok(written) => {
                                    in_flight = None;
                                    hasher = written.map_err(std::io::Error::other)??;
                                    None
                                }
                            }
                        }
                        None => body.next().now_or_never(),
                    }
                } else {
                    Some(body.next().await)
                };
                let (paused, done) = (next.is_none(), matches!(next, Some(None)));
                if let Some(Some(chunk)) = next {
                    let chunk = chunk.map_err(StorageError::Body)?;
                    batch_len += chunk.len();
                    batch.push(chunk);
                    self.check_blob_size(offset + batch_len as u64)?;
                }
                let flush = batch_len >= WRITE_BATCH || paused || done;
                if flush && batch_len > 0 {
                    if let Some(previous) = in_flight.take() {
                        hasher = previous.await.map_err(std::io::Error::other)??;
                    }
                    let full = std::mem::take(&mut batch);
                    let at = offset;
                    offset += std::mem::take(&mut batch_len) as u64;
                    let (io, file) = (self.io.clone(), file.clone());
                    let h = std::mem::replace(&mut hasher, Hasher::new(Algorithm::Sha256));
                    let reporter = reporter.clone();
                    in_flight = Some(tokio::spawn(async move {
                        if offset - at <= SMALL_BATCH {
                            // Hashing it costs less than a second job.
                            let job = io.run(move || {
                                let hashed = write_hashed(&file, &full, at, h)?;
                                report(&reporter, &file, offset);
                                Ok::<_, std::io::Error>(hashed)
                            });
                            return Ok(job.await??);
                        }
                        // A larger batch is written and hashed at once, by two jobs.
                        let (written, hashed) = (file.clone(), full.clone());
                        let write = async {
                            io.run(move || write_all_vectored_at(&written, &full, at))
                                .await??;
                            report(&reporter, &file, offset);
                            Ok::<_, StorageError>(())
                        };
                        let hash = io.run(move || hash_chunks(h, &hashed));
                        let (write, hash) = tokio::join!(write, hash);
                        write?;
                        Ok::<_, StorageError>(hash?)
                    }));
                }
                if done {
                    break;
                }
            }
            if let Some(last) = in_flight.take() {
                hasher = last.await.map_err(std::io::Error::other)??;
            }
            Ok(())
        }
        .await;
        if let Some(pending) = in_flight.take() {
            let _ = pending.await; // never leave a write running behind a rollback
        }
        match outcome {
            Ok(()) => {
                let written = offset - start.0;
                session.size = offset;
                session.hasher = Some(hasher);
                Ok(written)
            }
            Err(e) => {
                (session.size, session.hasher) = start;
                truncate_to(self, session.path.clone(), session.size).await?;
                Err(e)
            }
        }
    }
}

/// Create an empty session file (and the repository's uploads directory).
fn create_session_file(path: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(crate::fsutil::parent(path)?)?;
    std::fs::File::create(path).map(drop)
}

/// Write `chunks` one after another at `at` in `file`, with as few calls as the kernel
/// allows (no copy into one buffer).
fn write_all_vectored_at(
    file: &std::fs::File,
    chunks: &[Bytes],
    mut at: u64,
) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    /// Buffers per call (Linux's `IOV_MAX`).
    const MAX_IOV: usize = 1024;
    let mut rest: Vec<&[u8]> = chunks
        .iter()
        .map(|c| &c[..])
        .filter(|c| !c.is_empty())
        .collect();
    let mut first = 0;
    while first < rest.len() {
        let iov: Vec<libc::iovec> = rest[first..]
            .iter()
            .take(MAX_IOV)
            .map(|c| libc::iovec {
                iov_base: c.as_ptr() as *mut libc::c_void,
                iov_len: c.len(),
            })
            .collect();
        // SAFETY: every iovec points into a live chunk of `rest`, which outlives the call;
        // pwritev only reads them.
        let n = unsafe {
            libc::pwritev(
                file.as_raw_fd(),
                iov.as_ptr(),
                iov.len() as libc::c_int,
                at as libc::off_t,
            )
        };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        let mut n = n as usize;
        at += n as u64;
        while n > 0 {
            let len = rest[first].len();
            if n >= len {
                n -= len;
                first += 1;
            } else {
                rest[first] = &rest[first][n..];
                n = 0;
            }
        }
    }
    Ok(())
}

/// Write `chunks` at `at` in `file`, then feed them to `hasher` (for batches small enough that
/// hashing costs less than a second job).
fn write_hashed(
    file: &std::fs::File,
    chunks: &[Bytes],
    at: u64,
    hasher: Hasher,
) -> std::io::Result<Hasher> {
    write_all_vectored_at(file, chunks, at)?;
    Ok(hash_chunks(hasher, chunks))
}

/// `hasher` fed `chunks` in order.
fn hash_chunks(mut hasher: Hasher, chunks: &[Bytes]) -> Hasher {
    chunks.iter().for_each(|chunk| hasher.update(chunk));
    hasher
}

/// Tell `reporter` that the first `bytes` bytes of `file` are written.
fn report(reporter: &Reporter, file: &Arc<std::fs::File>, bytes: u64) {
    if let Some((landing, size)) = reporter {
        landing.send_replace(Landing::Writing {
            file: file.clone(),
            bytes,
            size: *size,
        });
    }
}

/// Tell `reporter` that everything written is verified.
fn verified(reporter: &Reporter) {
    if let Some((landing, _)) = reporter {
        landing.send_modify(|now| {
            if let Landing::Writing { file, bytes, .. } = now {
                *now = Landing::Verified {
                    file: file.clone(),
                    bytes: *bytes,
                };
            }
        });
    }
}

/// Hash a whole file with `algorithm`.
fn hash_file(path: &std::path::Path, algorithm: Algorithm) -> std::io::Result<Digest> {
    let mut hasher = Hasher::new(algorithm);
    copy_into_hasher(&mut std::fs::File::open(path)?, &mut hasher)?;
    Ok(hasher.finish())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::StorageOptions;
    use futures_util::stream;
    use std::io::Read;

    type Chunk = std::result::Result<Bytes, BodyError>;

    fn digest(bytes: &[u8]) -> Digest {
        Digest::of(Algorithm::Sha256, bytes)
    }

    async fn stored(storage: &Storage, name: &RepoName, digest: &Digest) -> Vec<u8> {
        let mut blob = storage.open_blob(name, digest).await.expect("blob stored");
        let mut content = Vec::new();
        blob.file.read_to_end(&mut content).unwrap();
        content
    }

    #[tokio::test]
    async fn a_session_file_is_created_at_once_or_by_the_sessions_next_user() {
        let root = tempfile::tempdir().unwrap();
        let storage = Storage::open(StorageOptions::new(root.path().to_owned()))
            .await
            .unwrap();
        let name = RepoName::parse("team/app").unwrap();
        let uploads = storage.layout.uploads(&name);

        // Created in the background: there by the time the session can be used.
        let id = storage.start_upload(&name).await.unwrap();
        assert_eq!(storage.upload_status(&name, &id).await.unwrap().size, 0);
        assert!(
            uploads.join(&id).is_file(),
            "created while the reply went out"
        );

        // A creation that fails (a file where the uploads directory goes) is retried by the
        // session's next user, and the upload completes.
        std::fs::remove_dir_all(&uploads).unwrap();
        std::fs::write(&uploads, b"in the way").unwrap();
        // A monolithic push that cannot create its file fails and leaves no session behind.
        let open = storage.uploads.lock().len();
        let refused: Vec<Chunk> = vec![Ok(Bytes::from_static(b"refused"))];
        let failed = storage
            .put_blob(&name, &digest(b"refused"), stream::iter(refused))
            .await;
        assert!(failed.is_err());
        assert_eq!(
            storage.uploads.lock().len(),
            open,
            "the session is forgotten"
        );
        let id = storage.start_upload(&name).await.unwrap();
        storage.upload_status(&name, &id).await.unwrap(); // the creation job has run
        assert!(!uploads.join(&id).exists());
        std::fs::remove_file(&uploads).unwrap();
        let blob = b"late file".to_vec();
        let chunk: Vec<Chunk> = vec![Ok(Bytes::from(blob.clone()))];
        storage
            .finish_upload(&name, &id, None, &digest(&blob), stream::iter(chunk))
            .await
            .unwrap();
        assert_eq!(stored(&storage, &name, &digest(&blob)).await, blob);
    }

    #[tokio::test]
    async fn bodies_whole_at_once_paused_or_too_large_land_exactly_or_not_at_all() {
        let root = tempfile::tempdir().unwrap();
        let mut options = StorageOptions::new(root.path().to_owned());
        options.max_blob_size = 12 << 10;
        let storage = Storage::open(options).await.unwrap();
        let name = RepoName::parse("team/app").unwrap();

        // Whole at the first read: one job writes and hashes it.
        let small = b"small blob".to_vec();
        let parts: Vec<Chunk> = vec![
            Ok(Bytes::from_static(b"small ")),
            Ok(Bytes::from_static(b"blob")),
        ];
        storage
            .put_blob(&name, &digest(&small), stream::iter(parts))
            .await
            .unwrap();
        assert_eq!(stored(&storage, &name, &digest(&small)).await, small);

        // A body that pauses after its first chunk is streamed, the first chunk included.
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Chunk>();
        tx.send(Ok(Bytes::from_static(b"first, "))).unwrap();
        let late = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            tx.send(Ok(Bytes::from_static(b"then the rest"))).unwrap();
        });
        let body = Box::pin(stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|chunk| (chunk, rx))
        }));
        let paused = b"first, then the rest".to_vec();
        storage
            .put_blob(&name, &digest(&paused), body)
            .await
            .unwrap();
        late.await.unwrap();
        assert_eq!(stored(&storage, &name, &digest(&paused)).await, paused);

        // Over the size limit whole, or over it after the first batch: refused, nothing kept.
        for size in [(12 << 10) + 1, 200 << 10] {
            let big = vec![7u8; size];
            let chunks: Vec<Chunk> = big
                .chunks(8 << 10)
                .map(|c| Ok(Bytes::copy_from_slice(c)))
                .collect();
            let refused = storage
                .put_blob(&name, &digest(&big), stream::iter(chunks))
                .await;
            assert!(
                matches!(refused, Err(StorageError::TooLarge { .. })),
                "{refused:?}"
            );
            assert!(storage.open_blob(&name, &digest(&big)).await.is_err());
        }

        // A wrong digest is refused whole or streamed alike.
        let parts: Vec<Chunk> = vec![Ok(Bytes::from_static(b"not what was announced"))];
        let mismatch = storage
            .put_blob(&name, &digest(b"other"), stream::iter(parts))
            .await;
        assert!(
            matches!(mismatch, Err(StorageError::DigestMismatch)),
            "{mismatch:?}"
        );
        assert!(
            storage.uploads.lock().is_empty(),
            "no session is left behind"
        );
    }
}
