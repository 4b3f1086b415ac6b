//! Plugins published to this very registry. At start-up the gate is loaded before the registry
//! listens, so a plugin named `oci://<this registry>/repo@sha256:…` cannot be pulled over the
//! network: it is read from storage instead, checked exactly as a pull is, and kept where pulled
//! plugins are cached — from where the plugin runtime then loads it. (Later reloads pull it
//! over HTTP like any other reference.)

use crate::oci::{Reference, RepoName};
use crate::plugins::oci::{artifact::MAX_PLUGIN_BYTES, keep};
use crate::plugins::{SetSpec, Source};
use crate::storage::Storage;
use std::path::Path;

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
                Ok(()) => {
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

/// The manifest `digest` of `repository` and the component it names, from storage.
async fn read(
    storage: &Storage,
    repository: &RepoName,
    digest: &crate::oci::Digest,
) -> anyhow::Result<(bytes::Bytes, Vec<u8>)> {
    let manifest = storage
        .get_manifest(repository, &Reference::Digest(digest.clone()))
        .await?;
    let layer = crate::plugins::oci::artifact::component_layer(&manifest.bytes)
        .map_err(anyhow::Error::msg)?;
    anyhow::ensure!(
        layer.size <= MAX_PLUGIN_BYTES as u64,
        "its component is larger than {MAX_PLUGIN_BYTES} bytes"
    );
    let blob = storage.open_blob(repository, &layer.digest).await?;
    let component = tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let mut bytes = Vec::new();
        (&blob.file)
            .take(MAX_PLUGIN_BYTES as u64 + 1)
            .read_to_end(&mut bytes)
            .map(|_| bytes)
    })
    .await??;
    Ok((manifest.bytes, component))
}
