//! Host bindings of every supported version of the contract, side by side, and their
//! adaptation to the host's [`model`](super::model) types. The host-api interfaces of each
//! version are generated once (with its authenticator world) and shared by its other worlds.

use super::model;

/// The contract's package name.
pub const CONTRACT_PACKAGE: &str = "portcullis:plugin";

/// A version of the contract this host loads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ContractVersion {
    /// `0.1.x`: the first release.
    V0_1,
    /// `0.2.x`: scopes and expiry on identities, request context and claims, API keys (and
    /// from 0.2.1 decision reuse).
    V0_2,
}

impl ContractVersion {
    /// Every supported version, oldest first.
    pub const ALL: [ContractVersion; 2] = [ContractVersion::V0_1, ContractVersion::V0_2];

    /// The newest version (the one `wit/plugin.wit` defines).
    pub const CURRENT: ContractVersion = ContractVersion::V0_2;

    /// The version as written in the package (`0.2.1`).
    pub fn as_str(self) -> &'static str {
        match self {
            ContractVersion::V0_1 => "0.1.0",
            ContractVersion::V0_2 => "0.2.1",
        }
    }

    /// The supported version a component's export version (`0.1.3`) is compatible with: same
    /// major, and for 0.x the same minor.
    pub fn compatible_with(found: &str) -> Option<ContractVersion> {
        let parts = |v: &str| -> Option<(u64, u64)> {
            let mut it = v.split('.');
            Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
        };
        let found = parts(found)?;
        ContractVersion::ALL.into_iter().find(|v| {
            let ours = parts(v.as_str()).expect("our versions parse");
            match (found, ours) {
                ((0, a), (0, b)) => a == b,
                ((a, _), (b, _)) => a == b,
            }
        })
    }
}

/// Contract 0.1.
pub mod v0_1 {
    /// The `authenticator-plugin` world (and the shared host-api interfaces).
    pub mod authenticator {
        wasmtime::component::bindgen!({
            path: "../wit/versions/0.1.0",
            world: "authenticator-plugin",
        });
    }

    /// The `authorizer-plugin` world.
    pub mod authorizer {
        wasmtime::component::bindgen!({
            path: "../wit/versions/0.1.0",
            world: "authorizer-plugin",
            with: {
                "portcullis:plugin/types": super::authenticator::portcullis::plugin::types,
                "portcullis:plugin/log": super::authenticator::portcullis::plugin::log,
                "portcullis:plugin/clock": super::authenticator::portcullis::plugin::clock,
                "portcullis:plugin/kv": super::authenticator::portcullis::plugin::kv,
            },
        });
    }

    pub use authenticator::portcullis::plugin::{clock, kv, log, types};
}

/// Contract 0.2.
pub mod v0_2 {
    /// The `authenticator-plugin` world (and the shared host-api interfaces).
    pub mod authenticator {
        wasmtime::component::bindgen!({
            path: "../wit",
            world: "authenticator-plugin",
        });
    }

    /// The `authorizer-plugin` world.
    pub mod authorizer {
        wasmtime::component::bindgen!({
            path: "../wit",
            world: "authorizer-plugin",
            with: {
                "portcullis:plugin/types": super::authenticator::portcullis::plugin::types,
                "portcullis:plugin/log": super::authenticator::portcullis::plugin::log,
                "portcullis:plugin/clock": super::authenticator::portcullis::plugin::clock,
                "portcullis:plugin/kv": super::authenticator::portcullis::plugin::kv,
            },
        });
    }

    /// The `reusable-authorizer-plugin` world (0.2.1): an authorizer that says for how long
    /// its decisions may be reused.
    pub mod reusable_authorizer {
        wasmtime::component::bindgen!({
            path: "../wit",
            world: "reusable-authorizer-plugin",
            with: {
                "portcullis:plugin/types": super::authenticator::portcullis::plugin::types,
                "portcullis:plugin/log": super::authenticator::portcullis::plugin::log,
                "portcullis:plugin/clock": super::authenticator::portcullis::plugin::clock,
                "portcullis:plugin/kv": super::authenticator::portcullis::plugin::kv,
            },
        });
    }

