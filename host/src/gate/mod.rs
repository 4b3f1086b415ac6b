//! The gate: the one place that decides whether a request may proceed. Handlers describe what
//! they are about to do as [`Access`] requests before touching storage; the gate answers.
//!
//! This build's gate is open (no authentication configured). The plugin gate replaces
//! [`Gate::check`]'s body, not its callers.

use crate::api::error::ApiError;
use crate::oci::RepoName;
use std::fmt;

/// What a request wants to do to a repository (zot's method actions).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Pull: GET and HEAD.
    Read,
    /// Push something new: blob uploads, a new tag, a manifest by digest.
    Create,
    /// Move an existing tag.
    Update,
    /// Delete a manifest, tag, blob or upload.
    Delete,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Read => "read",
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
        })
    }
}

/// One permission a request needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Access {
    /// The repository.
    pub repository: RepoName,
    /// The action.
    pub action: Action,
    /// The tag or digest acted on, when there is one.
    pub reference: Option<String>,
}

/// Decides requests.
#[derive(Debug, Default)]
pub struct Gate;

impl Gate {
    /// Allow or refuse a request needing every one of `accesses`.
    pub async fn check(&self, accesses: &[Access]) -> Result<(), ApiError> {
        for access in accesses {
            tracing::trace!(repository = %access.repository, action = %access.action,
                reference = ?access.reference, "open gate: allowed");
        }
        Ok(())
    }
}
