//! The distribution-API calls the workloads make: uploads (monolithic and chunked), blob
//! pulls, manifest pushes, and the image manifest they push.

use crate::blobdata::Blob;
use crate::client::{location_path, with_query, Client};
use crate::payload::Payload;
use anyhow::Context as _;
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_RANGE, CONTENT_TYPE};
use http::{Method, StatusCode};

/// OCI image manifest media type.
pub const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image config media type.
pub const CONFIG_TYPE: &str = "application/vnd.oci.image.config.v1+json";
/// OCI layer media type.
pub const LAYER_TYPE: &str = "application/vnd.oci.image.layer.v1.tar";

fn octet_stream() -> (HeaderName, HeaderValue) {
    (
        CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    )
}

/// Open an upload session in `repo`; returns the path to send its data to.
pub async fn start_upload(client: &mut Client, repo: &str) -> anyhow::Result<String> {
    let reply = client
        .send(
            Method::POST,
            &format!("/v2/{repo}/blobs/uploads/"),
            &[],
            Payload::empty(),
        )
        .await?
        .expect(StatusCode::ACCEPTED, "start upload")?;
    Ok(location_path(
        reply
            .header("location")
            .context("upload without Location")?,
    )
    .to_owned())
}

/// Push `body` (whose digest is `digest`) as one PUT after the POST.
pub async fn push_monolithic(
    client: &mut Client,
    repo: &str,
    body: Payload,
    digest: &str,
) -> anyhow::Result<()> {
    let location = start_upload(client, repo).await?;
    client
        .send(
            Method::PUT,
            &with_query(&location, "digest", digest),
            &[octet_stream()],
            body,
        )
        .await?
        .expect(StatusCode::CREATED, "monolithic upload")?;
    Ok(())
}

/// Push `blob` as PATCHes of `chunk` bytes, then an empty closing PUT.
pub async fn push_chunked(
    client: &mut Client,
    repo: &str,
    blob: &Blob,
    chunk: usize,
) -> anyhow::Result<()> {
    let mut location = start_upload(client, repo).await?;
    let len = blob.len();
    let mut start = 0;
    while start < len {
        let end = (start + chunk).min(len);
        let range = HeaderValue::from_str(&format!("{start}-{}", end - 1))?;
        let reply = client
            .send(
                Method::PATCH,
                &location,
                &[octet_stream(), (CONTENT_RANGE, range)],
                blob.range(start, end),
            )
            .await?
            .expect(StatusCode::ACCEPTED, "upload chunk")?;
        location =
            location_path(reply.header("location").context("chunk without Location")?).to_owned();
        start = end;
    }
    client
        .send(
            Method::PUT,
            &with_query(&location, "digest", &blob.digest),
            &[],
            Payload::empty(),
        )
        .await?
        .expect(StatusCode::CREATED, "close chunked upload")?;
    Ok(())
}

/// GET a blob, discarding its bytes; returns how many arrived.
pub async fn pull(client: &mut Client, repo: &str, digest: &str) -> anyhow::Result<u64> {
    let (status, bytes) = client
        .send_counting(Method::GET, &format!("/v2/{repo}/blobs/{digest}"), &[])
        .await?;
    anyhow::ensure!(status == StatusCode::OK, "pull: got {status}");
    Ok(bytes)
}

/// PUT an OCI image manifest under `reference` (a tag or digest).
pub async fn put_manifest(
    client: &mut Client,
    repo: &str,
    reference: &str,
    manifest: Bytes,
) -> anyhow::Result<()> {
    client
        .send(
            Method::PUT,
            &format!("/v2/{repo}/manifests/{reference}"),
            &[(CONTENT_TYPE, HeaderValue::from_static(MANIFEST_TYPE))],
            manifest.into(),
        )
        .await?
        .expect(StatusCode::CREATED, "manifest push")?;
    Ok(())
}

/// A content descriptor.
#[derive(Debug, Clone)]
pub struct Descriptor {
    /// Media type.
    pub media_type: &'static str,
    /// `sha256:<hex>`.
    pub digest: String,
    /// Size in bytes.
    pub size: usize,
}

/// An OCI image manifest of `config` and `layer`, made distinct by the annotation `stamp`.
pub fn image_manifest(config: &Descriptor, layer: &Descriptor, stamp: &str) -> Bytes {
    let descriptor = |d: &Descriptor| serde_json::json!({"mediaType": d.media_type, "digest": d.digest, "size": d.size});
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "config": descriptor(config),
        "layers": [descriptor(layer)],
        "annotations": {"org.example.portcullis-bench.stamp": stamp},
    });
    Bytes::from(serde_json::to_vec(&manifest).expect("a JSON value serialises"))
}
