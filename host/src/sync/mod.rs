//! zot's `sync` extension: a pull-through cache and mirror in front of other registries.
//!
//! **On demand**, a pull of something the registry does not hold, in a repository that a
//! registry's `content` rules map (or any name, without rules), is fetched from that upstream,
//! verified, stored, then served from storage; concurrent pulls of the same thing share one
//! fetch, which goes on even if the client that started it leaves. **Periodically**
//! (`pollInterval`), the repositories and tags the rules cover are mirrored, and moved tags are
//! updated. The gate has already decided before anything here runs: the caller may read the
//! local name; a name no rule maps never reaches an upstream. Storage knows nothing of this.

mod copy;
mod periodic;
pub mod rules;
pub mod upstream;

use crate::config::sync::SyncConfig;
use crate::oci::{Digest, Reference, RepoName};
use crate::storage::Storage;
use copy::{Copy, CopyError};
use futures_util::future::{BoxFuture, FutureExt, Shared};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use rules::Rules;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;
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

/// On-demand copies running at once; one more is answered 503 with `Retry-After`.
pub const MAX_ON_DEMAND: usize = 32;

/// Why an on-demand fetch brought nothing.
#[derive(Clone, Debug, thiserror::Error)]
pub enum FetchError {
    /// [`MAX_ON_DEMAND`] copies are running already.
    #[error("{MAX_ON_DEMAND} upstream fetches are running already")]
    Busy,
    /// Every upstream mapping the name failed or lacked it.
    #[error("{0}")]
    Failed(Arc<str>),
}

/// A fetch in flight, shared by every request that wants it.
type Fetch = Shared<BoxFuture<'static, Result<(), FetchError>>>;
/// The fetches in flight, by what they fetch; each removes itself when it ends.
type Inflight = Arc<Mutex<HashMap<String, Fetch>>>;

/// The sync extension.
pub struct Sync {
    registries: Vec<Registry>,
    storage: Arc<Storage>,
    inflight: Inflight,
}

impl Sync {
    /// Build the extension from its (validated) configuration.
    pub fn new(config: &SyncConfig, storage: Arc<Storage>) -> anyhow::Result<Arc<Sync>> {
        let credentials: CredentialsFile = match &config.credentialsfile {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| anyhow::anyhow!("sync credentialsFile {path}: {e}"))?;
                serde_json::from_str(&text)
                    .map_err(|e| anyhow::anyhow!("sync credentialsFile {path}: {e}"))?
            }
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

    /// Fetch the manifest `reference` of `name` (with what it needs) from the first on-demand
    /// upstream that maps the name and has it. `Ok(false)`: no upstream maps it.
    pub async fn fetch_manifest(
        &self,
        name: &RepoName,
        reference: &Reference,
    ) -> Result<bool, FetchError> {
        let tag = match reference {
            Reference::Tag(t) => Some(t.as_str()),
            Reference::Digest(_) => None,
        };
        self.on_demand(name, tag, format!("m {name} {reference}"), {
            let reference = reference.clone();
            move |copy| {
                let reference = reference.clone();
                async move {
                    // A fetch that finished just before this one was asked for leaves
                    // nothing to do.
                    if copy
                        .storage
                        .get_manifest(&copy.local, &reference)
                        .await
                        .is_err()
                    {
                        copy.image(&reference).await?;
                    }
                    Ok(())
                }
                .boxed()
            }
        })
        .await
    }

    /// Fetch the blob `digest` of `name` from the first on-demand upstream that maps the name.
    pub async fn fetch_blob(&self, name: &RepoName, digest: &Digest) -> Result<bool, FetchError> {
        self.on_demand(name, None, format!("b {name} {digest}"), {
            let digest = digest.clone();
            move |copy| {
                let digest = digest.clone();
                async move {
                    if copy.storage.blob_size(&copy.local, &digest).await.is_err() {
                        copy.blob(&digest).await?;
                    }
                    Ok(())
                }
                .boxed()
            }
        })
        .await
    }

    /// Run `work` against each on-demand upstream mapping `name` until one has it; one run at
    /// a time per `key`, shared by everyone asking meanwhile, at most [`MAX_ON_DEMAND`] runs at
    /// once.
    async fn on_demand<W>(
        &self,
        name: &RepoName,
        tag: Option<&str>,
        key: String,
        work: W,
    ) -> Result<bool, FetchError>
    where
        W: Fn(Arc<Copy>) -> BoxFuture<'static, Result<(), CopyError>> + Send + 'static,
    {
        let copies: Vec<Arc<Copy>> = self
            .registries
            .iter()
            .filter(|r| r.on_demand)
            .filter_map(|r| {
                Some(Arc::new(Copy {
                    upstream: r.upstream.clone(),
                    storage: self.storage.clone(),
                    local: name.clone(),
                    remote: r.rules.upstream_of(name.as_str(), tag)?,
                    patience: Patience::Waiting,
                }))
            })
            .collect();
        if copies.is_empty() {
            return Ok(false);
        }
        let fetch = {
            let mut inflight = self.inflight.lock().unwrap_or_else(|e| e.into_inner());
            match inflight.get(&key) {
                Some(fetch) => fetch.clone(),
                None if inflight.len() >= MAX_ON_DEMAND => return Err(FetchError::Busy),
                None => {
                    // Spawned: the copy finishes even if every client waiting for it leaves,
                    // and then takes itself out of `inflight` (which it cannot do before it is
                    // in: the lock held here).
                    let done = (self.inflight.clone(), key.clone());
                    let task = tokio::spawn(async move {
                        let result = first_success(copies, work).await;
                        let (inflight, key) = done;
                        inflight
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .remove(&key);
                        result
                    });
                    let fetch = async move {
                        task.await
                            .unwrap_or_else(|e| Err(FetchError::Failed(e.to_string().into())))
                    }
                    .boxed()
                    .shared();
                    inflight.insert(key, fetch.clone());
                    fetch
                }
            }
        };
        fetch.await.map(|()| true)
    }
}

/// Run `work` against each copy in turn until one succeeds.
async fn first_success<W>(copies: Vec<Arc<Copy>>, work: W) -> Result<(), FetchError>
where
    W: Fn(Arc<Copy>) -> BoxFuture<'static, Result<(), CopyError>>,
{
    let mut last: Arc<str> = "not found upstream".into();
    for copy in copies {
        let result = work(copy.clone()).await;
        record(&copy.upstream.name, "on-demand", &result);
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
