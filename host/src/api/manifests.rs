//! Manifest reads, pushes and deletes.

use super::error::ApiError;
use super::{empty_with_length, header, set, Reply};
use crate::oci::{Reference, RepoName};
use crate::storage::{PutManifest, Storage};
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::IntoResponse;

/// Largest manifest accepted (the spec asks registries to take at least 4 MiB).
pub const MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;

/// GET or HEAD a manifest by tag or digest.
pub async fn get(
    storage: &Storage,
    name: &RepoName,
    reference: &Reference,
    method: &Method,
) -> Reply {
    let manifest = storage.get_manifest(name, reference).await?;
    let len = manifest.bytes.len() as u64;
    let mut response = if method == Method::HEAD {
        empty_with_length(StatusCode::OK, len)
    } else {
        (StatusCode::OK, manifest.bytes).into_response()
    };
    let h = response.headers_mut();
    set(h, "Content-Type", &manifest.media_type);
    set(h, "Docker-Content-Digest", &manifest.digest.to_string());
    set(h, "Content-Length", &len.to_string());
    Ok(response)
}

/// PUT a manifest, with optional `?tag=` values when pushing by digest.
pub async fn put(
    storage: &Storage,
    name: &RepoName,
    reference: &Reference,
    extra_tags: &[String],
    headers: &HeaderMap,
    body: Body,
) -> Reply {
    let body = axum::body::to_bytes(body, MAX_MANIFEST_BYTES)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "MANIFEST_INVALID",
                format!("manifest exceeds {MAX_MANIFEST_BYTES} bytes"),
            )
        })?;
    let outcome = storage
        .put_manifest(PutManifest {
            name,
            reference,
            extra_tags,
            body,
            content_type: header(headers, "content-type"),
        })
        .await?;
    let mut response = empty_with_length(StatusCode::CREATED, 0);
    let h = response.headers_mut();
    set(
        h,
        "Location",
        &format!("/v2/{name}/manifests/{}", outcome.digest),
    );
    set(h, "Docker-Content-Digest", &outcome.digest.to_string());
    if let Some(subject) = &outcome.subject {
        set(h, "OCI-Subject", &subject.to_string());
    }
    for tag in extra_tags {
        if let Ok(v) = HeaderValue::from_str(tag) {
            h.append("OCI-Tag", v);
        }
    }
    Ok(response)
}

/// DELETE a tag, or a manifest with all its tags (refused with 409 when `detect_collision`
/// and several tags name it).
pub async fn delete(
    storage: &Storage,
    name: &RepoName,
    reference: &Reference,
    detect_collision: bool,
) -> Reply {
    storage
        .delete_manifest(name, reference, detect_collision)
        .await?;
    Ok(empty_with_length(StatusCode::ACCEPTED, 0))
}
