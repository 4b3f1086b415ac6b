//! Listings: tags, the catalog and referrers, with `n`/`last` paging and `Link` headers.

use super::error::ApiError;
use super::header_names::OCI_FILTERS_APPLIED;
use super::query::{encode, Query};
use super::{set, Reply};
use crate::gate::Caller;
use crate::oci::{media, Digest, RepoName};
use crate::storage::Storage;
use axum::http::header::{CONTENT_TYPE, LINK};
use axum::http::HeaderValue;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use smol_str::SmolStr;

/// Parse `n` (None when absent).
fn page_size(query: &Query) -> Result<Option<usize>, ApiError> {
    query
        .get("n")
        .map(|n| {
            n.parse::<usize>().map_err(|_| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "PAGINATION_NUMBER_INVALID",
                    "invalid number of results requested",
                )
            })
        })
        .transpose()
}

/// A JSON listing of names: an object whose last member, `key`, is the array of `names`,
/// after the members already written into `head` (each followed by a comma).
///
/// Repository names and tags are validated to characters JSON writes as they are, so each is
/// copied between quotes in one step; anything that would need escaping goes through
/// serde_json. A hundred names cost a hundred copies, not a serializer call per character run.
fn names_json<'a>(
    mut head: Vec<u8>,
    key: &str,
    names: impl Iterator<Item = &'a str> + Clone,
) -> Vec<u8> {
    let text: usize = names.clone().map(|n| n.len() + 3).sum();
    head.reserve(key.len() + text + 8);
    head.push(b'"');
    head.extend_from_slice(key.as_bytes());
    head.extend_from_slice(b"\":[");
    for (i, name) in names.enumerate() {
        if i > 0 {
            head.push(b',');
        }
        push_json_string(&mut head, name);
    }
    head.extend_from_slice(b"]}");
    head
}

/// Append `text` as a JSON string.
fn push_json_string(out: &mut Vec<u8>, text: &str) {
    // Every byte is looked at (no early exit), which the compiler turns into vector code.
    let plain = text.bytes().fold(true, |plain, b| {
        plain & (b >= 0x20) & (b != b'"') & (b != b'\\')
    });
    if !plain {
        // Writing into a Vec cannot fail, and a str always serializes.
        let _ = serde_json::to_writer(&mut *out, text);
    } else {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    }
}

/// A JSON listing with a `Link` to the next page when there is one.
fn paged(path: &str, body: Vec<u8>, n: Option<usize>, next_after: Option<&str>) -> Response {
    let json = HeaderValue::from_static("application/json");
    let mut response = ([(CONTENT_TYPE, json)], body).into_response();
    if let (Some(n), Some(last)) = (n, next_after) {
        let link = format!("<{path}?n={n}&{}>; rel=\"next\"", encode("last", last));
        set(response.headers_mut(), LINK, &link);
    }
    response
}

/// GET `/v2/<name>/tags/list`.
pub async fn tags(storage: &Storage, name: &RepoName, query: &Query) -> Reply {
    let n = page_size(query)?;
    let (tags, more) = storage.tags(name, n, query.get("last")).await?;
    let next = if more {
        tags.last().map(String::as_str)
    } else {
        None
    };
    let mut head = b"{\"name\":".to_vec();
    push_json_string(&mut head, name.as_str());
    head.push(b',');
    let body = names_json(head, "tags", tags.iter().map(String::as_str));
    Ok(paged(&format!("/v2/{name}/tags/list"), body, n, next))
}

/// Repositories offered to the authorizer's catalog filter in one call.
const FILTER_BATCH: usize = 1000;

/// GET `/v2/_catalog`: the repositories the caller may read, paged after filtering. The
/// authorizer sees candidates in batches, so a page costs a call per thousand repositories,
/// not one per repository.
pub async fn catalog(storage: &Storage, query: &Query, caller: &Caller) -> Reply {
    caller.authorize_catalog().await?;
    let n = page_size(query)?;
    let mut last: Option<SmolStr> = query.get("last").map(SmolStr::from);
    let mut repos: Vec<SmolStr> = Vec::new();
    let more = loop {
        let room = n.map_or(usize::MAX, |n| n - repos.len());
        if room == 0 {
            // `n=0`: an empty page, and whether there is anything after `last`.
            break !storage.catalog_page(Some(1), last.as_deref()).0.is_empty();
        }
        // As many candidates as the page still needs: a page of a large catalog costs what a
        // page of a small one does, unless the gate hides many of them.
        let want = room.min(FILTER_BATCH);
        let (candidates, more_after) = storage.catalog_page(Some(want), last.as_deref());
        let Some(end) = candidates.last().cloned() else {
            break false;
        };
        let visible = caller.filter_catalog(candidates).await?;
        if visible.len() > room {
            repos.extend(visible.into_iter().take(room));
            break true;
        }
        let filled = visible.len() == room;
        if repos.is_empty() {
            repos = visible;
        } else {
            repos.extend(visible);
        }
        if filled || !more_after {
            // A full page ends at the candidates' end: more follow exactly when more remained.
            break more_after;
        }
        last = Some(end);
    };
    let next = if more {
        repos.last().map(SmolStr::as_str)
    } else {
        None
    };
    let body = names_json(
        b"{".to_vec(),
        "repositories",
        repos.iter().map(SmolStr::as_str),
    );
    Ok(paged("/v2/_catalog", body, n, next))
}

/// GET `/v2/<name>/referrers/<digest>`.
pub async fn referrers(
    storage: &Storage,
    name: &RepoName,
    subject: &Digest,
    query: &Query,
) -> Reply {
    let artifact_type = query.get("artifactType");
    let manifests = storage.referrers(name, subject, artifact_type).await?;
    let body = json!({
        "schemaVersion": 2,
        "mediaType": media::OCI_INDEX,
        "manifests": manifests,
    });
    let mut response = axum::Json(body).into_response();
    let h = response.headers_mut();
    set(h, CONTENT_TYPE, media::OCI_INDEX);
    if artifact_type.is_some() {
        set(h, OCI_FILTERS_APPLIED, "artifactType");
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listings_are_the_json_serde_would_write() {
        let names = [
            "library/alpine",
            "a\"quote",
            "back\\slash",
            "tab\there",
            "ü",
        ];
        let mut head = b"{\"name\":".to_vec();
        push_json_string(&mut head, "repo");
        head.push(b',');
        let body = names_json(head, "tags", names.iter().copied());
        let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(parsed, json!({"name": "repo", "tags": names}));
        let empty = names_json(b"{".to_vec(), "repositories", std::iter::empty());
        assert_eq!(empty, b"{\"repositories\":[]}");
    }
}
