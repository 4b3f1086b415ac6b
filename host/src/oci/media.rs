//! Media types the registry understands.

/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker image manifest, schema 2.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list.
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// The OCI empty descriptor's media type (`{}`).
pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";

/// What kind of document a manifest is, which decides how it is validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ManifestKind {
    /// Points at a config blob and layer blobs.
    Image,
    /// Points at other manifests.
    Index,
}

/// The kind of a manifest media type, if it is one this registry validates.
pub fn manifest_kind(media_type: &str) -> Option<ManifestKind> {
    match media_type {
        OCI_MANIFEST | DOCKER_MANIFEST => Some(ManifestKind::Image),
        OCI_INDEX | DOCKER_MANIFEST_LIST => Some(ManifestKind::Index),
        _ => None,
    }
}

/// The constant naming `media_type`, when it is one of the manifest types above (so it can be
/// answered without copying the text).
pub fn known_manifest(media_type: &str) -> Option<&'static str> {
    [
        OCI_MANIFEST,
        OCI_INDEX,
        DOCKER_MANIFEST,
        DOCKER_MANIFEST_LIST,
    ]
    .into_iter()
    .find(|known| *known == media_type)
}

/// Layers that registries are not required to hold (they carry `urls` instead).
pub fn is_non_distributable(media_type: &str) -> bool {
    media_type.contains(".nondistributable.") || media_type.contains(".foreign.")
}

/// A syntactically plausible media type (`type/subtype`, no spaces or control characters).
pub fn is_valid_media_type(s: &str) -> bool {
    let Some((t, sub)) = s.split_once('/') else {
        return false;
    };
    let token = |p: &str| {
        !p.is_empty()
            && p.len() <= 127
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    token(t) && token(sub.split(';').next().unwrap_or("").trim())
}