    /// The `api-keys-plugin` world.
    pub mod api_keys {
        wasmtime::component::bindgen!({
            path: "../wit",
            world: "api-keys-plugin",
            with: {
                "portcullis:plugin/types": super::authenticator::portcullis::plugin::types,
                "portcullis:plugin/log": super::authenticator::portcullis::plugin::log,
                "portcullis:plugin/clock": super::authenticator::portcullis::plugin::clock,
                "portcullis:plugin/kv": super::authenticator::portcullis::plugin::kv,
            },
        });
    }

    /// The `claim-mapper-plugin` world.
    pub mod claim_mapper {
        wasmtime::component::bindgen!({
            path: "../wit",
            world: "claim-mapper-plugin",
            with: {
                "portcullis:plugin/types": super::authenticator::portcullis::plugin::types,
                "portcullis:plugin/log": super::authenticator::portcullis::plugin::log,
                "portcullis:plugin/clock": super::authenticator::portcullis::plugin::clock,
                "portcullis:plugin/kv": super::authenticator::portcullis::plugin::kv,
            },
        });
    }

    pub use api_keys::exports::portcullis::plugin::key_manager;
    pub use authenticator::portcullis::plugin::{clock, kv, log, types};
}

/// Conversions between the host's types and one version's generated types. The same code
/// serves both versions where a type did not change (the macro is expanded once per version).
macro_rules! common_conversions {
    ($($types:tt)+) => {
        use $($types)+ as t;

        impl From<model::Action> for t::Action {
            fn from(a: model::Action) -> t::Action {
                match a {
                    model::Action::Read => t::Action::Read,
                    model::Action::Create => t::Action::Create,
                    model::Action::Update => t::Action::Update,
                    model::Action::Delete => t::Action::Delete,
                    model::Action::DetectManifestCollision => t::Action::DetectManifestCollision,
                }
            }
        }

        impl From<&model::Resource> for t::Resource {
            fn from(r: &model::Resource) -> t::Resource {
                match r {
                    model::Resource::Repository(name) => t::Resource::Repository(name.to_string()),
                    model::Resource::Metrics => t::Resource::Metrics,
                }
            }
        }

        impl From<&model::BasicCredentials> for t::BasicCredentials {
            fn from(c: &model::BasicCredentials) -> t::BasicCredentials {
                t::BasicCredentials {
                    username: c.username.clone(),
                    password: c.password.clone(),
                }
            }
        }

        impl From<t::AuthnResult> for model::AuthnResult {
            fn from(r: t::AuthnResult) -> model::AuthnResult {
                match r {
                    t::AuthnResult::Authenticated(i) => model::AuthnResult::Authenticated(i.into()),
                    t::AuthnResult::NotMine => model::AuthnResult::NotMine,
                    t::AuthnResult::Rejected(reason) => model::AuthnResult::Rejected(reason),
                }
            }
        }

        impl From<t::Decision> for model::Decision {
            fn from(d: t::Decision) -> model::Decision {
                match d {
                    t::Decision::Allow => model::Decision::Allow,
                    t::Decision::Deny(reason) => model::Decision::Deny(reason),
                }
            }
        }

        impl From<t::Level> for tracing::Level {
            fn from(l: t::Level) -> tracing::Level {
                match l {
                    t::Level::Trace => tracing::Level::TRACE,
                    t::Level::Debug => tracing::Level::DEBUG,
                    t::Level::Info => tracing::Level::INFO,
                    t::Level::Warn => tracing::Level::WARN,
                    t::Level::Error => tracing::Level::ERROR,
                }
            }
        }
    };
}

mod convert_v0_1 {
    use super::{model, v0_1};
    common_conversions!(v0_1::types);

    impl From<&model::Identity> for t::Identity {
        fn from(i: &model::Identity) -> t::Identity {
            t::Identity {
                username: i.username.clone(),
                groups: i.groups.clone(),
                source: i.source.clone(),
            }
        }
    }

    impl From<t::Identity> for model::Identity {
        fn from(i: t::Identity) -> model::Identity {
            model::Identity::new(i.username, i.groups, i.source)
        }
    }

