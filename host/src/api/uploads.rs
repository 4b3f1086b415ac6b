//! Blob uploads: open (monolithic, mount), chunks, status, finish, cancel.

use super::error::ApiError;
use super::header_names::{DOCKER_CONTENT_DIGEST, DOCKER_UPLOAD_UUID};
use super::headers::{content_range, range_value};
use super::query::Query;
use super::{empty_with_length, header, set, Reply};
use crate::oci::{Digest, RepoName};
use crate::storage::Storage;
use axum::body::Body;
use axum::http::header::{CONTENT_LENGTH, CONTENT_RANGE, LOCATION, RANGE};
use axum::http::{HeaderMap, StatusCode};

/// A mount a POST asks for: the digest and the source repository, if named.
pub type MountRequest = (Digest, Option<RepoName>);

/// The `mount` and `from` parameters of a POST, validated.
pub fn mount_request(query: &Query) -> Result<Option<MountRequest>, ApiError> {
    let Some(mount) = query.get("mount") else {
        return Ok(None);
    };
    let digest = parse_digest(mount)?;
    let from = match query.get("from") {
        Some(f) => Some(RepoName::parse(f).map_err(|e| ApiError::name_invalid(f, e))?),
        None => None,
    };
    Ok(Some((digest, from)))
}

/// POST `/v2/<name>/blobs/uploads/`: a mount (when `mount` is allowed and the blob is there),
/// a monolithic push, or a new session.
pub async fn start(
    storage: &Storage,
    name: &RepoName,
    query: &Query,
    mount: Option<MountRequest>,
    headers: &HeaderMap,
    body: Body,
) -> Reply {
    if let Some(declared) = header(headers, CONTENT_LENGTH).and_then(|v| v.parse::<u64>().ok()) {
        // Refused before a byte is stored (the body is then drained or the connection closed).
        storage.check_blob_size(declared)?;
    }
    if let Some((digest, from)) = mount {
        if storage.mount_blob(name, &digest, from.as_ref()).await? {
            return Ok(blob_created(name, &digest));
        }
    } else if query.get("mount").is_some() {
        // A mount the caller may not make: an ordinary upload session, as zot answers.
    } else if let Some(digest) = query.get("digest") {
        let digest = parse_digest(digest)?;
        storage
            .put_blob(name, &digest, super::body::stream(body))
            .await?;
        return Ok(blob_created(name, &digest));
    }
    let id = storage.start_upload(name).await?;
    Ok(session_reply(StatusCode::ACCEPTED, name, &id, 0))
}

/// PATCH: append a chunk (streamed, or with `Content-Range`).
pub async fn patch(
    storage: &Storage,
    name: &RepoName,
    id: &str,
    headers: &HeaderMap,
    body: Body,
) -> Reply {
    let range = chunk_range(headers)?;
    let status = storage
        .append_upload(name, id, range, super::body::stream(body))
        .await
        .map_err(|e| with_location(e.into(), name, id))?;
    Ok(session_reply(StatusCode::ACCEPTED, name, id, status.size))
}

/// PUT `?digest=`: the last chunk (possibly empty), then verify and store.
pub async fn finish(
    storage: &Storage,
    name: &RepoName,
    id: &str,
    query: &Query,
    headers: &HeaderMap,
    body: Body,
) -> Reply {
    let digest = query
        .get("digest")
        .ok_or_else(|| ApiError::digest_invalid("digest query parameter is required"))?;
    let digest = parse_digest(digest)?;
    let range = chunk_range(headers)?;
    storage
        .finish_upload(name, id, range, &digest, super::body::stream(body))
        .await
        .map_err(|e| with_location(e.into(), name, id))?;
    Ok(blob_created(name, &digest))
}

/// The chunk's `Content-Range`, if the client sent one.
fn chunk_range(headers: &HeaderMap) -> Result<Option<(u64, u64)>, ApiError> {
    header(headers, CONTENT_RANGE)
        .map(|h| {
            content_range(h).ok_or_else(|| {
                ApiError::new(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    "RANGE_INVALID",
                    "malformed Content-Range",
                )
            })
        })
        .transpose()
}

/// GET: where the upload stands.
pub async fn status(storage: &Storage, name: &RepoName, id: &str) -> Reply {
    let status = storage.upload_status(name, id).await?;
    Ok(session_reply(StatusCode::NO_CONTENT, name, id, status.size))
}

/// DELETE: cancel.
pub async fn cancel(storage: &Storage, name: &RepoName, id: &str) -> Reply {
    storage.cancel_upload(name, id).await?;
    Ok(empty_with_length(StatusCode::NO_CONTENT, 0))
}

fn parse_digest(s: &str) -> Result<Digest, ApiError> {
    s.parse().map_err(|e| {
        ApiError::digest_invalid(format!("{e}: {}", s.chars().take(200).collect::<String>()))
    })
}

fn upload_location(name: &RepoName, id: &str) -> String {
    format!("/v2/{name}/blobs/uploads/{id}")
}

fn with_location(e: ApiError, name: &RepoName, id: &str) -> ApiError {
    if e.status == StatusCode::RANGE_NOT_SATISFIABLE {
        e.with_header("Location", upload_location(name, id))
            .with_header("Docker-Upload-UUID", id.to_owned())
    } else {
        e
    }
}

fn session_reply(
    status: StatusCode,
    name: &RepoName,
    id: &str,
    size: u64,
) -> axum::response::Response {
    let mut response = empty_with_length(status, 0);
    let h = response.headers_mut();
    set(h, LOCATION, &upload_location(name, id));
    set(h, RANGE, &range_value(size));
    set(h, DOCKER_UPLOAD_UUID, id);
    response
}

fn blob_created(name: &RepoName, digest: &Digest) -> axum::response::Response {
    let mut response = empty_with_length(StatusCode::CREATED, 0);
    let h = response.headers_mut();
    set(h, LOCATION, &format!("/v2/{name}/blobs/{digest}"));
    set(h, DOCKER_CONTENT_DIGEST, digest.as_str());
    response
}
