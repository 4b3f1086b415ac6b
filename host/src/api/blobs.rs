//! Blob reads and deletes.

use super::error::ApiError;
use super::headers::{blob_range, BlobRange};
use super::{empty_with_length, header, Reply};
use crate::oci::{Digest, RepoName};
use crate::storage::Storage;
use axum::body::Body;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::IntoResponse;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// Read buffer for streaming blobs out.
const READ_CHUNK: usize = 256 * 1024;

/// GET or HEAD a blob, honouring a single `Range`.
pub async fn get(
    storage: &Storage,
    name: &RepoName,
    digest: &Digest,
    method: &Method,
    headers: &HeaderMap,
) -> Reply {
    let blob = storage.open_blob(name, digest).await?;
    let range = blob_range(header(headers, "range"), blob.size);
    let (status, start, len) = match range {
        BlobRange::Full => (StatusCode::OK, 0, blob.size),
        BlobRange::Part(s, e) => (StatusCode::PARTIAL_CONTENT, s, e - s + 1),
        BlobRange::Unsatisfiable => {
            return Err(ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "RANGE_INVALID",
                "requested range not satisfiable",
            )
            .with_header("Content-Range", format!("bytes */{}", blob.size)))
        }
    };
    let mut response = if method == Method::HEAD {
        empty_with_length(status, len)
    } else {
        let mut file = tokio::fs::File::from_std(blob.file);
        if start > 0 {
            file.seek(std::io::SeekFrom::Start(start)).await?;
        }
        let stream = tokio_util::io::ReaderStream::with_capacity(file.take(len), READ_CHUNK);
        (status, Body::from_stream(stream)).into_response()
    };
    let h = response.headers_mut();
    super::set(h, "Content-Type", "application/octet-stream");
    super::set(h, "Docker-Content-Digest", &digest.to_string());
    super::set(h, "Accept-Ranges", "bytes");
    if status == StatusCode::PARTIAL_CONTENT {
        super::set(
            h,
            "Content-Range",
            &format!("bytes {}-{}/{}", start, start + len - 1, blob.size),
        );
    }
    super::set(h, "Content-Length", &len.to_string());
    Ok(response)
}

/// DELETE a blob.
pub async fn delete(storage: &Storage, name: &RepoName, digest: &Digest) -> Reply {
    storage.delete_blob(name, digest).await?;
    let mut response = empty_with_length(StatusCode::ACCEPTED, 0);
    super::set(
        response.headers_mut(),
        "Docker-Content-Digest",
        &digest.to_string(),
    );
    Ok(response)
}

impl From<std::io::Error> for ApiError {
    fn from(e: std::io::Error) -> ApiError {
        crate::storage::StorageError::Io(e).into()
    }
}