    impl From<&model::AccessRequest> for t::AccessRequest {
        fn from(r: &model::AccessRequest) -> t::AccessRequest {
            t::AccessRequest {
                identity: r.identity.as_ref().map(Into::into),
                resource: (&r.resource).into(),
                action: r.action.into(),
                reference: r.reference.clone(),
            }
        }
    }
}

mod convert_v0_2 {
    use super::{model, v0_2};
    common_conversions!(v0_2::types);
    use v0_2::key_manager as k;

    impl From<t::Action> for model::Action {
        fn from(a: t::Action) -> model::Action {
            match a {
                t::Action::Read => model::Action::Read,
                t::Action::Create => model::Action::Create,
                t::Action::Update => model::Action::Update,
                t::Action::Delete => model::Action::Delete,
                t::Action::DetectManifestCollision => model::Action::DetectManifestCollision,
            }
        }
    }

    impl From<&model::Identity> for t::Identity {
        fn from(i: &model::Identity) -> t::Identity {
            t::Identity {
                username: i.username.clone(),
                groups: i.groups.clone(),
                source: i.source.clone(),
                scopes: i.scopes.as_ref().map(|scopes| {
                    scopes
                        .iter()
                        .map(|s| t::Scope {
                            repositories: s.repositories.clone(),
                            actions: s.actions.iter().map(|a| (*a).into()).collect(),
                        })
                        .collect()
                }),
                expires_at_ms: i.expires_at_ms,
            }
        }
    }

    impl From<t::Identity> for model::Identity {
        fn from(i: t::Identity) -> model::Identity {
            model::Identity {
                username: i.username,
                groups: i.groups,
                source: i.source,
                scopes: i.scopes.map(|scopes| {
                    scopes
                        .into_iter()
                        .map(|s| model::Scope {
                            repositories: s.repositories,
                            actions: s.actions.into_iter().map(Into::into).collect(),
                        })
                        .collect()
                }),
                expires_at_ms: i.expires_at_ms,
            }
        }
    }

    impl From<&model::AccessRequest> for t::AccessRequest {
        fn from(r: &model::AccessRequest) -> t::AccessRequest {
            let c = &r.context;
            t::AccessRequest {
                identity: r.identity.as_ref().map(Into::into),
                resource: (&r.resource).into(),
                action: r.action.into(),
                reference: r.reference.clone(),
                context: t::RequestContext {
                    method: c.method.clone(),
                    user_agent: c.user_agent.clone(),
                    client_ip: c.client_ip.clone(),
                    forwarded_for: c.forwarded_for.clone(),
                    tls_version: c.tls_version.clone(),
                    time_ms: c.time_ms,
                },
                claims: r.claims.clone(),
            }
        }
    }

    impl From<t::AnonymousGrants> for model::AnonymousAccess {
        fn from(a: t::AnonymousGrants) -> model::AnonymousAccess {
            model::AnonymousAccess {
                repositories: a.repositories,
                metrics: a.metrics,
                authenticated_only: a.authenticated_only,
            }
        }
    }

    impl From<&model::KeyRequest> for k::KeyRequest {
        fn from(r: &model::KeyRequest) -> k::KeyRequest {
            k::KeyRequest {
                label: r.label.clone(),
                scopes: r.scopes.clone(),
                expires_at_ms: r.expires_at_ms,
                creator_ua: r.creator_ua.clone(),
            }
        }
    }

    impl From<k::KeyInfo> for model::KeyInfo {
        fn from(i: k::KeyInfo) -> model::KeyInfo {
            model::KeyInfo {
                id: i.id,
                label: i.label,
                scopes: i.scopes,
                created_at_ms: i.created_at_ms,
                expires_at_ms: i.expires_at_ms,
                last_used_ms: i.last_used_ms,
                creator_ua: i.creator_ua,
            }
        }
    }

    impl From<k::CreatedKey> for model::CreatedKey {
        fn from(c: k::CreatedKey) -> model::CreatedKey {
            model::CreatedKey {
                info: c.info.into(),
                secret: c.secret,
            }
        }
    }

    impl From<k::KeyError> for model::KeyError {
        fn from(e: k::KeyError) -> model::KeyError {
            match e {
                k::KeyError::Invalid(m) => model::KeyError::Invalid(m),
                k::KeyError::Failed(m) => model::KeyError::Failed(m),
            }
        }
    }
}
