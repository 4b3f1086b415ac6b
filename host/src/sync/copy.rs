//! Copying one image from an upstream into storage: its manifest (verified against its digest)
//! and an index's children, announced to readers at once; the blobs each needs (streamed into
//! storage, verified as they land, a few at a time, readable while they land); then the
//! manifests, the one under its tag last — so storage never holds a manifest whose blobs are
//! missing. Referrers (signatures, SBOMs) follow an image that has them.

use super::arrivals::{self, Arrivals};
use super::upstream::{read_small, Patience, Upstream, UpstreamError, MANIFEST_ACCEPT};
use crate::oci::manifest;
use crate::oci::{Algorithm, Digest, Reference, RepoName};
use crate::storage::{BodyError, Landing, ManifestBody, PutManifest, Storage, StorageError};
use futures_util::{StreamExt, TryStreamExt};
use std::collections::BTreeSet;
use std::sync::Arc;
use tokio::sync::{oneshot, watch};

/// Blobs of one image fetched at once.
const PARALLEL_BLOBS: usize = 4;
/// How deep indexes may nest (an index of indexes of images is two).
const MAX_DEPTH: usize = 3;
/// The most manifest bytes one image (an index and every manifest it names) may have: they are
/// held in memory until its blobs are stored.
const MAX_TREE_BYTES: usize = 64 << 20;

/// Why a copy failed.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// The upstream call failed.
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// Storing failed (a digest mismatch among others).
    #[error("storing the copy failed: {0}")]
    Storage(#[from] StorageError),
    /// A blob the image needs did not arrive.
    #[error("a blob did not arrive: {0}")]
    Arrival(Arc<str>),
    /// The upstream's manifest is not one this registry stores.
    #[error("the upstream's manifest is refused: {0}")]
    Invalid(String),
}

/// Told an image's manifest as soon as it and every manifest it names are fetched.
pub type Ready = Option<oneshot::Sender<ManifestBody>>;

/// One repository's copy from its upstream name to its local name.
#[derive(Clone)]
pub struct Copy {
    /// The upstream.
    pub upstream: Arc<Upstream>,
    /// Local storage.
    pub storage: Arc<Storage>,
    /// What is arriving from upstreams, shared with readers.
    pub arrivals: Arc<Arrivals>,
    /// The local repository.
    pub local: RepoName,
    /// Its name upstream.
    pub remote: String,
    /// Whether a client waits.
    pub patience: Patience,
}

/// A manifest fetched and verified, with its blobs the repository lacks.
struct Fetched {
    reference: Reference,
    body: ManifestBody,
    content_type: Option<String>,
    missing: Vec<Digest>,
}

impl Copy {
    /// Copy the image `reference` names (and its referrers); returns its digest. `ready` is
    /// told the manifest once it and the manifests it names are fetched: from then on they are
    /// readable through the arrivals, while their blobs arrive.
    pub async fn image(
        &self,
        reference: &Reference,
        ready: &mut Ready,
    ) -> Result<Digest, CopyError> {
        let digest = self.manifest(reference, ready).await?;
        self.referrers(&digest).await;
        Ok(digest)
    }

    /// The upstream digest of the manifest `tag` names, without copying anything.
    pub async fn upstream_digest(&self, tag: &str) -> Result<Digest, CopyError> {
        Ok(self.fetch_manifest(&Reference::Tag(tag.into())).await?.1)
    }

