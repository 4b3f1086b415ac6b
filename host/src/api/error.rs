//! Errors in the distribution spec's shape: `{"errors":[{"code","message","detail"}]}`.

use crate::storage::StorageError;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

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
    pub detail: Option<serde_json::Value>,
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
        self.detail = Some(detail);
        self
    }

    /// Attach a header.
    pub fn with_header(mut self, name: &'static str, value: String) -> ApiError {
        self.headers.push((name, value));
        self
    }

    /// 400 NAME_INVALID.
    pub fn name_invalid(name: &str) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "NAME_INVALID",
            "invalid repository name",
        )
        .with_detail(json!({ "name": truncate(name) }))
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
            StorageError::Body(m) => ApiError::upload_invalid(format!("request body: {m}")),
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
            error["detail"] = detail;
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
