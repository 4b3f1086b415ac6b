//! What each request needs from the gate, worked out before any storage is touched.

use super::error::ApiError;
use super::query::Query;
use super::route::Route;
use crate::gate::{Access, Action};
use crate::oci::name::is_valid_tag;
use crate::oci::{Reference, RepoName};
use crate::storage::Storage;
use axum::http::Method;

/// The accesses a request needs; an empty list for repository-less routes.
pub async fn required(
    storage: &Storage,
    route: &Route,
    method: &Method,
    query: &Query,
) -> Result<Vec<Access>, ApiError> {
    let one = |repository: &RepoName, action: Action, reference: Option<String>| {
        Ok(vec![Access {
            repository: repository.clone(),
            action,
            reference,
        }])
    };
    let read_or_delete = |m: &Method| {
        if m == Method::GET || m == Method::HEAD {
            Some(Action::Read)
        } else if m == Method::DELETE {
            Some(Action::Delete)
        } else {
            None
        }
    };
    match route {
        Route::Base | Route::Catalog => Ok(Vec::new()),
        Route::Tags(name) | Route::Referrers(name, _) => one(name, Action::Read, None),
        Route::Blob(name, digest) => match read_or_delete(method) {
            Some(action) => one(name, action, Some(digest.to_string())),
            None => Err(ApiError::method_not_allowed()),
        },
        Route::UploadStart(name) => one(name, Action::Create, None),
        Route::Upload(name, _) if method == Method::DELETE => one(name, Action::Delete, None),
        Route::Upload(name, _) => one(name, Action::Create, None),
        Route::Manifest(name, reference) if method == Method::PUT => {
            manifest_write(storage, name, reference, &push_tags(query)?).await
        }
        Route::Manifest(name, reference) => match read_or_delete(method) {
            Some(action) => one(name, action, Some(reference.to_string())),
            None => Err(ApiError::method_not_allowed()),
        },
    }
}

/// The `?tag=` values of a manifest push, validated and deduplicated.
pub fn push_tags(query: &Query) -> Result<Vec<String>, ApiError> {
    let mut tags: Vec<String> = Vec::new();
    for tag in query.all("tag") {
        if !is_valid_tag(tag) {
            return Err(ApiError::manifest_invalid(format!(
                "invalid tag {:?}",
                tag.chars().take(200).collect::<String>()
            )));
        }
        if !tags.iter().any(|t| t == tag) {
            tags.push(tag.to_owned());
        }
    }
    Ok(tags)
}

/// zot's create/update rule: writing a tag that exists is `update`, a new one `create`; a push
/// by digest needs `create` on the digest when it adds a tag or none, `update` when it moves one.
async fn manifest_write(
    storage: &Storage,
    name: &RepoName,
    reference: &Reference,
    extra_tags: &[String],
) -> Result<Vec<Access>, ApiError> {
    let access = |action, reference: String| Access {
        repository: name.clone(),
        action,
        reference: Some(reference),
    };
    let action_for_tag = |exists: bool| {
        if exists {
            Action::Update
        } else {
            Action::Create
        }
    };
    match reference {
        Reference::Tag(tag) => {
            let exists = storage.tag_exists(name, tag).await?;
            let mut out = vec![access(action_for_tag(exists), tag.clone())];
            for t in extra_tags.iter().filter(|t| *t != tag) {
                out.push(access(
                    action_for_tag(storage.tag_exists(name, t).await?),
                    t.clone(),
                ));
            }
            Ok(out)
        }
        Reference::Digest(digest) => {
            let mut out = Vec::new();
            let (mut any_new, mut any_existing) = (extra_tags.is_empty(), false);
            for t in extra_tags {
                let exists = storage.tag_exists(name, t).await?;
                any_new |= !exists;
                any_existing |= exists;
                out.push(access(action_for_tag(exists), t.clone()));
            }
            if any_new {
                out.push(access(Action::Create, digest.to_string()));
            }
            if any_existing {
                out.push(access(Action::Update, digest.to_string()));
            }
            Ok(out)
        }
    }
}
