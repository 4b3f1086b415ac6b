//! Decisions an authorizer lets the host reuse (`decision-reuse`, contract 0.2.1): a bounded
//! memory keyed by everything such a decision may depend on — the whole identity, the
//! resource, the action and the reference. It belongs to one plugin set, so a reloaded or
//! replaced policy starts with none.

use super::model::{AccessRequest, Action, Decision, Identity, Resource};
use moka::sync::Cache;
use prometheus_client::metrics::counter::Counter;
use std::time::Duration;

/// Decisions remembered at most (a few hundred bytes each).
const CAPACITY: u64 = 16_384;

/// What a reusable decision was made on.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct DecisionKey {
    identity: Option<Identity>,
    resource: Resource,
    action: Action,
    reference: Option<String>,
}

impl DecisionKey {
    fn of(request: &AccessRequest) -> DecisionKey {
        DecisionKey {
            identity: request.identity.clone(),
            resource: request.resource.clone(),
            action: request.action,
            reference: request.reference.clone(),
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
            decisions: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(lifetime)
                .build(),
            reused: super::metrics::decisions_reused(plugin),
        })
    }

    /// How long a decision is kept.
    pub fn lifetime(&self) -> Duration {
        self.decisions.policy().time_to_live().unwrap_or_default()
    }

    /// The decision made earlier on the same identity, resource, action and reference.
    pub fn recall(&self, request: &AccessRequest) -> Option<Decision> {
        let decision = self.decisions.get(&DecisionKey::of(request))?;
        self.reused.inc();
        Some(decision)
    }

    /// Keep the authorizer's `decision` on `request`.
    pub fn remember(&self, request: &AccessRequest, decision: &Decision) {
        self.decisions
            .insert(DecisionKey::of(request), decision.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::model::RequestContext;

    fn request(username: &str, groups: &[&str], reference: &str) -> AccessRequest {
        AccessRequest {
            identity: Some(Identity::new(
                username,
                groups.iter().map(|g| g.to_string()).collect(),
                "htpasswd",
            )),
            resource: Resource::Repository("team/app".into()),
            action: Action::Read,
            reference: Some(reference.into()),
            context: RequestContext::default(),
            claims: None,
        }
    }

    #[test]
    fn a_decision_answers_only_the_same_identity_resource_action_and_reference() {
        let memory = DecisionMemory::new("policy", Duration::from_secs(60)).expect("reuse allowed");
        assert_eq!(memory.lifetime(), Duration::from_secs(60));
        let alice = request("alice", &["dev"], "v1");
        memory.remember(&alice, &Decision::Allow);
        let mut later = alice.clone();
        later.context.client_ip = "10.0.0.9".into();
        assert_eq!(memory.recall(&later), Some(Decision::Allow));
        for other in [
            request("bob", &["dev"], "v1"),
            request("alice", &["ops"], "v1"),
            request("alice", &["dev"], "v2"),
            AccessRequest {
                action: Action::Delete,
                ..alice.clone()
            },
            AccessRequest {
                identity: None,
                ..alice.clone()
            },
        ] {
            assert_eq!(memory.recall(&other), None, "{other:?}");
        }
        let mut scoped = alice.clone();
        if let Some(identity) = scoped.identity.as_mut() {
            identity.scopes = Some(Vec::new());
        }
        assert_eq!(memory.recall(&scoped), None);
    }

    #[test]
    fn no_memory_when_reuse_is_not_allowed() {
        assert!(DecisionMemory::new("policy", Duration::ZERO).is_none());
    }
}
