//! zot's `sync` extension: a pull-through cache and mirror in front of other registries.
//!
//! **On demand**, a pull of something the registry does not hold, in a repository that a
//! registry's `content` rules map (or any name, without rules), is fetched from that upstream,
//! verified and stored; the client is answered as it arrives (the manifest once fetched, a
//! blob's bytes as they land), never after the whole image. Concurrent pulls of the same thing
//! share one fetch, which goes on even if the client that started it leaves. **Periodically**
//! (`pollInterval`), the repositories and tags the rules cover are mirrored, and moved tags are
//! updated. The gate has already decided before anything here runs: the caller may read the
//! local name; a name no rule maps never reaches an upstream. Storage knows nothing of this.

mod arrivals;
mod copy;
mod periodic;
pub mod rules;
pub mod upstream;

use crate::config::sync::SyncConfig;
use crate::oci::{Digest, Reference, RepoName};
use crate::storage::{Landing, ManifestBody, Storage};
use arrivals::Arrivals;
use copy::{Copy, CopyError};
use futures_util::future::{BoxFuture, FutureExt, Shared};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use rules::Rules;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;
use tokio::sync::{oneshot, watch};
use upstream::{CredentialsFile, Patience, Upstream, UpstreamError};

/// Labels of [`COPIES`].
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CopyLabels {
    /// The upstream's host.
    pub upstream: String,
    /// `on-demand` or `periodic`.
    pub mode: &'static str,
    /// `copied`, `not-found` or `failed`.
    pub outcome: &'static str,
}

/// Images and blobs copied from upstreams (the `portcullis_sync_copies` metric).
pub static COPIES: LazyLock<Family<CopyLabels, Counter>> = LazyLock::new(Family::default);

/// One upstream registry and its rules.
struct Registry {
    upstream: Arc<Upstream>,
    rules: Rules,
    on_demand: bool,
    poll: Option<Duration>,
}

/// On-demand image copies running at once; one more is answered 503 with `Retry-After`.
pub const MAX_ON_DEMAND: usize = 32;

/// Why an on-demand fetch brought nothing.
#[derive(Clone, Debug, thiserror::Error)]
pub enum FetchError {
    /// Too many copies are running already.
    #[error("too many upstream fetches are running already")]
    Busy,
    /// Every upstream mapping the name failed or lacked it.
    #[error("{0}")]
    Failed(Arc<str>),
}

/// What an on-demand fetch brought.
pub enum Fetched<T> {
    /// No upstream maps the name.
    NotMapped,
    /// It is in storage now.
    Stored,
    /// It is on its way into storage: serve this meanwhile.
    Arriving(T),
}

/// A manifest fetch in flight, shared by every request that wants it: the manifest once it
/// (and what it names) is fetched, or None when it was stored before that.
type ManifestFetch = Shared<BoxFuture<'static, Result<Option<ManifestBody>, FetchError>>>;
/// The manifest fetches in flight, by what they fetch; each removes itself when it ends.
type Inflight = Arc<Mutex<HashMap<String, ManifestFetch>>>;

/// The sync extension.
pub struct Sync {
    registries: Vec<Registry>,
    storage: Arc<Storage>,
    arrivals: Arc<Arrivals>,
    inflight: Inflight,
}

impl Sync {
    /// Build the extension from its (validated) configuration.
    pub fn new(config: &SyncConfig, storage: Arc<Storage>) -> anyhow::Result<Arc<Sync>> {
        let credentials: CredentialsFile = match &config.credentialsfile {
            Some(path) => upstream::read_credentials_file(path, "sync credentialsFile")?,
            None => CredentialsFile::new(),
        };
        let mut registries = Vec::new();
        for r in &config.registries {
            registries.push(Registry {
                upstream: Arc::new(Upstream::new(r, &credentials)?),
                rules: Rules::new(&r.content)?,
                on_demand: r.ondemand,
                poll: r.pollinterval.filter(|p| !p.is_zero()),
            });
        }
        Ok(Arc::new(Sync {
            registries,
            storage,
            arrivals: Arc::default(),
            inflight: Inflight::default(),
        }))
    }

    /// Start mirroring every registry with a `pollInterval`, until the process ends.
    pub fn start_polling(self: &Arc<Self>) {
        for (i, registry) in self.registries.iter().enumerate() {
            if let Some(every) = registry.poll {
                tokio::spawn(periodic::run(self.clone(), i, every));
            }
        }
    }

