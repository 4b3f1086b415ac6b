//! Decisions an authorizer lets the host reuse (`decision-reuse`, contract 0.2.1): a bounded
//! memory keyed by everything such a decision may depend on — the whole identity, the
//! resource, the action and the reference. It belongs to one plugin set, so a reloaded or
//! replaced policy starts with none.

use super::model::{Action, Decision, Identity, Resource};
use crate::caches::Cache;
use prometheus_client::metrics::counter::Counter;
use smol_str::SmolStr;
use std::sync::Arc;
use std::time::Duration;

/// Decisions remembered at most (a few hundred bytes each).
const CAPACITY: u64 = 16_384;

/// What a reusable decision was made on: everything of an access but the request's context
/// and a token's claims.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DecisionKey {
    identity: Option<Arc<Identity>>,
    resource: Resource,
    action: Action,
    reference: Option<SmolStr>,
}

impl DecisionKey {
    /// The key of an access by `identity` (none: anonymous).
    pub fn new(
        identity: Option<&Arc<Identity>>,
        resource: &Resource,
        action: Action,
        reference: &Option<SmolStr>,
    ) -> DecisionKey {
        DecisionKey {
            identity: identity.cloned(),
            resource: resource.clone(),
            action,
            reference: reference.clone(),
        }
    }
}

/// The reusable decisions of one authorizer.
pub struct DecisionMemory {
    decisions: Cache<DecisionKey, Decision>,
    /// The authorizer's count of accesses answered from memory.
    reused: Counter,
}

impl DecisionMemory {
    /// A memory keeping each decision of the authorizer `plugin` for `lifetime`; none when
    /// decisions may not be reused.
    pub fn new(plugin: &str, lifetime: Duration) -> Option<DecisionMemory> {
        (!lifetime.is_zero()).then(|| DecisionMemory {
            decisions: moka::sync::Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(lifetime)
                .build_with_hasher(crate::caches::hasher()),
            reused: super::metrics::decisions_reused(plugin),
        })
    }

    /// How long a decision is kept.
    pub fn lifetime(&self) -> Duration {
        self.decisions.policy().time_to_live().unwrap_or_default()
    }

    /// The decision made earlier on the same identity, resource, action and reference.
    pub fn recall(&self, key: &DecisionKey) -> Option<Decision> {
        let decision = self.decisions.get(key)?;
        self.reused.inc();
        Some(decision)
    }

    /// Keep the authorizer's `decision` on the access `key` describes.
    pub fn remember(&self, key: DecisionKey, decision: &Decision) {
        self.decisions.insert(key, decision.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(username: &str, groups: &[&str], action: Action, reference: &str) -> DecisionKey {
        let identity = Arc::new(Identity::new(
            username,
            groups.iter().map(|g| g.to_string()).collect(),
            "htpasswd",
        ));
        let resource = Resource::Repository("team/app".into());
        DecisionKey::new(Some(&identity), &resource, action, &Some(reference.into()))
    }

    #[test]
    fn a_decision_answers_only_the_same_identity_resource_action_and_reference() {
        let memory = DecisionMemory::new("policy", Duration::from_secs(60)).expect("reuse allowed");
        assert_eq!(memory.lifetime(), Duration::from_secs(60));
        let alice = key("alice", &["dev"], Action::Read, "v1");
        memory.remember(alice.clone(), &Decision::Allow);
        assert_eq!(memory.recall(&alice), Some(Decision::Allow));
        let anonymous = DecisionKey::new(
            None,
            &Resource::Repository("team/app".into()),
            Action::Read,
            &Some("v1".into()),
        );
        let mut scoped = alice.clone();
        if let Some(identity) = scoped.identity.as_mut() {
            Arc::make_mut(identity).scopes = Some(Vec::new());
        }
        for other in [
            key("bob", &["dev"], Action::Read, "v1"),
            key("alice", &["ops"], Action::Read, "v1"),
            key("alice", &["dev"], Action::Read, "v2"),
            key("alice", &["dev"], Action::Delete, "v1"),
            anonymous,
            scoped,
        ] {
            assert_eq!(memory.recall(&other), None, "{other:?}");
        }
    }

    #[test]
    fn no_memory_when_reuse_is_not_allowed() {
        assert!(DecisionMemory::new("policy", Duration::ZERO).is_none());
    }
}
