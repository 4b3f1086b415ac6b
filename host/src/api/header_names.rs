//! The names of the headers the distribution API adds to HTTP's (as constants: a name given
//! as text is parsed and hashed again at every use).

use axum::http::HeaderName;

/// `Docker-Content-Digest`: the digest of a manifest or blob.
pub const DOCKER_CONTENT_DIGEST: HeaderName = HeaderName::from_static("docker-content-digest");
/// `Docker-Upload-UUID`: an upload session's id.
pub const DOCKER_UPLOAD_UUID: HeaderName = HeaderName::from_static("docker-upload-uuid");
/// `Docker-Distribution-API-Version`, on every answer under `/v2`.
pub const DOCKER_API_VERSION: HeaderName =
    HeaderName::from_static("docker-distribution-api-version");
/// `OCI-Filters-Applied`: the filters a referrers listing applied.
pub const OCI_FILTERS_APPLIED: HeaderName = HeaderName::from_static("oci-filters-applied");
/// `X-Forwarded-For`: the client a proxy forwarded the request for.
pub const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
/// `OCI-Subject`: the subject a pushed manifest refers to.
pub const OCI_SUBJECT: HeaderName = HeaderName::from_static("oci-subject");