    /// The manifest `reference` of `name` (with what it needs), from the first on-demand
    /// upstream that maps the name and has it: answered as soon as the manifests are fetched,
    /// while the blobs arrive.
    pub async fn fetch_manifest(
        &self,
        name: &RepoName,
        reference: &Reference,
    ) -> Result<Fetched<ManifestBody>, FetchError> {
        if let Reference::Digest(digest) = reference {
            if let Some(arriving) = self.arrivals.manifest(name, digest) {
                return Ok(Fetched::Arriving(arriving));
            }
        }
        let tag = match reference {
            Reference::Tag(t) => Some(t.as_str()),
            Reference::Digest(_) => None,
        };
        let copies = self.copies(name, tag);
        if copies.is_empty() {
            return Ok(Fetched::NotMapped);
        }
        let key = format!("{name} {reference}");
        let fetch = {
            let mut inflight = self.inflight.lock().unwrap_or_else(|e| e.into_inner());
            match inflight.get(&key) {
                Some(fetch) => fetch.clone(),
                None if inflight.len() >= MAX_ON_DEMAND => return Err(FetchError::Busy),
                None => {
                    let (ready, manifest) = oneshot::channel();
                    // Spawned: the copy finishes even if every client waiting for it leaves,
                    // and then takes itself out of `inflight` (which it cannot do before it is
                    // in: the lock held here).
                    let done = (self.inflight.clone(), key.clone());
                    let reference = reference.clone();
                    let copy = tokio::spawn(async move {
                        let result = first_success(copies, &reference, ready).await;
                        let (inflight, key) = done;
                        inflight
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .remove(&key);
                        result
                    });
                    let fetch = answer(manifest, copy).boxed().shared();
                    inflight.insert(key, fetch.clone());
                    fetch
                }
            }
        };
        Ok(match fetch.await? {
            Some(manifest) => Fetched::Arriving(manifest),
            None => Fetched::Stored,
        })
    }

    /// The blob `digest` of `name`: arriving already, or now from the first on-demand upstream
    /// that maps the name and has it.
    pub fn fetch_blob(
        &self,
        name: &RepoName,
        digest: &Digest,
    ) -> Result<Fetched<watch::Receiver<Landing>>, FetchError> {
        if let Some(arriving) = self.arrivals.blob(name, digest) {
            return Ok(Fetched::Arriving(arriving));
        }
        let copies = self.copies(name, None);
        if copies.is_empty() {
            return Ok(Fetched::NotMapped);
        }
        Ok(Fetched::Arriving(self.arrivals.fetch_blob(copies, digest)?))
    }

    /// A copy from each on-demand upstream whose rules map `name` (and `tag`).
    fn copies(&self, name: &RepoName, tag: Option<&str>) -> Vec<Copy> {
        self.registries
            .iter()
            .filter(|r| r.on_demand)
            .filter_map(|r| {
                Some(Copy {
                    upstream: r.upstream.clone(),
                    storage: self.storage.clone(),
                    arrivals: self.arrivals.clone(),
                    local: name.clone(),
                    remote: r.rules.upstream_of(name.as_str(), tag)?,
                    patience: Patience::Waiting,
                })
            })
            .collect()
    }
}

/// The answer to the clients of one manifest fetch: the manifest as soon as `manifest` has it,
/// else how the `copy` ended (stored without announcing it, or failed).
async fn answer(
    mut manifest: oneshot::Receiver<ManifestBody>,
    mut copy: tokio::task::JoinHandle<Result<(), FetchError>>,
) -> Result<Option<ManifestBody>, FetchError> {
    tokio::select! {
        biased;
        Ok(arriving) = &mut manifest => Ok(Some(arriving)),
        ended = &mut copy => match ended {
            Ok(result) => result.map(|()| None),
            Err(e) => Err(FetchError::Failed(e.to_string().into())),
        },
    }
}

/// Copy `reference` from each of `copies` in turn until one succeeds (or finds it stored),
/// telling `ready` the manifest as soon as it is fetched.
async fn first_success(
    copies: Vec<Copy>,
    reference: &Reference,
    ready: oneshot::Sender<ManifestBody>,
) -> Result<(), FetchError> {
    let mut ready = Some(ready);
    let mut last: Arc<str> = "not found upstream".into();
    for copy in copies {
        // A fetch that finished just before this one was asked for leaves nothing to do.
        if copy
            .storage
            .get_manifest(&copy.local, reference)
            .await
            .is_ok()
        {
            return Ok(());
        }
        let result = copy.image(reference, &mut ready).await.map(|_| ());
        record(&copy.upstream.name, copy.patience.mode(), &result);
        match result {
            Ok(()) => return Ok(()),
            Err(e) => last = e.to_string().into(),
        }
    }
    Err(FetchError::Failed(last))
}

/// Count a copy's outcome and log a failure.
fn record(upstream: &str, mode: &'static str, result: &Result<(), CopyError>) {
    let outcome = match result {
        Ok(()) => "copied",
        Err(CopyError::Upstream(UpstreamError::NotFound)) => "not-found",
        Err(e) => {
            tracing::warn!(upstream, mode, error = %e, "sync: copy failed");
            "failed"
        }
    };
    COPIES
        .get_or_create(&CopyLabels {
            upstream: upstream.to_owned(),
            mode,
            outcome,
        })
        .inc();
}
