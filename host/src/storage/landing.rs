//! A blob readable while it lands: whoever stores it ([`Storage::put_blob_landing`]) reports
//! each stretch written to the staged file; readers ([`Storage::follow_landing`]) send what has
//! landed and wait for more. Nothing is trusted until the whole blob is verified: a reader gets
//! the last byte only once the blob matches its digest, and a failed blob ends every reader's
//! stream with an error.

use super::{BodyError, Result, Storage, StorageError, Window};
use crate::oci::{Digest, RepoName};
use bytes::Bytes;
use futures_util::Stream;
use std::sync::Arc;
use tokio::sync::watch;

/// Bytes read for a follower at a time.
const FOLLOW_WINDOW: u64 = 1 << 20;

/// How far a blob on its way into storage has come.
#[derive(Clone, Debug)]
pub enum Landing {
    /// Nothing is written yet.
    Waiting,
    /// The first `bytes` bytes of the staged `file` are written; `size` is the announced size.
    Writing {
        /// The staged file (read by position; it stays readable after it moves into place).
        file: Arc<std::fs::File>,
        /// Bytes written so far.
        bytes: u64,
        /// The size announced by the source, when it announced one.
        size: Option<u64>,
    },
    /// All `bytes` bytes are written and match the digest; the blob is being made durable.
    Verified {
        /// The staged file.
        file: Arc<std::fs::File>,
        /// The blob's size.
        bytes: u64,
    },
    /// Verified and stored; `file` holds all `bytes` bytes.
    Stored {
        /// The blob's file.
        file: Arc<std::fs::File>,
        /// Its size.
        bytes: u64,
    },
    /// The blob was not stored; why.
    Failed(Arc<str>),
}

impl Landing {
    /// The size a reader can announce: the blob's, once known.
    pub fn size(&self) -> Option<u64> {
        match self {
            Landing::Writing { size, .. } => *size,
            Landing::Verified { bytes, .. } | Landing::Stored { bytes, .. } => Some(*bytes),
            Landing::Waiting | Landing::Failed(_) => None,
        }
    }
}

impl Storage {
    /// Store a whole blob as [`Storage::put_blob`] does, telling `landing` each stretch that
    /// reaches the disk and, at the end, whether the blob was stored. `size` is the size the
    /// source announced (refused at once when over `storage.maxBlobSize`).
    pub async fn put_blob_landing<S>(
        &self,
        name: &RepoName,
        digest: &Digest,
        size: Option<u64>,
        body: S,
        landing: &watch::Sender<Landing>,
    ) -> Result<()>
    where
        S: Stream<Item = std::result::Result<Bytes, BodyError>> + Unpin,
    {
        let result = match size.map(|s| self.check_blob_size(s)) {
            Some(Err(e)) => Err(e),
            _ => {
                let reporter = Some((landing.clone(), size));
                self.put_blob_reporting(name, digest, body, reporter).await
            }
        };
        // A stored blob was reported from the moment its staged file opened (an empty one
        // too), so its last report names the file.
        let written = landing.borrow().clone();
        let end = match (&result, written) {
            (Ok(()), Landing::Writing { file, bytes, .. } | Landing::Verified { file, bytes }) => {
                Landing::Stored { file, bytes }
            }
            (Ok(()), _) => Landing::Failed("stored without a report of its file".into()),
            (Err(e), _) => Landing::Failed(e.to_string().into()),
        };
        landing.send_replace(end);
        result
    }

    /// The bytes of a landing blob as they land, from the start; the stream fails if the blob
    /// fails (or `landing` is dropped before the blob is stored).
    pub fn follow_landing(
        self: &Arc<Self>,
        landing: watch::Receiver<Landing>,
    ) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static {
        let storage = self.clone();
        futures_util::stream::try_unfold((landing, 0u64), move |(mut landing, offset)| {
            let storage = storage.clone();
            async move {
                loop {
                    let now = landing.borrow_and_update().clone();
                    let (file, landed, verified) = match now {
                        Landing::Waiting => (None, 0, false),
                        Landing::Writing { file, bytes, .. } => (Some(file), bytes, false),
                        Landing::Verified { file, bytes } | Landing::Stored { file, bytes } => {
                            (Some(file), bytes, true)
                        }
                        Landing::Failed(why) => {
                            return Err(std::io::Error::other(format!("blob not stored: {why}")))
                        }
                    };
                    // The last byte waits for the digest's verdict, so that no reader ever
                    // holds the whole of a blob that fails verification.
                    let readable = if verified {
                        landed
                    } else {
                        landed.saturating_sub(1)
                    };
                    if let Some(file) = file.filter(|_| offset < readable) {
                        let n = (readable - offset).min(FOLLOW_WINDOW) as usize;
                        let bytes = match storage.blob_window(file, offset, n, false).await {
                            Ok(Window::Read(bytes)) => bytes,
                            Ok(Window::Mapped(map)) => Bytes::from_owner(map),
                            Err(e) => return Err(std::io::Error::other(e)),
                        };
                        return Ok(Some((bytes, (landing, offset + n as u64))));
                    }
                    if verified {
                        return Ok(None);
                    }
                    if landing.changed().await.is_err() {
                        return Err(std::io::Error::other(StorageError::Body(
                            BodyError::Broken("the blob's source went away".into()),
                        )));
                    }
                }
            }
        })
    }
}
