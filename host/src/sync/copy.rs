//! Copying one image from an upstream into storage: its manifest (verified against its digest),
//! an index's children, the blobs each needs (streamed into storage, verified as they land,
//! a few at a time), then the manifest under its tag — so a reader never sees a manifest
//! whose blobs are missing. Referrers (signatures, SBOMs) follow an image that has them.

use super::upstream::{read_small, Patience, Upstream, UpstreamError, MANIFEST_ACCEPT};
use crate::oci::manifest;
use crate::oci::{Algorithm, Digest, Reference, RepoName};
use crate::storage::{BodyError, PutManifest, Storage, StorageError};
use futures_util::{StreamExt, TryStreamExt};
use std::sync::Arc;

/// Blobs of one image fetched at once.
const PARALLEL_BLOBS: usize = 4;
/// How deep indexes may nest (an index of indexes of images is two).
const MAX_DEPTH: usize = 3;

/// Why a copy failed.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// The upstream call failed.
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// Storing failed (a digest mismatch among others).
    #[error("storing the copy failed: {0}")]
    Storage(#[from] StorageError),
    /// The upstream's manifest is not one this registry stores.
    #[error("the upstream's manifest is refused: {0}")]
    Invalid(String),
}

/// One repository's copy from its upstream name to its local name.
pub struct Copy {
    /// The upstream.
    pub upstream: Arc<Upstream>,
    /// Local storage.
    pub storage: Arc<Storage>,
    /// The local repository.
    pub local: RepoName,
    /// Its name upstream.
    pub remote: String,
    /// Whether a client waits.
    pub patience: Patience,
}

impl Copy {
    /// Copy the image `reference` names (and its referrers); returns its digest.
    pub async fn image(&self, reference: &Reference) -> Result<Digest, CopyError> {
        let digest = self.manifest(reference, 0).await?;
        self.referrers(&digest).await;
        Ok(digest)
    }

    /// The upstream digest of the manifest `tag` names, without copying anything.
    pub async fn upstream_digest(&self, tag: &str) -> Result<Digest, CopyError> {
        Ok(self
            .fetch_manifest(&Reference::Tag(tag.to_owned()))
            .await?
            .1)
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

    /// Copy one manifest with what it needs; returns its digest.
    async fn manifest(&self, reference: &Reference, depth: usize) -> Result<Digest, CopyError> {
        let (body, digest, content_type) = self.fetch_manifest(reference).await?;
        let parsed =
            manifest::parse(&body, content_type.as_deref()).map_err(|e| CopyError::Invalid(e.0))?;
        for child in &parsed.children {
            if depth >= MAX_DEPTH {
                return Err(CopyError::Invalid("indexes nested too deep".into()));
            }
            let known = self
                .storage
                .get_manifest(&self.local, &Reference::Digest(child.digest.clone()))
                .await
                .is_ok();
            if !known {
                Box::pin(self.manifest(&Reference::Digest(child.digest.clone()), depth + 1))
                    .await?;
            }
        }
        let mut missing = Vec::new();
        for blob in &parsed.required_blobs {
            if self.storage.blob_size(&self.local, blob).await.is_err() {
                missing.push(blob.clone());
            }
        }
        futures_util::stream::iter(missing)
            .map(|blob| async move { self.blob(&blob).await })
            .buffer_unordered(PARALLEL_BLOBS)
            .try_collect::<Vec<()>>()
            .await?;
        self.storage
            .put_manifest(PutManifest {
                name: &self.local,
                reference,
                extra_tags: &[],
                body,
                content_type: content_type.as_deref(),
                expected: &[],
            })
            .await?;
        Ok(digest)
    }

    /// Stream one blob into storage, which verifies its digest before keeping it.
    pub async fn blob(&self, digest: &Digest) -> Result<(), CopyError> {
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
        if let Some(len) = response.content_length() {
            self.storage.check_blob_size(len)?;
        }
        let body = response
            .bytes_stream()
            .map_err(|e| BodyError::Broken(format!("upstream: {}", crate::errors::describe(&e))));
        self.storage.put_blob(&self.local, digest, body).await?;
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
        found.push(Reference::Tag(format!(
            "{}-{}.sig",
            subject.algorithm().name(),
            subject.hex()
        )));
        for reference in found {
            match self.manifest(&reference, 0).await {
                Ok(_) | Err(CopyError::Upstream(UpstreamError::NotFound)) => {}
                Err(e) => tracing::warn!(
                    repository = %self.local, %reference, error = %e,
                    "sync: a referrer was not copied"
                ),
            }
        }
    }
}
