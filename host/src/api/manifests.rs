//! Manifest reads, pushes and deletes.

use super::access::{manifest_write, push_tags};
use super::error::ApiError;
use super::header_names::{DOCKER_CONTENT_DIGEST, OCI_SUBJECT};
use super::query::Query;
use super::{empty_with_length, header, set, Audit, Reply};
use crate::gate::Caller;
use crate::oci::{Reference, RepoName};
use crate::storage::{ManifestBody, PutManifest, Storage, StorageError};
use axum::body::Body;
use axum::http::header::{CONTENT_TYPE, LOCATION};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use std::borrow::Cow;

use crate::oci::manifest::MAX_MANIFEST_BYTES;
/// How many times a push is decided again when its tags change under it before it gives up.
const MAX_DECISIONS: usize = 4;

/// GET or HEAD a manifest by tag or digest.
pub async fn get(
    storage: &Storage,
    name: &RepoName,
    reference: &Reference,
    method: &Method,
) -> Reply {
    respond(storage.get_manifest(name, reference).await?, method)
}

/// The answer to a GET or HEAD of `manifest`.
pub fn respond(manifest: ManifestBody, method: &Method) -> Reply {
    let len = manifest.bytes.len() as u64;
    let head = method == Method::HEAD;
    // A GET's length is the body's, which hyper writes itself; a HEAD has no body to measure.
    let mut response = Response::new(if head {
        Body::empty()
    } else {
        Body::from(manifest.bytes)
    });
    let h = response.headers_mut();
    match manifest.media_type {
        Cow::Borrowed(known) => {
            h.insert(CONTENT_TYPE, HeaderValue::from_static(known));
        }
        Cow::Owned(other) => set(h, CONTENT_TYPE, &other),
    }
    set(h, DOCKER_CONTENT_DIGEST, manifest.digest.as_str());
    if head {
        super::set_length(h, len);
    }
    Ok(response)
}

/// PUT a manifest, with optional `?tag=` values when pushing by digest.
///
/// Whether a tag is new (`create`) or moves (`update`) is decided against the repository as it
/// is when the request arrives, then checked again under the repository's writer lock at the
/// moment the tags are written: if a tag appeared or vanished meanwhile, the push is decided
/// again with the repository as it now is — so a caller allowed only to create can never move
/// a tag, however the requests interleave.
#[allow(clippy::too_many_arguments)]
pub async fn put(
    storage: &Storage,
    caller: &Caller,
    name: &RepoName,
    reference: &Reference,
    query: &Query,
    headers: &HeaderMap,
    body: Body,
    audit: &mut Audit,
) -> Reply {
    let extra_tags = push_tags(query)?;
    let mut body = Some(body);
    let mut bytes = None;
    for attempt in 0..MAX_DECISIONS {
        // The first decision reads what readers see; a re-decision reads what the writer saw.
        let view = if attempt == 0 {
            storage.index(name).await
        } else {
            storage.newest_index(name).await
        };
        let view = match view {
            Ok(v) => Some(v),
            Err(StorageError::NameUnknown) => None,
            Err(e) => return Err(e.into()),
        };
        let (accesses, expected) = manifest_write(view.as_deref(), name, reference, &extra_tags);
        caller
            .authorize(&accesses)
            .await
            .inspect_err(|e| audit.refused(e))?;
        audit.allowed();
        // The body is read once, after the first decision: a refused push uploads nothing.
        let document = match (&bytes, body.take()) {
            (Some(b), _) => bytes::Bytes::clone(b),
            (None, Some(body)) => {
                let read = read_document(body).await?;
                bytes = Some(read.clone());
                read
            }
            (None, None) => unreachable!("the body is kept until read"),
        };
        let outcome = storage
            .put_manifest(PutManifest {
                name,
                reference,
                extra_tags: &extra_tags,
                body: document,
                content_type: header(headers, CONTENT_TYPE),
                expected: if caller.is_open() { &[] } else { &expected },
            })
            .await;
        let outcome = match outcome {
            Err(StorageError::TagChanged(tag)) => {
                tracing::info!(repository = %name, tag, "tag changed while the push was decided; deciding again");
                continue;
            }
            other => other?,
        };
        audit.digest = Some(outcome.digest.to_string());
        let mut response = empty_with_length(StatusCode::CREATED, 0);
        let h = response.headers_mut();
        set(
            h,
            LOCATION,
            &format!("/v2/{name}/manifests/{}", outcome.digest),
        );
        set(h, DOCKER_CONTENT_DIGEST, outcome.digest.as_str());
        if let Some(subject) = &outcome.subject {
            set(h, OCI_SUBJECT, &subject.to_string());
        }
        for tag in &extra_tags {
            if let Ok(v) = HeaderValue::from_str(tag) {
                h.append("OCI-Tag", v);
            }
        }
        return Ok(response);
    }
    Err(ApiError::new(
        StatusCode::CONFLICT,
        "MANIFEST_INVALID",
        "the tags of this push kept changing while it was decided; retry",
    ))
}

/// Read a pushed manifest, within the size limit.
async fn read_document(body: Body) -> Result<bytes::Bytes, ApiError> {
    axum::body::to_bytes(body, MAX_MANIFEST_BYTES)
        .await
        .map_err(|e| {
            if super::body::is_length_limit(&e) {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "MANIFEST_INVALID",
                    format!("manifest exceeds {MAX_MANIFEST_BYTES} bytes"),
                )
            } else {
                match super::body::failure_of(&e) {
                    Some(slow) => ApiError::request_timeout(slow.to_string()),
                    None => ApiError::manifest_invalid(format!("request body: {e}")),
                }
            }
        })
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
