//! Example authorizer (Rust): release tags are immutable, and only one group may delete.
//!
//! Configuration (the JSON object under the plugin's `config`, passed to `configure`):
//!
//! ```json
//! {"immutableTagPrefix": "v", "deleteGroup": "maintainers"}
//! ```
//!
//! Decisions, for every repository:
//! - `update` (moving a tag to another manifest) or `delete` of a tag starting with
//!   `immutableTagPrefix` is denied, for everyone: `tag v1.0 is immutable (tags starting with
//!   "v" cannot be moved or deleted)`;
//! - any other `delete` (another tag, a manifest or blob by digest, an upload) is allowed only to
//!   identities in `deleteGroup`;
//! - everything else (reads, pushes, moving other tags, the metrics endpoint) is allowed, also
//!   anonymously: this policy is about immutability, not about who may push.
//!
//! A decision depends only on the identity, the action and the reference, so the component
//! lets the registry reuse its decisions for a minute (`decision-reuse`, contract 0.2.1).
//!
//! The component is the glue below; the rules are plain functions in [`Policy`], unit-tested
//! natively (`cargo test`), where wit-bindgen stubs the imports.

use std::cell::RefCell;

use exports::portcullis::plugin::authorizer::Guest;
use portcullis::plugin::log;
use portcullis::plugin::types::{
    AccessRequest, Action, AnonymousGrants, Decision, Identity, Level,
};

// Bindings for the `reusable-authorizer-plugin` world of the contract (`wit/plugin.wit` of this
// repository; a plugin kept elsewhere copies that file into its own `wit/`): an authorizer
// that also tells the registry for how long its decisions may be reused.
wit_bindgen::generate!({ path: "../../../wit", world: "reusable-authorizer-plugin" });

/// The plugin's configuration.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Policy {
    /// Tags starting with this prefix can be pushed once, never moved or deleted.
    pub immutable_tag_prefix: String,
    /// The group whose members may delete (anything but immutable tags).
    pub delete_group: String,
}

impl Policy {
    /// Parse and check the configuration.
    pub fn from_json(config: &str) -> Result<Policy, String> {
        let policy: Policy = serde_json::from_str(config)
            .map_err(|e| format!("immutable-tags: invalid configuration: {e}"))?;
        if policy.immutable_tag_prefix.is_empty() {
            return Err("immutable-tags: `immutableTagPrefix` must not be empty".into());
        }
        if policy.delete_group.is_empty() {
            return Err("immutable-tags: `deleteGroup` must not be empty".into());
        }
        Ok(policy)
    }

    /// Decide an action on `reference` (a tag, a digest, or none) by `identity`.
    pub fn decide(
        &self,
        identity: Option<&Identity>,
        action: Action,
        reference: Option<&str>,
    ) -> Result<(), String> {
        // A digest always contains `:` (`sha256:…`); a tag never does.
        let tag = reference.filter(|r| !r.contains(':'));
        let immutable = tag.filter(|t| t.starts_with(&self.immutable_tag_prefix));
        match (action, immutable) {
            (Action::Update | Action::Delete, Some(tag)) => Err(format!(
                "tag {tag} is immutable (tags starting with {:?} cannot be moved or deleted)",
                self.immutable_tag_prefix
            )),
            (Action::Delete, None) => {
                let member = identity.is_some_and(|i| i.groups.contains(&self.delete_group));
                if member {
                    Ok(())
                } else {
                    Err(format!(
                        "only members of group {} may delete",
                        self.delete_group
                    ))
                }
            }
            // Read, create, update of other tags, and the check before a delete by digest
            // (allowing `detect-manifest-collision` makes the registry refuse to delete a
            // manifest that several tags name, which only adds safety).
            _ => Ok(()),
        }
    }
}

thread_local! {
    /// The configuration `configure` accepted. A component instance is single-threaded and
    /// `configure` runs once before any other call; the host reuses the instance for many
    /// requests, so nothing per-request is kept here.
    static POLICY: RefCell<Option<Policy>> = const { RefCell::new(None) };
}

/// The component: it exports the `authorizer` interface.
struct ImmutableTags;

