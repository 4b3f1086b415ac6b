//! Listings: tags, the catalog and referrers, with `n`/`last` paging and `Link` headers.

use super::error::ApiError;
use super::header_names::OCI_FILTERS_APPLIED;
use super::query::{encode, Query};
use super::{set, Reply};
use crate::gate::Caller;
use crate::oci::{media, Digest, RepoName};
use crate::storage::Storage;
use axum::http::header::{CONTENT_TYPE, LINK};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;
use std::sync::Arc;

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

/// The body of `tags/list`, serialized straight from the page (no intermediate JSON value).
#[derive(Serialize)]
struct TagList<'a> {
    name: &'a str,
    tags: &'a [String],
}

/// The body of `_catalog`.
#[derive(Serialize)]
struct Catalog<'a> {
    repositories: &'a [Arc<str>],
}

/// A JSON listing with a `Link` to the next page when there is one.
fn paged(path: &str, body: impl Serialize, n: Option<usize>, next_after: Option<&str>) -> Response {
    let mut response = axum::Json(body).into_response();
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
    Ok(paged(
        &format!("/v2/{name}/tags/list"),
        TagList {
            name: name.as_str(),
            tags: &tags,
        },
        n,
        next,
    ))
}

/// Repositories offered to the authorizer's catalog filter in one call.
const FILTER_BATCH: usize = 1000;

/// GET `/v2/_catalog`: the repositories the caller may read, paged after filtering. The
/// authorizer sees candidates in batches, so a page costs a call per thousand repositories,
/// not one per repository.
pub async fn catalog(storage: &Storage, query: &Query, caller: &Caller) -> Reply {
    caller.authorize_catalog().await?;
    let n = page_size(query)?;
    let mut last: Option<Arc<str>> = query.get("last").map(Arc::from);
    let mut repos: Vec<Arc<str>> = Vec::new();
    let more = 'pages: loop {
        if n == Some(repos.len()) {
            break !storage.catalog_page(Some(1), last.as_deref()).0.is_empty();
        }
        // As many candidates as the page still needs: a page of a large catalog costs what a
        // page of a small one does, unless the gate hides many of them.
        let want = n.map_or(FILTER_BATCH, |n| (n - repos.len()).clamp(1, FILTER_BATCH));
        let (candidates, more_after) = storage.catalog_page(Some(want), last.as_deref());
        let Some(end) = candidates.last().cloned() else {
            break false;
        };
        for visible in caller.filter_catalog(candidates).await? {
            if n == Some(repos.len()) {
                break 'pages true;
            }
            repos.push(visible);
        }
        last = Some(end);
        if !more_after {
            break false;
        }
    };
    let next = if more {
        repos.last().map(|r| &**r)
    } else {
        None
    };
    Ok(paged(
        "/v2/_catalog",
        Catalog {
            repositories: &repos,
        },
        n,
        next,
    ))
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
