//! What is on its way from an upstream, readable before it is stored: blobs landing in storage
//! (each fetched once, followed by any number of readers from the first byte) and the
//! manifests of an image whose blobs are still arriving (so a client gets the manifest at
//! once, not after the whole image). Storage itself only ever holds complete, verified images.

use super::copy::{Copy, CopyError};
use super::FetchError;
use crate::oci::{Digest, RepoName};
use crate::storage::{Landing, ManifestBody};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// Blobs arriving at once, all repositories together; one more is refused as busy.
pub const MAX_ARRIVING_BLOBS: usize = 256;

/// A blob or manifest key: the local repository and the digest.
type Key = (RepoName, Digest);

/// Blobs and manifests on their way into storage.
#[derive(Default)]
pub struct Arrivals {
    blobs: Mutex<HashMap<Key, watch::Receiver<Landing>>>,
    manifests: Mutex<HashMap<Key, ManifestBody>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Arrivals {
    /// The blob `digest` arriving in `name`, if it is arriving (a failed arrival, about to
    /// leave the map, does not count: the next reader fetches anew).
    pub fn blob(&self, name: &RepoName, digest: &Digest) -> Option<watch::Receiver<Landing>> {
        lock(&self.blobs)
            .get(&(name.clone(), digest.clone()))
            .filter(|arriving| !failed(arriving))
            .cloned()
    }

    /// The blob `digest` of the copies' repository, from the first of `copies` whose upstream
    /// has it: the arrival under way, or a new one (which goes on if every reader leaves, and
    /// leaves this map once the blob is stored or failed).
    pub fn fetch_blob(
        self: &Arc<Self>,
        copies: Vec<Copy>,
        digest: &Digest,
    ) -> Result<watch::Receiver<Landing>, FetchError> {
        let Some(first) = copies.first() else {
            return Err(FetchError::Failed("no upstream maps the name".into()));
        };
        let key = (first.local.clone(), digest.clone());
        let mut blobs = lock(&self.blobs);
        if let Some(arriving) = blobs.get(&key).filter(|a| !failed(a)) {
            return Ok(arriving.clone());
        }
        if blobs.len() >= MAX_ARRIVING_BLOBS {
            return Err(FetchError::Busy);
        }
        let (landing, arriving) = watch::channel(Landing::Waiting);
        blobs.insert(key.clone(), arriving.clone());
        let (arrivals, digest, this) = (self.clone(), digest.clone(), arriving.clone());
        tokio::spawn(async move {
            land(&copies, &digest, &landing).await;
            // Stored (or failed) before it leaves the map: whoever misses it here finds it in
            // storage. A failed one may have been replaced by a new arrival already.
            let mut blobs = lock(&arrivals.blobs);
            if blobs.get(&key).is_some_and(|a| a.same_channel(&this)) {
                blobs.remove(&key);
            }
        });
        Ok(arriving)
    }

    /// A manifest of an image whose blobs are arriving, if `name` has one with `digest`.
    pub fn manifest(&self, name: &RepoName, digest: &Digest) -> Option<ManifestBody> {
        lock(&self.manifests)
            .get(&(name.clone(), digest.clone()))
            .cloned()
    }

    /// Make `manifests` of `name` readable until [`Arrivals::forget_manifests`].
    pub fn announce_manifests(&self, name: &RepoName, manifests: &[ManifestBody]) {
        let mut known = lock(&self.manifests);
        for m in manifests {
            known.insert((name.clone(), m.digest.clone()), m.clone());
        }
    }

    /// Stop answering with `manifests` of `name` (stored, or failed).
    pub fn forget_manifests(&self, name: &RepoName, manifests: &[ManifestBody]) {
        let mut known = lock(&self.manifests);
        for m in manifests {
            known.remove(&(name.clone(), m.digest.clone()));
        }
    }
}

/// Whether an arrival has failed.
fn failed(arriving: &watch::Receiver<Landing>) -> bool {
    matches!(*arriving.borrow(), Landing::Failed(_))
}

/// Store `digest` from the first of `copies` that has it (or take it from storage when it is
/// there already), telling `landing` how it goes.
async fn land(copies: &[Copy], digest: &Digest, landing: &watch::Sender<Landing>) {
    let mut why: Arc<str> = "not found upstream".into();
    for copy in copies {
        if let Ok(blob) = copy.storage.open_blob(&copy.local, digest).await {
            landing.send_replace(Landing::Stored {
                file: Arc::new(blob.file),
                bytes: blob.size,
            });
            return;
        }
        let result = copy.land_blob(digest, landing).await;
        super::record(&copy.upstream.name, copy.patience.mode(), &result);
        match result {
            // The upstream gave nothing: the next may. A failure while storing was already
            // told to `landing` (bytes may have gone out to readers): no second try.
            Err(CopyError::Upstream(e)) => why = e.to_string().into(),
            Ok(()) | Err(_) => return,
        }
    }
    landing.send_replace(Landing::Failed(why));
}

/// Wait until an arriving blob is stored.
pub async fn stored(mut arriving: watch::Receiver<Landing>) -> Result<(), CopyError> {
    loop {
        match &*arriving.borrow_and_update() {
            Landing::Stored { .. } => return Ok(()),
            Landing::Failed(why) => return Err(CopyError::Arrival(why.clone())),
            Landing::Waiting | Landing::Writing { .. } | Landing::Verified { .. } => {}
        }
        if arriving.changed().await.is_err() {
            return Err(CopyError::Arrival("the blob's fetch ended".into()));
        }
    }
}
