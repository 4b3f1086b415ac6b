//! Components pulled for a configuration, kept under the plugin cache directory by manifest
//! digest with their manifest, so a restart (or a reload naming the same digest) does not pull
//! again; what is read back is checked against the digest again, as if just pulled.

use super::artifact::{check_component, check_manifest};
use super::client::{blocking, pull, Access};
use super::reference::PluginReference;
use crate::oci::digest::Digest;
use anyhow::Context;
use std::path::{Path, PathBuf};

/// The component `reference` (which must name a digest) pins: from `dir` when it was pulled
/// before, else pulled, verified and stored there.
pub fn fetch(dir: &Path, reference: &PluginReference, access: &Access) -> anyhow::Result<Vec<u8>> {
    let digest = reference.require_digest().map_err(|e| anyhow::anyhow!(e))?;
    let (manifest_path, component_path) = paths(dir, digest);
    if let (Ok(manifest), Ok(component)) = (
        std::fs::read(&manifest_path),
        std::fs::read(&component_path),
    ) {
        match check_manifest(&manifest, Some(digest))
            .and_then(|(_, layer)| check_component(&layer, &component))
        {
            Ok(()) => return Ok(component),
            Err(e) => {
                tracing::warn!(plugin = %reference, error = e, "cached plugin does not match its digest; pulling it again")
            }
        }
    }
    let pulled = blocking(pull(reference, access))?;
    keep(dir, digest, &pulled.manifest, &pulled.component)?;
    tracing::info!(plugin = %reference, path = %component_path.display(), "pulled plugin");
    Ok(pulled.component.to_vec())
}

/// Keep the manifest `digest` and its component in `dir` (after checking both), as a pull
/// does, for [`fetch`] to find; returns the component's path.
pub fn keep(
    dir: &Path,
    digest: &Digest,
    manifest: &[u8],
    component: &[u8],
) -> anyhow::Result<PathBuf> {
    check_manifest(manifest, Some(digest))
        .and_then(|(_, layer)| check_component(&layer, component))
        .map_err(|e| anyhow::anyhow!(e))?;
    let (manifest_path, component_path) = paths(dir, digest);
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for (path, bytes) in [(&component_path, component), (&manifest_path, manifest)] {
        crate::fsutil::write_atomic(path, bytes)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(component_path)
}

/// Where the manifest and the component of `digest` are kept.
fn paths(dir: &Path, digest: &Digest) -> (PathBuf, PathBuf) {
    let stem = format!("{}-{}", digest.algorithm().name(), digest.hex());
    (
        dir.join(format!("{stem}.json")),
        dir.join(format!("{stem}.wasm")),
    )
}
