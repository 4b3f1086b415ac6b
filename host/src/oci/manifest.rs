//! Parsing a pushed manifest into what the registry must check and remember about it.

use super::digest::Digest;
use super::media::{self, ManifestKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Largest manifest accepted (the spec asks registries to take at least 4 MiB).
pub const MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;

/// A content descriptor as it appears inside manifests and in `index.json`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// Media type of the referenced content.
    pub media_type: String,
    /// Digest of the referenced content.
    pub digest: Digest,
    /// Size in bytes of the referenced content.
    pub size: u64,
    /// Artifact type, for manifests that declare one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Platform, for index entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<serde_json::Value>,
    /// Alternate locations (non-distributable layers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urls: Option<Vec<String>>,
}

/// The manifest fields the registry reads; everything else is stored untouched.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawManifest {
    schema_version: Option<i64>,
    media_type: Option<String>,
    artifact_type: Option<String>,
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Vec<Descriptor>,
    manifests: Option<Vec<Descriptor>>,
    subject: Option<Descriptor>,
    annotations: Option<BTreeMap<String, String>>,
}

/// What the registry learned from a valid manifest.
#[derive(Clone, Debug)]
pub struct ParsedManifest {
    /// The effective media type (the document's own, else the request's Content-Type).
    pub media_type: String,
    /// The artifact type for the referrers API: `artifactType`, else (image manifests) the
    /// config's media type, as the distribution spec defines it.
    pub artifact_type: Option<String>,
    /// Blobs that must already exist in the repository (config and distributable layers).
    pub required_blobs: Vec<Digest>,
    /// Manifests that must already exist in the repository (children of an index).
    pub children: Vec<Descriptor>,
    /// The manifest this one refers to, if any.
    pub subject: Option<Digest>,
    /// The manifest's annotations.
    pub annotations: Option<BTreeMap<String, String>>,
}

/// Why a manifest was refused.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ManifestError(pub String);

fn invalid(msg: impl Into<String>) -> ManifestError {
    ManifestError(msg.into())
}

/// Parse and check a manifest body pushed with `content_type`.
pub fn parse(body: &[u8], content_type: Option<&str>) -> Result<ParsedManifest, ManifestError> {
    let raw: RawManifest = serde_json::from_slice(body)
        .map_err(|e| invalid(format!("manifest is not valid JSON: {e}")))?;
    let content_type = content_type
        .map(|c| c.split(';').next().unwrap_or("").trim())
        .filter(|c| !c.is_empty());
    let media_type = match (&raw.media_type, content_type) {
        (Some(doc), Some(ct)) if doc != ct => {
            return Err(invalid(format!(
                "manifest mediaType {doc} does not match Content-Type {ct}"
            )))
        }
        (Some(doc), _) => doc.clone(),
        (None, Some(ct)) => ct.to_owned(),
        (None, None) => guess_media_type(&raw)
            .ok_or_else(|| invalid("manifest has no mediaType and no Content-Type"))?
            .to_owned(),
    };
    if !media::is_valid_media_type(&media_type) {
        return Err(invalid(format!("invalid media type {media_type:?}")));
    }
    let kind = media::manifest_kind(&media_type);
    if kind.is_some() && raw.schema_version != Some(2) {
        return Err(invalid("schemaVersion must be 2"));
    }
    let mut parsed = ParsedManifest {
        artifact_type: raw.artifact_type.clone(),
        media_type,
        required_blobs: Vec::new(),
        children: Vec::new(),
        subject: raw.subject.as_ref().map(|s| s.digest.clone()),
        annotations: raw.annotations,
    };
    match kind {
        Some(ManifestKind::Image) => {
            let config = raw
                .config
                .ok_or_else(|| invalid("image manifest has no config"))?;
            if parsed.artifact_type.is_none() {
                parsed.artifact_type = Some(config.media_type.clone());
            }
            parsed.required_blobs.push(config.digest);
            for layer in raw.layers {
                if !media::is_non_distributable(&layer.media_type) {
                    parsed.required_blobs.push(layer.digest);
                }
            }
        }
        Some(ManifestKind::Index) => {
            parsed.children = raw
                .manifests
                .ok_or_else(|| invalid("image index has no manifests"))?;
        }
        None => {}
    }
    Ok(parsed)
}

/// For a document with neither `mediaType` nor Content-Type, infer it from its shape.
fn guess_media_type(raw: &RawManifest) -> Option<&'static str> {
    if raw.config.is_some() {
        Some(media::OCI_MANIFEST)
    } else if raw.manifests.is_some() {
        Some(media::OCI_INDEX)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

    #[test]
    fn image_with_subject_and_foreign_layer() {
        let body = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","artifactType":"application/x-sig",
            "config":{{"mediaType":"{}","digest":"{EMPTY}","size":2}},
            "layers":[{{"mediaType":"application/vnd.oci.image.layer.nondistributable.v1.tar","digest":"{EMPTY}","size":2,"urls":["http://x"]}}],
            "subject":{{"mediaType":"{}","digest":"{EMPTY}","size":2}}}}"#,
            media::OCI_MANIFEST,
            media::OCI_EMPTY,
            media::OCI_MANIFEST
        );
        let p = parse(body.as_bytes(), Some(media::OCI_MANIFEST)).unwrap();
        assert_eq!(p.artifact_type.as_deref(), Some("application/x-sig"));
        assert_eq!(p.required_blobs.len(), 1);
        assert!(p.subject.is_some());
    }

    #[test]
    fn refuses_mismatch_and_garbage() {
        assert!(parse(b"{", None).is_err());
        let body = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","manifests":[]}}"#,
            media::OCI_INDEX
        );
        assert!(parse(body.as_bytes(), Some(media::OCI_MANIFEST)).is_err());
        assert!(parse(body.as_bytes(), Some(media::OCI_INDEX)).is_ok());
        let bad_digest =
            r#"{"schemaVersion":2,"config":{"mediaType":"a/b","digest":"sha256:nope","size":1}}"#;
        assert!(parse(bad_digest.as_bytes(), None).is_err());
    }
}
