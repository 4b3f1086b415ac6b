//! Building blobs and manifests and pushing them over plain HTTP.

use reqwest::blocking::{Client, RequestBuilder};
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256, Sha512};

/// Media types used in tests.
pub mod media {
    /// OCI image manifest.
    pub const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    /// OCI image index.
    pub const INDEX: &str = "application/vnd.oci.image.index.v1+json";
    /// OCI image config.
    pub const CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    /// gzip layer.
    pub const LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
    /// Empty JSON.
    pub const EMPTY: &str = "application/vnd.oci.empty.v1+json";
}

/// `sha256:<hex>` of bytes.
pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// `sha512:<hex>` of bytes.
pub fn sha512(bytes: &[u8]) -> String {
    format!("sha512:{}", hex::encode(Sha512::digest(bytes)))
}

/// A descriptor JSON object.
pub fn descriptor(media_type: &str, bytes: &[u8]) -> Value {
    json!({ "mediaType": media_type, "digest": sha256(bytes), "size": bytes.len() })
}

/// Push a blob monolithically (POST with `?digest=`); panics unless 201.
pub fn push_blob(client: &Client, base: &str, repo: &str, bytes: &[u8]) -> String {
    let digest = sha256(bytes);
    let r = client
        .post(format!("{base}/v2/{repo}/blobs/uploads/?digest={digest}"))
        .header("Content-Type", "application/octet-stream")
        .body(bytes.to_vec())
        .send()
        .unwrap();
    assert_eq!(r.status(), 201, "push blob to {repo}: {:?}", r.text());
    digest
}

/// An image manifest over a config and layers (all pushed), as bytes.
pub fn image_manifest(config: &[u8], layers: &[&[u8]], extra: Value) -> Vec<u8> {
    let mut m = json!({
        "schemaVersion": 2,
        "mediaType": media::MANIFEST,
        "config": descriptor(media::CONFIG, config),
        "layers": layers.iter().map(|l| descriptor(media::LAYER, l)).collect::<Vec<_>>(),
    });
    crate::merge(&mut m, extra);
    serde_json::to_vec(&m).unwrap()
}

/// Push a small image (config + one layer + manifest) under `reference`; returns the
/// manifest's digest and bytes.
pub fn push_image(
    client: &Client,
    base: &str,
    repo: &str,
    reference: &str,
    seed: &str,
) -> (String, Vec<u8>) {
    let config = format!(r#"{{"architecture":"amd64","os":"linux","seed":"{seed}"}}"#);
    let layer = format!("layer for {seed}");
    push_blob(client, base, repo, config.as_bytes());
    push_blob(client, base, repo, layer.as_bytes());
    let manifest = image_manifest(config.as_bytes(), &[layer.as_bytes()], json!({}));
    put_manifest(client, base, repo, reference, media::MANIFEST, &manifest);
    (sha256(&manifest), manifest)
}

/// Push a small image (config and layer made from `seed`) as `repo:tag`, each request passed
/// through `authorize` (to add credentials): 201, or the first status that refused it.
pub fn try_push_image(
    client: &Client,
    base: &str,
    (repo, tag): (&str, &str),
    seed: &str,
    authorize: impl Fn(RequestBuilder) -> RequestBuilder,
) -> u16 {
    let config = format!(r#"{{"seed":"{seed}"}}"#);
    for blob in [config.as_bytes(), seed.as_bytes()] {
        let url = format!("{base}/v2/{repo}/blobs/uploads/?digest={}", sha256(blob));
        let r = authorize(client.post(url))
            .body(blob.to_vec())
            .send()
            .unwrap();
        if r.status() != 201 {
            return r.status().as_u16();
        }
    }
    let manifest = image_manifest(config.as_bytes(), &[seed.as_bytes()], json!({}));
    authorize(client.put(format!("{base}/v2/{repo}/manifests/{tag}")))
        .header("Content-Type", media::MANIFEST)
        .body(manifest)
        .send()
        .unwrap()
        .status()
        .as_u16()
}

/// PUT a manifest; panics unless 201.
pub fn put_manifest(
    client: &Client,
    base: &str,
    repo: &str,
    reference: &str,
    media_type: &str,
    body: &[u8],
) {
    let r = client
        .put(format!("{base}/v2/{repo}/manifests/{reference}"))
        .header("Content-Type", media_type)
        .body(body.to_vec())
        .send()
        .unwrap();
    assert_eq!(
        r.status(),
        201,
        "put manifest {repo}:{reference}: {:?}",
        r.text()
    );
}

/// The first error code of an error body.
pub fn error_code(body: &str) -> String {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"));
    v["errors"][0]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no code: {body}"))
        .to_owned()
}

/// The digest `registry` answers for the manifest `repo:reference` (a GET accepting OCI
/// manifests and indexes), or None unless it answers 200.
pub fn manifest_digest(registry: &crate::Registry, repo: &str, reference: &str) -> Option<String> {
    let r = crate::client()
        .get(registry.at(&format!("/v2/{repo}/manifests/{reference}")))
        .header("Accept", format!("{}, {}", media::MANIFEST, media::INDEX))
        .send()
        .unwrap();
    (r.status() == 200).then(|| {
        r.headers()["docker-content-digest"]
            .to_str()
            .unwrap()
            .to_owned()
    })
}