impl Guest for ImmutableTags {
    fn configure(config: String) -> Result<(), String> {
        let policy = Policy::from_json(&config)?;
        log::log(
            Level::Info,
            &format!(
                "tags starting with {:?} are immutable; group {} may delete",
                policy.immutable_tag_prefix, policy.delete_group
            ),
        );
        POLICY.with(|p| *p.borrow_mut() = Some(policy));
        Ok(())
    }

    fn authorize(request: AccessRequest) -> Decision {
        // The same rules for every repository and for the metrics endpoint (only ever read).
        let verdict = POLICY.with(|p| match &*p.borrow() {
            Some(policy) => policy.decide(
                request.identity.as_ref(),
                request.action,
                request.reference.as_deref(),
            ),
            // Unreachable in practice (the host configures first); fail closed anyway.
            None => Err("immutable-tags: not configured".into()),
        });
        match verdict {
            Ok(()) => Decision::Allow,
            Err(reason) => Decision::Deny(reason),
        }
    }

    /// Reads are always allowed, so everyone sees every repository.
    fn filter_catalog(_identity: Option<Identity>, repositories: Vec<String>) -> Vec<String> {
        repositories
    }

    /// Reads and pushes are granted anonymously; deletes need an identity in the group, so
    /// some access is authenticated-only (the host then challenges Docker clients on `/v2/`,
    /// and they send their credentials).
    fn anonymous_access() -> AnonymousGrants {
        AnonymousGrants {
            repositories: true,
            metrics: true,
            authenticated_only: true,
        }
    }

    /// This policy adds no groups of its own.
    fn effective_groups(identity: Identity) -> Vec<String> {
        identity.groups
    }
}

/// A decision reads only the identity's groups, the action and the reference (never the
/// request's time, address or claims, the clock or the key-value store), so the registry may
/// answer the same access from it for a while instead of calling again.
impl exports::portcullis::plugin::decision_reuse::Guest for ImmutableTags {
    fn reuse_ms() -> u32 {
        60_000
    }
}

export!(ImmutableTags);

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy::from_json(r#"{"immutableTagPrefix": "v", "deleteGroup": "maintainers"}"#).unwrap()
    }

    fn user(groups: &[&str]) -> Identity {
        Identity {
            username: "alice".into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            source: "htpasswd".into(),
            scopes: None,
            expires_at_ms: None,
        }
    }

    #[test]
    fn release_tags_cannot_move_or_be_deleted_even_by_maintainers() {
        let p = policy();
        let maintainer = user(&["maintainers"]);
        for action in [Action::Update, Action::Delete] {
            let err = p
                .decide(Some(&maintainer), action, Some("v1.0"))
                .unwrap_err();
            assert!(err.contains("tag v1.0 is immutable"), "{err}");
        }
        assert!(p.decide(None, Action::Create, Some("v1.0")).is_ok());
        assert!(p.decide(None, Action::Read, Some("v1.0")).is_ok());
    }

    #[test]
    fn other_tags_move_freely_and_deletes_need_the_group() {
        let p = policy();
        assert!(p.decide(None, Action::Update, Some("latest")).is_ok());
        let digest = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
        for reference in [Some("latest"), Some(digest), None] {
            assert!(p
                .decide(Some(&user(&["maintainers"])), Action::Delete, reference)
                .is_ok());
            let err = p
                .decide(Some(&user(&["dev"])), Action::Delete, reference)
                .unwrap_err();
            assert_eq!(err, "only members of group maintainers may delete");
            assert!(p.decide(None, Action::Delete, reference).is_err());
        }
        assert!(p
            .decide(None, Action::DetectManifestCollision, Some(digest))
            .is_ok());
    }

    #[test]
    fn configuration_is_checked() {
        assert!(Policy::from_json("{}").is_err());
        assert!(Policy::from_json(r#"{"immutableTagPrefix": "", "deleteGroup": "x"}"#).is_err());
        assert!(
            Policy::from_json(r#"{"immutableTagPrefix": "v", "deleteGroup": "x", "y": 1}"#)
                .is_err()
        );
    }
}
