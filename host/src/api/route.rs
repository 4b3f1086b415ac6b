//! Parsing `/v2/…` paths. Repository names contain slashes, so a path is read from its end.

use super::error::ApiError;
use crate::oci::name::ReferenceError;
use crate::oci::{Digest, Reference, RepoName};

/// A distribution API route with its validated parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/v2/`.
    Base,
    /// `/v2/_catalog`.
    Catalog,
    /// `/v2/<name>/tags/list`.
    Tags(RepoName),
    /// `/v2/<name>/manifests/<reference>`.
    Manifest(RepoName, Reference),
    /// `/v2/<name>/blobs/<digest>`.
    Blob(RepoName, Digest),
    /// `/v2/<name>/blobs/uploads/`.
    UploadStart(RepoName),
    /// `/v2/<name>/blobs/uploads/<id>`.
    Upload(RepoName, String),
    /// `/v2/<name>/referrers/<digest>`.
    Referrers(RepoName, Digest),
}

impl Route {
    /// Parse the part of the path after `/v2/`. An invalid tag is a missing manifest to a read
    /// (as the conformance suite expects) and an invalid manifest to a write.
    pub fn parse(rest: &str, writes: bool) -> Result<Route, ApiError> {
        if rest.is_empty() {
            return Ok(Route::Base);
        }
        if rest == "_catalog" {
            return Ok(Route::Catalog);
        }
        // The last three segments, and the name as the text before the last `k` of them.
        let slashes = last_slashes(rest);
        let (last, second, third) = (
            segment(rest, &slashes, 0),
            segment(rest, &slashes, 1),
            segment(rest, &slashes, 2),
        );
        let name_of = |k: usize| -> Result<RepoName, ApiError> {
            let Some(end) = slashes[k - 1] else {
                return Err(ApiError::not_found());
            };
            let name = &rest[..end];
            RepoName::parse(name).map_err(|e| ApiError::name_invalid(name, e))
        };
        let digest_of = |s: &str| -> Result<Digest, ApiError> {
            s.parse()
                .map_err(|e| ApiError::digest_invalid(format!("{e}: {}", truncated(s))))
        };
        match (third, second, last) {
            (Some(_), Some("tags"), Some("list")) => return Ok(Route::Tags(name_of(2)?)),
            (Some(_), Some("blobs"), Some("uploads")) => {
                return Ok(Route::UploadStart(name_of(2)?))
            }
            (Some("blobs"), Some("uploads"), Some(id)) if slashes[2].is_some() => {
                let name = name_of(3)?;
                return Ok(if id.is_empty() {
                    Route::UploadStart(name)
                } else {
                    Route::Upload(name, id.to_owned())
                });
            }
            _ => {}
        }
        if let (Some(_), Some(kind), Some(last)) = (third, second, last) {
            match kind {
                "manifests" => {
                    let name = name_of(2)?;
                    let reference = Reference::parse(last).map_err(|e| match e {
                        ReferenceError::Digest(d) => {
                            ApiError::digest_invalid(format!("{d}: {}", truncated(last)))
                        }
                        ReferenceError::Tag if writes => {
                            ApiError::manifest_invalid(format!("invalid tag {:?}", truncated(last)))
                        }
                        ReferenceError::Tag => ApiError::new(
                            axum::http::StatusCode::NOT_FOUND,
                            "MANIFEST_UNKNOWN",
                            "manifest unknown",
                        ),
                    })?;
                    return Ok(Route::Manifest(name, reference));
                }
                "blobs" => return Ok(Route::Blob(name_of(2)?, digest_of(last)?)),
                "referrers" => return Ok(Route::Referrers(name_of(2)?, digest_of(last)?)),
                _ => {}
            }
        }
        Err(ApiError::not_found())
    }
}

/// Where the last four `/` of `path` are, the last first.
fn last_slashes(path: &str) -> [Option<usize>; 4] {
    let mut found = [None; 4];
    let mut end = path.len();
    for slot in &mut found {
        let Some(at) = memchr::memrchr(b'/', &path.as_bytes()[..end]) else {
            break;
        };
        *slot = Some(at);
        end = at;
    }
    found
}

/// Segment `i` of `path` counted from its end (0: the last), if the path has that many.
fn segment<'a>(path: &'a str, slashes: &[Option<usize>; 4], i: usize) -> Option<&'a str> {
    let end = match i {
        0 => path.len(),
        _ => slashes[i - 1]?,
    };
    let start = slashes[i].map_or(0, |at| at + 1);
    Some(&path[start..end])
}

fn truncated(s: &str) -> String {
    s.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn segments_are_read_from_the_end_as_rsplit_reads_them() {
        for path in ["a/b//c/d", "x", "/x", "a/", "", "a/b/c/d/e/f", "//"] {
            let slashes = last_slashes(path);
            let expected: Vec<&str> = path.rsplit('/').take(4).collect();
            let got: Vec<&str> = (0..4).map_while(|i| segment(path, &slashes, i)).collect();
            assert_eq!(got, expected, "{path:?}");
        }
    }

    #[test]
    fn routes() {
        let name = |s: &str| RepoName::parse(s).unwrap();
        assert_eq!(Route::parse("", false).unwrap(), Route::Base);
        assert_eq!(
            Route::parse("a/b/tags/list", false).unwrap(),
            Route::Tags(name("a/b"))
        );
        assert_eq!(
            Route::parse("x/manifests/manifests/latest", false).unwrap(),
            Route::Manifest(name("x/manifests"), Reference::Tag("latest".into()))
        );
        assert_eq!(
            Route::parse("a/blobs/uploads/", false).unwrap(),
            Route::UploadStart(name("a"))
        );
        assert_eq!(
            Route::parse("a/blobs/uploads", false).unwrap(),
            Route::UploadStart(name("a"))
        );
        assert_eq!(
            Route::parse("a/blobs/uploads/123", false).unwrap(),
            Route::Upload(name("a"), "123".into())
        );
        assert!(matches!(
            Route::parse(&format!("a/blobs/{D}"), false).unwrap(),
            Route::Blob(..)
        ));
        assert!(matches!(
            Route::parse(&format!("a/referrers/{D}"), false).unwrap(),
            Route::Referrers(..)
        ));
        assert_eq!(
            Route::parse("a/blobs/sha256:xyz", false).unwrap_err().code,
            "DIGEST_INVALID"
        );
        assert_eq!(
            Route::parse("../x/tags/list", false).unwrap_err().code,
            "NAME_INVALID"
        );
        assert_eq!(
            Route::parse("A/manifests/x", false).unwrap_err().code,
            "NAME_INVALID"
        );
        assert_eq!(
            Route::parse("nothing", false).unwrap_err().code,
            "NOT_FOUND"
        );
        for short in ["tags/list", "blobs/uploads/123", "manifests/latest", "a/b"] {
            assert_eq!(
                Route::parse(short, false).unwrap_err().code,
                "NOT_FOUND",
                "{short}"
            );
        }
        assert_eq!(
            Route::parse("/x/tags/list", false).unwrap_err().code,
            "NAME_INVALID"
        );
        assert_eq!(
            Route::parse("a/b/c/blobs/uploads/", false).unwrap(),
            Route::UploadStart(name("a/b/c"))
        );
        assert_eq!(
            Route::parse("a/manifests/.bad", false).unwrap_err().code,
            "MANIFEST_UNKNOWN"
        );
        assert_eq!(
            Route::parse("a/manifests/.bad", true).unwrap_err().code,
            "MANIFEST_INVALID"
        );
    }
}
