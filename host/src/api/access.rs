//! What each request needs from the gate, worked out before any storage is touched.

use super::error::ApiError;
use super::query::Query;
use super::route::Route;
use crate::gate::{Access, Action};
use crate::oci::name::is_valid_tag;
use crate::oci::{Reference, RepoName};
use crate::storage::{IndexView, TagExpectation};
use axum::http::Method;
use smol_str::SmolStr;

/// The access a request needs; none for repository-less routes. (A manifest push depends on
/// the repository's tags: see [`manifest_write`].)
pub fn required(route: &Route, method: &Method) -> Result<Option<Access>, ApiError> {
    let one = |repository: &RepoName, action: Action, reference: Option<SmolStr>| {
        Ok(Some(Access {
            repository: repository.clone(),
            action,
            reference,
        }))
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
        Route::Base | Route::Catalog => Ok(None),
        Route::Tags(name) | Route::Referrers(name, _) => one(name, Action::Read, None),
        Route::Blob(name, digest) => match read_or_delete(method) {
            Some(action) => one(name, action, Some(digest.as_str().into())),
            None => Err(ApiError::method_not_allowed()),
        },
        Route::UploadStart(name) => one(name, Action::Create, None),
        Route::Upload(name, _) if method == Method::DELETE => one(name, Action::Delete, None),
        Route::Upload(name, _) => one(name, Action::Create, None),
        Route::Manifest(name, reference) => match read_or_delete(method) {
            Some(action) => one(name, action, Some(reference.as_str().into())),
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

/// zot's create/update rule, against the repository as `view` shows it (None: no repository
/// yet): writing a tag that exists is `update`, a new one `create`; a push by digest needs
/// `create` on the digest when it adds a tag or none, `update` when it moves one. Returns the
/// accesses and the tag states they were decided on, which the write checks again under the
/// repository's lock.
pub fn manifest_write(
    view: Option<&IndexView>,
    name: &RepoName,
    reference: &Reference,
    extra_tags: &[String],
) -> (Vec<Access>, Vec<TagExpectation>) {
    let access = |action, reference: &str| Access {
        repository: name.clone(),
        action,
        reference: Some(reference.into()),
    };
    let exists = |tag: &str| view.is_some_and(|v| v.find_tag(tag).is_some());
    let action_for = |existed: bool| {
        if existed {
            Action::Update
        } else {
            Action::Create
        }
    };
    let mut tags: Vec<&str> = Vec::new();
    if let Reference::Tag(t) = reference {
        tags.push(t);
    }
    tags.extend(
        extra_tags
            .iter()
            .map(String::as_str)
            .filter(|t| !matches!(reference, Reference::Tag(r) if r == t)),
    );
    let expected: Vec<TagExpectation> = tags
        .iter()
        .map(|t| TagExpectation {
            tag: (*t).to_owned(),
            existed: exists(t),
        })
        .collect();
    let mut accesses: Vec<Access> = expected
        .iter()
        .map(|e| access(action_for(e.existed), &e.tag))
        .collect();
    if let Reference::Digest(digest) = reference {
        let any_new = expected.is_empty() || expected.iter().any(|e| !e.existed);
        let any_existing = expected.iter().any(|e| e.existed);
        if any_new {
            accesses.push(access(Action::Create, digest.as_str()));
        }
        if any_existing {
            accesses.push(access(Action::Update, digest.as_str()));
        }
    }
    (accesses, expected)
}
