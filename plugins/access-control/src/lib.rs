//! Portcullis' default authorizer: zot's `http.accessControl`, as a WebAssembly component of
//! the `reusable-authorizer-plugin` world (its decisions are reused unless a policy entry has
//! conditions, which read the request).
//!
//! This file is only glue between the WIT bindings and [`policy`], where the rules live (and
//! are documented and tested).

pub mod conditions;
pub mod config;
pub mod patterns;
pub mod policy;

use std::cell::RefCell;

use exports::portcullis::plugin::authorizer::Guest;
use portcullis::plugin::types::{self, AccessRequest, AnonymousGrants, Decision, Identity, Level};

wit_bindgen::generate!({ path: "../../wit", world: "reusable-authorizer-plugin" });

/// How long the host may reuse a decision of a policy without conditions (the host caps it).
const REUSE_MS: u32 = 60_000;

thread_local! {
    /// The policy `configure` compiled. An instance is single-threaded and `configure` runs
    /// once, before any other call; until it has succeeded every request is denied.
    static POLICY: RefCell<Option<policy::Policy>> = const { RefCell::new(None) };
}

/// The exported `authorizer` interface.
struct AccessControl;

impl Guest for AccessControl {
    fn configure(config: String) -> Result<(), String> {
        let (compiled, warnings) = policy::Policy::from_json(&config)?;
        for warning in &warnings {
            portcullis::plugin::log::log(Level::Warn, warning);
        }
        POLICY.with(|p| *p.borrow_mut() = Some(compiled));
        Ok(())
    }

    fn authorize(request: AccessRequest) -> Decision {
        let subject = request.identity.as_ref().map(subject);
        let resource = match &request.resource {
            types::Resource::Repository(name) => policy::Resource::Repository(name),
            types::Resource::Metrics => policy::Resource::Metrics,
        };
        let c = &request.context;
        let view = conditions::RequestView {
            time_ms: c.time_ms,
            method: c.method.clone(),
            user_agent: c.user_agent.clone(),
            client_ip: c.client_ip.clone(),
            forwarded_for: c.forwarded_for.clone(),
            tls_version: c.tls_version.clone(),
            claims: request.claims.clone(),
        };
        let verdict = POLICY.with(|p| match &*p.borrow() {
            Some(policy) => policy.authorize(
                subject.as_ref(),
                resource,
                action(request.action),
                request.reference.as_deref(),
                &view,
            ),
            None => Err("the access-control plugin is not configured".to_owned()),
        });
        match verdict {
            Ok(()) => Decision::Allow,
            Err(reason) => Decision::Deny(reason),
        }
    }

    fn anonymous_access() -> AnonymousGrants {
        let (repositories, metrics, authenticated_only) = POLICY.with(|p| match &*p.borrow() {
            Some(policy) => policy.anonymous_grants(),
            None => (false, false, true),
        });
        AnonymousGrants {
            repositories,
            metrics,
            authenticated_only,
        }
    }

    fn effective_groups(identity: Identity) -> Vec<String> {
        let subject = subject(&identity);
        POLICY.with(|p| match &*p.borrow() {
            Some(policy) => policy.effective_groups(&subject),
            None => identity.groups.clone(),
        })
    }

    fn filter_catalog(identity: Option<Identity>, repositories: Vec<String>) -> Vec<String> {
        let subject = identity.as_ref().map(subject);
        POLICY.with(|p| match &*p.borrow() {
            Some(policy) => policy.filter_catalog(subject.as_ref(), repositories),
            None => Vec::new(),
        })
    }
}

fn subject(identity: &Identity) -> policy::Subject<'_> {
    policy::Subject {
        username: &identity.username,
        groups: &identity.groups,
    }
}

fn action(action: types::Action) -> policy::Action {
    match action {
        types::Action::Read => policy::Action::Read,
        types::Action::Create => policy::Action::Create,
        types::Action::Update => policy::Action::Update,
        types::Action::Delete => policy::Action::Delete,
        types::Action::DetectManifestCollision => policy::Action::DetectManifestCollision,
    }
}

impl exports::portcullis::plugin::decision_reuse::Guest for AccessControl {
    fn reuse_ms() -> u32 {
        POLICY.with(|p| match &*p.borrow() {
            Some(policy) if policy.decisions_reusable() => REUSE_MS,
            _ => 0,
        })
    }
}

export!(AccessControl);
