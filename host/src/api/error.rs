//! Errors in the distribution spec's shape: `{"errors":[{"code","message","detail"}]}`.

use crate::gate::Refusal;
use crate::storage::{BodyError, StorageError};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::time::Duration;

/// An error answered to the client.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// The spec's error code, e.g. `BLOB_UNKNOWN`.
    pub code: &'static str,
    /// Human-readable message.
    pub message: String,
    /// Extra machine-readable detail.
    pub detail: Option<Box<serde_json::Value>>,
    /// Headers to add (e.g. `Range` on 416, challenges on 401).
    pub headers: Vec<(&'static str, String)>,
}

impl ApiError {
    /// A new error.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            detail: None,
            headers: Vec::new(),
        }
    }

    /// Attach detail.
    pub fn with_detail(mut self, detail: serde_json::Value) -> ApiError {
        self.detail = Some(Box::new(detail));
        self
    }

    /// Attach a header.
    pub fn with_header(mut self, name: &'static str, value: String) -> ApiError {
        self.headers.push((name, value));
        self
    }

    /// 400 NAME_INVALID, saying why.
    pub fn name_invalid(name: &str, why: impl std::fmt::Display) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "NAME_INVALID", why.to_string())
            .with_detail(json!({ "name": truncate(name) }))
    }

    /// 408: the request body was too slow.
    pub fn request_timeout(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::REQUEST_TIMEOUT, "BLOB_UPLOAD_INVALID", message)
    }

    /// 429 TOOMANYREQUESTS with `Retry-After`.
    pub fn too_many_requests(message: impl Into<String>, retry_after: Duration) -> ApiError {
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, "TOOMANYREQUESTS", message)
            .with_header("Retry-After", retry_seconds(retry_after))
    }

    /// 503 UNAVAILABLE with `Retry-After`.
    pub fn unavailable(message: impl Into<String>, retry_after: Duration) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE", message)
            .with_header("Retry-After", retry_seconds(retry_after))
    }

    /// 400 DIGEST_INVALID.
    pub fn digest_invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "DIGEST_INVALID", message)
    }

    /// 400 MANIFEST_INVALID.
    pub fn manifest_invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "MANIFEST_INVALID", message)
    }

    /// 400 BLOB_UPLOAD_INVALID.
    pub fn upload_invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "BLOB_UPLOAD_INVALID", message)
    }

    /// 405 UNSUPPORTED for a method the route does not have.
    pub fn method_not_allowed() -> ApiError {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "UNSUPPORTED",
            "the operation is unsupported",
        )
    }

    /// 404 for a path that is no API route.
    pub fn not_found() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", "no such route")
    }
}

/// Whole seconds for `Retry-After`, at least one.
fn retry_seconds(d: Duration) -> String {
    d.as_secs_f64().ceil().max(1.0).to_string()
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> ApiError {
        match r {
            Refusal::Unauthenticated { reason, challenge } => {
                let e = ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "UNAUTHORIZED",
                    "authentication required",
                )
                .with_detail(json!({ "reason": reason }));
                match challenge {
                    Some(c) => e.with_header("WWW-Authenticate", c),
                    None => e,
                }
            }
            Refusal::Denied { reason } => ApiError::new(
                StatusCode::FORBIDDEN,
                "DENIED",
                "requested access to the resource is denied",
            )
            .with_detail(json!({ "reason": reason })),
            Refusal::Throttled { retry_after } => {
                ApiError::too_many_requests("too many failed logins; retry later", retry_after)
            }
            Refusal::Unavailable { retry_after } => ApiError::unavailable(
                "the registry is busy deciding other requests; retry shortly",
                retry_after,
            ),
        }
    }
}

/// Keep echoed client input short.
fn truncate(s: &str) -> String {
    s.chars().take(300).collect()
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> ApiError {
        use StatusCode as S;
        match e {
            StorageError::NameUnknown => ApiError::new(S::NOT_FOUND, "NAME_UNKNOWN", e.to_string()),
            StorageError::BlobUnknown => ApiError::new(S::NOT_FOUND, "BLOB_UNKNOWN", e.to_string()),
            StorageError::ManifestUnknown => {
                ApiError::new(S::NOT_FOUND, "MANIFEST_UNKNOWN", e.to_string())
            }
            StorageError::UploadUnknown => {
                ApiError::new(S::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN", e.to_string())
            }
            StorageError::DigestMismatch => ApiError::digest_invalid(e.to_string()),
            StorageError::ManifestInvalid(m) => ApiError::manifest_invalid(m),
            StorageError::ManifestBlobUnknown(ref d) => {
                let digest = d.to_string();
                ApiError::new(S::BAD_REQUEST, "MANIFEST_BLOB_UNKNOWN", e.to_string())
                    .with_detail(json!({ "digest": digest }))
            }
            StorageError::RangeInvalid { size } => {
                ApiError::new(S::RANGE_NOT_SATISFIABLE, "RANGE_INVALID", e.to_string())
                    .with_header("Range", super::headers::range_value(size))
            }
            StorageError::ManifestCollision => {
                ApiError::new(S::CONFLICT, "MANIFEST_INVALID", e.to_string())
            }
            StorageError::Body(BodyError::TooSlow(m)) => ApiError::request_timeout(m),
            StorageError::Body(BodyError::Broken(m)) => {
                ApiError::upload_invalid(format!("request body: {m}"))
            }
            StorageError::TagChanged(_) => {
                ApiError::new(S::CONFLICT, "MANIFEST_INVALID", e.to_string())
            }
            StorageError::TooLarge { .. } => {
                ApiError::new(S::PAYLOAD_TOO_LARGE, "SIZE_INVALID", e.to_string())
            }
            StorageError::TooManyUploads { .. } => {
                ApiError::too_many_requests(e.to_string(), Duration::from_secs(5))
            }
            StorageError::TooManyRepositories(_) => {
                ApiError::new(S::FORBIDDEN, "DENIED", e.to_string())
            }
            StorageError::NameInvalid => {
                ApiError::new(S::BAD_REQUEST, "NAME_INVALID", e.to_string())
            }
            StorageError::Full => {
                tracing::error!("storage is full: writes fail until space is freed");
                ApiError::new(
                    S::INSUFFICIENT_STORAGE,
                    "UNKNOWN",
                    "the registry's storage is full; nothing was stored",
                )
            }
            StorageError::Busy(busy) => {
                ApiError::unavailable(busy.to_string(), Duration::from_secs(1))
            }
            StorageError::Io(io) => {
                tracing::error!(error = %io, "storage failure");
                ApiError::new(
                    S::INTERNAL_SERVER_ERROR,
                    "UNKNOWN",
                    "internal storage error",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({ "code": self.code, "message": self.message });
        if let Some(detail) = self.detail {
            error["detail"] = *detail;
        }
        let body = json!({ "errors": [error] }).to_string();
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        for (name, value) in self.headers {
            if let Ok(v) = HeaderValue::from_str(&value) {
                headers.insert(name, v);
            }
        }
        response
    }
}