    /// Fetch a manifest and verify it; returns it, its digest and its media type.
    async fn fetch_manifest(
        &self,
        reference: &Reference,
    ) -> Result<(bytes::Bytes, Digest, Option<String>), CopyError> {
        let response = self
            .upstream
            .get(
                &self.remote,
                &format!("manifests/{reference}"),
                Some(MANIFEST_ACCEPT),
                true,
                self.patience,
            )
            .await?;
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let announced = response
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<Digest>().ok());
        let body = read_small(response).await?;
        let expected = match reference {
            Reference::Digest(d) => Some(d.clone()),
            Reference::Tag(_) => announced,
        };
        let algorithm = expected
            .as_ref()
            .map_or(Algorithm::Sha256, Digest::algorithm);
        let digest = Digest::of(algorithm, &body);
        if let Some(expected) = expected.filter(|e| *e != digest) {
            return Err(CopyError::Invalid(format!(
                "its content has digest {digest}, not {expected}"
            )));
        }
        Ok((body, digest, content_type))
    }

    /// Copy one manifest with what it needs (the manifests it names, then every blob, then the
    /// manifests, the named one last); returns its digest.
    async fn manifest(
        &self,
        reference: &Reference,
        ready: &mut Ready,
    ) -> Result<Digest, CopyError> {
        let mut tree = Vec::new();
        self.gather(reference, 0, &mut tree).await?;
        let bodies: Vec<ManifestBody> = tree.iter().map(|f| f.body.clone()).collect();
        self.arrivals.announce_manifests(&self.local, &bodies);
        if let (Some(ready), Some(top)) = (ready.take(), bodies.last()) {
            let _ = ready.send(top.clone());
        }
        let stored = self.store(tree).await;
        self.arrivals.forget_manifests(&self.local, &bodies);
        stored
    }

    /// Fetch the manifest `reference` and, first, the manifests it names that the repository
    /// lacks, onto `tree`.
    async fn gather(
        &self,
        reference: &Reference,
        depth: usize,
        tree: &mut Vec<Fetched>,
    ) -> Result<(), CopyError> {
        let (bytes, digest, content_type) = self.fetch_manifest(reference).await?;
        let held: usize = tree.iter().map(|f| f.body.bytes.len()).sum();
        if held + bytes.len() > MAX_TREE_BYTES {
            return Err(CopyError::Invalid(format!(
                "its manifests exceed {} MiB",
                MAX_TREE_BYTES >> 20
            )));
        }
        let parsed = manifest::parse(&bytes, content_type.as_deref())
            .map_err(|e| CopyError::Invalid(e.0))?;
        for child in &parsed.children {
            if depth >= MAX_DEPTH {
                return Err(CopyError::Invalid("indexes nested too deep".into()));
            }
            let gathered = tree.iter().any(|f| f.body.digest == child.digest);
            let known = gathered
                || self
                    .storage
                    .get_manifest(&self.local, &Reference::Digest(child.digest.clone()))
                    .await
                    .is_ok();
            if !known {
                let child = Reference::Digest(child.digest.clone());
                Box::pin(self.gather(&child, depth + 1, tree)).await?;
            }
        }
        let mut missing = Vec::new();
        for blob in parsed.required_blobs {
            if self.storage.blob_size(&self.local, &blob).await.is_err() {
                missing.push(blob);
            }
        }
        tree.push(Fetched {
            reference: reference.clone(),
            body: ManifestBody {
                bytes,
                media_type: parsed.media_type.into(),
                digest,
            },
            content_type,
            missing,
        });
        Ok(())
    }

    /// Store the blobs `tree` lacks, then its manifests in order; returns the last one's
    /// digest — so a reader never sees a stored manifest whose blobs are missing.
    async fn store(&self, tree: Vec<Fetched>) -> Result<Digest, CopyError> {
        let blobs: BTreeSet<Digest> = tree.iter().flat_map(|f| f.missing.clone()).collect();
        futures_util::stream::iter(blobs)
            .map(|blob| async move { self.blob(&blob).await })
            .buffer_unordered(PARALLEL_BLOBS)
            .try_collect::<Vec<()>>()
            .await?;
        let mut last = None;
        for fetched in tree {
            self.storage
                .put_manifest(PutManifest {
                    name: &self.local,
                    reference: &fetched.reference,
                    extra_tags: &[],
                    body: fetched.body.bytes,
                    content_type: fetched.content_type.as_deref(),
                    expected: &[],
                })
                .await?;
            last = Some(fetched.body.digest);
        }
        last.ok_or_else(|| CopyError::Invalid("no manifest".into()))
    }

    /// Bring one blob into storage: the arrival under way, or a new one from this upstream.
    pub async fn blob(&self, digest: &Digest) -> Result<(), CopyError> {
        let arriving = self
            .arrivals
            .fetch_blob(vec![self.clone()], digest)
            .map_err(|e| CopyError::Arrival(e.to_string().into()))?;
        arrivals::stored(arriving).await
    }

    /// Stream one blob from the upstream into storage, which verifies its digest before
    /// keeping it, telling `landing` what lands. An upstream failure before the first byte is
    /// returned without telling `landing`.
    pub async fn land_blob(
        &self,
        digest: &Digest,
        landing: &watch::Sender<Landing>,
    ) -> Result<(), CopyError> {
        let response = self
            .upstream
            .get(
                &self.remote,
                &format!("blobs/{digest}"),
                None,
                false,
                self.patience,
            )
            .await?;
        let size = response.content_length();
        let body = response
            .bytes_stream()
            .map_err(|e| BodyError::Broken(format!("upstream: {}", crate::errors::describe(&e))));
        self.storage
            .put_blob_landing(&self.local, digest, size, body, landing)
            .await?;
        Ok(())
    }

    /// Copy what refers to `subject` upstream: the referrers API's manifests and a cosign
    /// signature tag. Failures are logged, never the image's failure.
    async fn referrers(&self, subject: &Digest) {
        let mut found: Vec<Reference> = Vec::new();
        if let Ok(response) = self
            .upstream
            .get(
                &self.remote,
                &format!("referrers/{subject}"),
                Some("application/vnd.oci.image.index.v1+json"),
                true,
                self.patience,
            )
            .await
        {
            #[derive(serde::Deserialize)]
            struct Index {
                #[serde(default)]
                manifests: Vec<Child>,
            }
            #[derive(serde::Deserialize)]
            struct Child {
                digest: String,
            }
            let index = read_small(response)
                .await
                .ok()
                .and_then(|body| serde_json::from_slice::<Index>(&body).ok());
            if let Some(index) = index {
                found.extend(
                    index
                        .manifests
                        .iter()
                        .filter_map(|c| c.digest.parse().ok())
                        .map(Reference::Digest),
                );
            }
        }
        found.push(Reference::Tag(smol_str::format_smolstr!(
            "{}-{}.sig",
            subject.algorithm().name(),
            subject.hex()
        )));
        for reference in found {
            match self.manifest(&reference, &mut None).await {
                Ok(_) | Err(CopyError::Upstream(UpstreamError::NotFound)) => {}
                Err(e) => tracing::warn!(
                    repository = %self.local, %reference, error = %e,
                    "sync: a referrer was not copied"
                ),
            }
        }
    }
}
