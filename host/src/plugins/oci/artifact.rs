//! A plugin as an OCI artifact: an image manifest with the plugin's own `artifactType`, the
//! empty config, and the component as its single layer, the contract version in an annotation.

use crate::oci::digest::{Algorithm, Digest};
use crate::oci::manifest::Descriptor;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The manifest's `artifactType`.
pub const ARTIFACT_TYPE: &str = "application/vnd.portcullis.plugin.v1";
/// The media type of the layer holding the component.
pub const COMPONENT_MEDIA_TYPE: &str = "application/vnd.portcullis.plugin.component.v1+wasm";
/// The manifest's media type.
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// The media type of the empty config.
pub const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
/// The empty config's content.
pub const EMPTY_CONFIG: &[u8] = b"{}";
/// The annotation naming the contract the component was built against
/// (`portcullis:plugin@0.2.0`).
pub const CONTRACT_ANNOTATION: &str = "org.portcullis.plugin.contract";
/// The standard title annotation (the component's file name).
pub const TITLE_ANNOTATION: &str = "org.opencontainers.image.title";
/// The largest component pushed or pulled.
pub const MAX_PLUGIN_BYTES: usize = 64 << 20;

/// The manifest fields written and read.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Manifest {
    schema_version: i64,
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    artifact_type: Option<String>,
    config: Descriptor,
    layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    annotations: Option<BTreeMap<String, String>>,
}

/// The manifest of a component: its JSON bytes.
pub fn manifest(component: &[u8], contract: &str, title: &str) -> Vec<u8> {
    let descriptor = |media_type: &str, bytes: &[u8]| Descriptor {
        media_type: media_type.to_owned(),
        digest: Digest::of(Algorithm::Sha256, bytes),
        size: bytes.len() as u64,
        artifact_type: None,
        annotations: None,
        platform: None,
        urls: None,
    };
    let mut layer = descriptor(COMPONENT_MEDIA_TYPE, component);
    layer.annotations = Some(BTreeMap::from([(
        TITLE_ANNOTATION.to_owned(),
        title.to_owned(),
    )]));
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(MANIFEST_MEDIA_TYPE.to_owned()),
        artifact_type: Some(ARTIFACT_TYPE.to_owned()),
        config: descriptor(EMPTY_MEDIA_TYPE, EMPTY_CONFIG),
        layers: vec![layer],
        annotations: Some(BTreeMap::from([
            (CONTRACT_ANNOTATION.to_owned(), contract.to_owned()),
            (TITLE_ANNOTATION.to_owned(), title.to_owned()),
        ])),
    };
    serde_json::to_vec_pretty(&manifest).expect("a manifest serializes")
}

/// The component layer of a pulled manifest, refused unless the manifest is a plugin
/// artifact with exactly one component layer of at most [`MAX_PLUGIN_BYTES`].
pub fn component_layer(body: &[u8]) -> Result<Descriptor, String> {
    let m: Manifest = serde_json::from_slice(body)
        .map_err(|e| format!("the manifest is not an OCI image manifest: {e}"))?;
    let artifact_type = m.artifact_type.as_deref().unwrap_or(&m.config.media_type);
    if m.schema_version != 2 || artifact_type != ARTIFACT_TYPE {
        return Err(format!(
            "not a Portcullis plugin: artifact type {artifact_type:?}, expected {ARTIFACT_TYPE:?}"
        ));
    }
    let [layer] = <[Descriptor; 1]>::try_from(m.layers)
        .map_err(|l| format!("a plugin has one layer, this manifest has {}", l.len()))?;
    if layer.media_type != COMPONENT_MEDIA_TYPE {
        return Err(format!(
            "the layer's media type is {:?}, expected {COMPONENT_MEDIA_TYPE:?}",
            layer.media_type
        ));
    }
    if layer.size > MAX_PLUGIN_BYTES as u64 {
        return Err(format!(
            "the component is {} bytes, more than the {MAX_PLUGIN_BYTES} a plugin may be",
            layer.size
        ));
    }
    Ok(layer)
}

/// Check a fetched manifest: its digest (with the algorithm of `wanted`, the digest it was
/// asked by, if any) and its component layer; the digest and the layer.
pub fn check_manifest(
    body: &[u8],
    wanted: Option<&Digest>,
) -> Result<(Digest, Descriptor), String> {
    let digest = Digest::of(wanted.map_or(Algorithm::Sha256, Digest::algorithm), body);
    if let Some(wanted) = wanted {
        if *wanted != digest {
            return Err(format!(
                "the manifest's digest is {digest}, not the {wanted} asked for"
            ));
        }
    }
    Ok((digest, component_layer(body)?))
}

/// Check a fetched component against the layer describing it (digest and size).
pub fn check_component(layer: &Descriptor, component: &[u8]) -> Result<(), String> {
    let got = Digest::of(layer.digest.algorithm(), component);
    if got != layer.digest || component.len() as u64 != layer.size {
        return Err(format!(
            "the component's digest is {got} ({} bytes), the manifest says {} ({} bytes)",
            component.len(),
            layer.digest,
            layer.size
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_round_trips() {
        let body = manifest(b"\0asm", "portcullis:plugin@0.2.0", "p.wasm");
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["artifactType"], ARTIFACT_TYPE);
        assert_eq!(v["config"]["mediaType"], EMPTY_MEDIA_TYPE);
        assert_eq!(
            v["annotations"][CONTRACT_ANNOTATION],
            "portcullis:plugin@0.2.0"
        );
        let layer = component_layer(&body).unwrap();
        assert_eq!(layer.digest, Digest::of(Algorithm::Sha256, b"\0asm"));
        assert_eq!(layer.size, 4);
    }

    #[test]
    fn digests_are_checked() {
        let body = manifest(b"\0asm", "c", "t");
        let digest = Digest::of(Algorithm::Sha256, &body);
        let (got, layer) = check_manifest(&body, Some(&digest)).unwrap();
        assert_eq!(got, digest);
        let other = Digest::of(Algorithm::Sha256, b"other");
        assert!(check_manifest(&body, Some(&other)).is_err());
        assert!(check_component(&layer, b"\0asm").is_ok());
        assert!(check_component(&layer, b"\0asX").is_err());
        assert!(check_component(&layer, b"\0asm\0").is_err());
    }

    #[test]
    fn other_artifacts_are_refused() {
        let body = manifest(b"\0asm", "c", "t");
        let other = String::from_utf8(body)
            .unwrap()
            .replace(ARTIFACT_TYPE, "application/vnd.example");
        let e = component_layer(other.as_bytes()).unwrap_err();
        assert!(e.contains("not a Portcullis plugin"), "{e}");
    }
}
