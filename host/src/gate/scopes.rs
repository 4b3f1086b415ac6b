//! API-key scopes, enforced by the host whatever the authorizer says: an identity with scopes
//! may do on a repository only what one of its scopes allows there (and nothing beyond
//! repositories, such as the metrics). zot stores scopes and never enforces them.

use crate::plugins::model::{Action, Identity};
use moka::sync::Cache;
use repo_glob::RepoGlob;
use std::sync::{Arc, LazyLock};

/// Compiled patterns, shared by every request (patterns are few; compiling is not free).
static COMPILED: LazyLock<Cache<String, Option<Arc<RepoGlob>>>> =
    LazyLock::new(|| Cache::new(4096));

fn glob(pattern: &str) -> Option<Arc<RepoGlob>> {
    COMPILED.get_with(pattern.to_owned(), || {
        RepoGlob::new(pattern).ok().map(Arc::new)
    })
}

/// Whether `identity`'s scopes (if it has any) allow `action` on `repository`.
/// `detectManifestCollision` is a behaviour, not a right, and is never restricted.
pub fn allow(identity: Option<&Identity>, repository: &str, action: Action) -> bool {
    let Some(scopes) = identity.and_then(|i| i.scopes.as_ref()) else {
        return true;
    };
    action == Action::DetectManifestCollision
        || scopes.iter().any(|s| {
            s.actions.contains(&action)
                && glob(&s.repositories).is_some_and(|g| g.is_match(repository))
        })
}

/// Whether the identity is restricted by scopes at all.
pub fn restricted(identity: Option<&Identity>) -> bool {
    identity.is_some_and(|i| i.scopes.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::model::Scope;

    #[test]
    fn scopes_narrow() {
        let mut key = Identity::new("ci", vec![], "api-key");
        assert!(
            allow(Some(&key), "anything", Action::Delete),
            "no scopes: owner's rights"
        );
        key.scopes = Some(vec![Scope {
            repositories: "ci/**".into(),
            actions: vec![Action::Read, Action::Create],
        }]);
        assert!(allow(Some(&key), "ci/app", Action::Create));
        assert!(allow(Some(&key), "ci", Action::Read));
        assert!(!allow(Some(&key), "ci/app", Action::Update));
        assert!(!allow(Some(&key), "other/app", Action::Read));
        assert!(allow(None, "x", Action::Read));
    }
}
