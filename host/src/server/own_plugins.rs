//! Plugins published to this very registry. At start-up the gate is loaded before the registry
//! listens, so a plugin named `oci://<this registry>/repo@sha256:…` cannot be pulled over the
//! network: it is read from storage instead, checked exactly as a pull is, and kept where pulled
//! plugins are cached — from where the plugin runtime then loads it. (Later reloads pull it
//! over HTTP like any other reference.)

use crate::oci::{Reference, RepoName};
use crate::plugins::oci::artifact::{component_layer, MAX_PLUGIN_BYTES};
use crate::plugins::oci::keep;
use crate::plugins::{SetSpec, Source};
use crate::storage::{Storage, Window};
use std::path::Path;
use std::sync::Arc;

/// Copy every plugin of `set` that `own` names (`host:port` strings this registry answers
/// as) from `storage` into the pulled-plugin cache `pulled`. A plugin that is not in storage is
/// left to the runtime, which says why it cannot be had.
pub async fn seed(storage: &Storage, set: &SetSpec, own: &[String], pulled: &Path) {
    let specs = set
        .authenticators
        .iter()
        .chain(&set.keys)
        .chain(&set.claims)
        .chain(&set.authorizer);
    for spec in specs {
        let Source::Oci { reference, .. } = &spec.source else {
            continue;
        };
        let Some(digest) = reference
            .digest
            .as_ref()
            .filter(|_| own.contains(&reference.host))
        else {
            continue;
        };
        match read(storage, &reference.repository, digest).await {
            Ok((manifest, component)) => match keep(pulled, digest, &manifest, &component) {
                Ok(_) => {
                    tracing::info!(plugin = %reference, "plugin read from this registry's storage")
                }
                Err(e) => {
                    tracing::warn!(plugin = %reference, error = %e, "plugin in this registry's storage is unusable")
                }
            },
            Err(e) => {
                tracing::warn!(plugin = %reference, error = %e, "plugin not found in this registry's storage")
            }
        }
    }
}

/// The manifest `digest` of `repository` and the component it names, from storage (read on
/// its pool).
async fn read(
    storage: &Storage,
    repository: &RepoName,
    digest: &crate::oci::Digest,
) -> anyhow::Result<(bytes::Bytes, bytes::Bytes)> {
    let manifest = storage
        .get_manifest(repository, &Reference::Digest(digest.clone()))
        .await?;
    let layer = component_layer(&manifest.bytes).map_err(anyhow::Error::msg)?;
    let blob = storage.open_blob(repository, &layer.digest).await?;
    // The layer's size was checked; the file is what is read (its digest is checked after).
    anyhow::ensure!(
        blob.size <= MAX_PLUGIN_BYTES as u64,
        "its component is larger than {MAX_PLUGIN_BYTES} bytes"
    );
    let window = storage
        .blob_window(Arc::new(blob.file), 0, blob.size as usize, false)
        .await?;
    let component = match window {
        Window::Read(bytes) => bytes,
        Window::Mapped(map) => bytes::Bytes::from_owner(map),
    };
    Ok((manifest.bytes, component))
}
