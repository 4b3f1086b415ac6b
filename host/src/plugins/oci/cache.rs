//! Components pulled for a configuration, kept under the plugin cache directory by manifest
//! digest, so a restart (or a reload naming the same digest) does not pull again.

use super::client::{blocking, pull, Access};
use super::reference::PluginReference;
use anyhow::Context;
use std::path::Path;

/// The component `reference` (which must name a digest) pins: from `dir` when it was pulled
/// before, else pulled, verified and stored there.
pub fn fetch(dir: &Path, reference: &PluginReference, access: &Access) -> anyhow::Result<Vec<u8>> {
    let digest = reference.require_digest().map_err(|e| anyhow::anyhow!(e))?;
    let path = dir.join(format!(
        "{}-{}.wasm",
        digest.algorithm().name(),
        digest.hex()
    ));
    if let Ok(bytes) = std::fs::read(&path) {
        return Ok(bytes);
    }
    let pulled = blocking(pull(reference, access))?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    crate::fsutil::write_atomic(&path, &pulled.component)
        .with_context(|| format!("cannot write {}", path.display()))?;
    tracing::info!(plugin = %reference, path = %path.display(), "pulled plugin");
    Ok(pulled.component.to_vec())
}
