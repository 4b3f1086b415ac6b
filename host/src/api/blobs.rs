//! Blob reads and deletes.

use super::error::ApiError;
use super::header_names::DOCKER_CONTENT_DIGEST;
use super::headers::{blob_range, BlobRange};
use super::{empty_with_length, header, Reply};
use crate::oci::{Digest, RepoName};
use crate::storage::{Landing, Storage, Window};
use crate::zero_copy::SendfileRegions;
use axum::body::{Body, Bytes};
use axum::http::header::{ACCEPT_RANGES, CONTENT_RANGE, CONTENT_TYPE, RANGE};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::IntoResponse;
use std::sync::Arc;
use tokio::sync::watch;

/// A blob is sent a window at a time: each is read (or mapped and read ahead) by one job on
/// the storage pool.
const WINDOW: u64 = 8 << 20;
/// The same for bodies that are copied through memory (TLS, HTTP/2).
const COPY_WINDOW: u64 = 1 << 20;

/// GET or HEAD a blob, honouring a single `Range`. With `zero_copy` (a plain HTTP/1
/// connection), the body is sent from the file by the kernel.
pub async fn get(
    storage: &Arc<Storage>,
    name: &RepoName,
    digest: &Digest,
    method: &Method,
    headers: &HeaderMap,
    zero_copy: Option<SendfileRegions>,
) -> Reply {
    let (size, blob) = if method == Method::HEAD {
        (storage.blob_size(name, digest).await?, None)
    } else {
        let blob = storage.open_blob(name, digest).await?;
        (blob.size, Some(blob.file))
    };
    let range = blob_range(header(headers, RANGE), size);
    let (status, start, len) = match range {
        BlobRange::Full => (StatusCode::OK, 0, size),
        BlobRange::Part(s, e) => (StatusCode::PARTIAL_CONTENT, s, e - s + 1),
        BlobRange::Unsatisfiable => {
            return Err(ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "RANGE_INVALID",
                "requested range not satisfiable",
            )
            .with_header("Content-Range", format!("bytes */{size}")))
        }
    };
    let mut response = match blob {
        // A HEAD: its length is set below, with the headers a GET has.
        None => (status, Body::empty()).into_response(),
        Some(file) => {
            let body = windows(storage.clone(), Arc::new(file), start, len, zero_copy);
            (status, Body::from_stream(body)).into_response()
        }
    };
    let h = response.headers_mut();
    blob_headers(h, digest);
    h.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if status == StatusCode::PARTIAL_CONTENT {
        super::set(
            h,
            CONTENT_RANGE,
            &format!("bytes {}-{}/{}", start, start + len - 1, size),
        );
    }
    super::set_length(h, len);
    Ok(response)
}

/// GET or HEAD a blob still arriving from an upstream: the whole blob (a `Range` is honoured
/// once it is stored), its bytes sent as they land. Fails (nothing sent) when the blob fails
/// before its source answered.
pub async fn arriving(
    storage: &Arc<Storage>,
    digest: &Digest,
    method: &Method,
    mut landing: watch::Receiver<Landing>,
) -> Reply {
    let failed = |why: &str| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "BLOB_UNKNOWN",
            format!("the blob could not be fetched from upstream: {why}"),
        )
    };
    // HEAD needs the size: wait for it (until the blob is stored, if its source announced
    // none); GET only for the source's first answer.
    let size = loop {
        let now = landing.borrow_and_update().clone();
        match now {
            Landing::Failed(why) => return Err(failed(&why)),
            Landing::Waiting => {}
            Landing::Writing { size: None, .. } if method == Method::HEAD => {}
            known => break known.size(),
        }
        if landing.changed().await.is_err() {
            return Err(failed("its fetch ended"));
        }
    };
    let mut response = match (method == Method::HEAD, size) {
        (true, Some(size)) => empty_with_length(StatusCode::OK, size),
        _ => {
            let body = Body::from_stream(storage.follow_landing(landing));
            (StatusCode::OK, body).into_response()
        }
    };
    let h = response.headers_mut();
    blob_headers(h, digest);
    if let Some(size) = size {
        super::set_length(h, size);
    }
    Ok(response)
}

/// The headers of every blob answer.
fn blob_headers(h: &mut HeaderMap, digest: &Digest) {
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    super::set(h, DOCKER_CONTENT_DIGEST, digest.as_str());
}

/// Bytes `start..start + len` of `file`, window by window.
fn windows(
    storage: Arc<Storage>,
    file: Arc<std::fs::File>,
    start: u64,
    len: u64,
    zero_copy: Option<SendfileRegions>,
) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> {
    let window = if zero_copy.is_some() {
        WINDOW
    } else {
        COPY_WINDOW
    };
    futures_util::stream::try_unfold(start, move |offset| {
        let (storage, file, zero_copy) = (storage.clone(), file.clone(), zero_copy.clone());
        async move {
            let left = start + len - offset;
            if left == 0 {
                return Ok(None);
            }
            let n = left.min(window) as usize;
            let bytes = match storage
                .blob_window(file.clone(), offset, n, zero_copy.is_some())
                .await
                .map_err(std::io::Error::other)?
            {
                Window::Mapped(map) => match zero_copy {
                    Some(regions) => regions.bytes(map, file, offset),
                    None => Bytes::from_owner(map),
                },
                Window::Read(bytes) => bytes,
            };
            Ok(Some((bytes, offset + n as u64)))
        }
    })
}

/// DELETE a blob.
pub async fn delete(storage: &Storage, name: &RepoName, digest: &Digest) -> Reply {
    storage.delete_blob(name, digest).await?;
    let mut response = empty_with_length(StatusCode::ACCEPTED, 0);
    super::set(
        response.headers_mut(),
        DOCKER_CONTENT_DIGEST,
        digest.as_str(),
    );
    Ok(response)
}

impl From<std::io::Error> for ApiError {
    fn from(e: std::io::Error) -> ApiError {
        crate::storage::StorageError::Io(e).into()
    }
}
