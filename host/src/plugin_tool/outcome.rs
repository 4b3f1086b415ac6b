//! Asking a loaded plugin set for one decision, and the answer as the tool prints and compares
//! it.

use super::request::{IdentityJson, Request};
use crate::plugins::model::{AuthnResult, CreatedKey, Decision, Identity, KeyError, KeyInfo};
use crate::plugins::{CallError, PluginSet};
use serde::Serialize;
use std::time::{Duration, Instant};

/// The answer of one call. `decision` is `allow` or `deny` (authorize), `authenticated`,
/// `not-mine` or `rejected` (authenticate; map-claims answers `authenticated` or `rejected`),
/// `created`, `invalid` or `not-created` (create-key), `keys` (list-keys), `revoked` or
/// `not-found` (revoke-key), or `failed` when the plugin gave no answer (a trap, its
/// deadline, its memory cap…: the registry would deny the request).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Outcome {
    /// What the plugin decided.
    pub decision: &'static str,
    /// The reason of a `deny`, `rejected` or `failed` (for `failed`, the registry's message).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The identity of an `authenticated`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<IdentityJson>,
    /// The key of a `created`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<KeyInfo>,
    /// The secret of a `created` key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// The keys listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keys: Option<Vec<KeyInfo>>,
    /// The kind of a `failed`: `trap`, `deadline`, `memory`, `contract`, `instantiate`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<&'static str>,
}

impl Outcome {
    /// Whether the plugin gave no answer.
    pub fn failed(&self) -> bool {
        self.failure.is_some()
    }

    fn plain(decision: &'static str, reason: Option<String>) -> Outcome {
        Outcome {
            decision,
            reason,
            identity: None,
            key: None,
            secret: None,
            keys: None,
            failure: None,
        }
    }

    fn identity(identity: Identity) -> Outcome {
        Outcome {
            identity: Some(identity.into()),
            ..Outcome::plain("authenticated", None)
        }
    }

    fn of_call(error: CallError) -> Outcome {
        let kind = match &error {
            CallError::Failed(f) => f.kind.label(),
            CallError::Unavailable(_) => "unavailable",
        };
        Outcome {
            failure: Some(kind),
            ..Outcome::plain("failed", Some(error.to_string()))
        }
    }
}

impl From<Result<CreatedKey, KeyError>> for Outcome {
    fn from(r: Result<CreatedKey, KeyError>) -> Outcome {
        match r {
            Ok(created) => Outcome {
                key: Some(created.info),
                secret: Some(created.secret),
                ..Outcome::plain("created", None)
            },
            Err(KeyError::Invalid(reason)) => Outcome::plain("invalid", Some(reason)),
            Err(KeyError::Failed(reason)) => Outcome::plain("not-created", Some(reason)),
        }
    }
}

impl From<Decision> for Outcome {
    fn from(d: Decision) -> Outcome {
        match d {
            Decision::Allow => Outcome::plain("allow", None),
            Decision::Deny(reason) => Outcome::plain("deny", Some(reason)),
        }
    }
}

impl From<AuthnResult> for Outcome {
    fn from(r: AuthnResult) -> Outcome {
        match r {
            AuthnResult::Authenticated(identity) => Outcome::identity(identity),
            AuthnResult::NotMine => Outcome::plain("not-mine", None),
            AuthnResult::Rejected(reason) => Outcome::plain("rejected", Some(reason)),
        }
    }
}

/// Ask `set` one decision, as the gate would (on the plugin's call pool, under its limits);
/// returns the answer and how long the call took.
pub async fn decide(set: &PluginSet, request: &Request) -> anyhow::Result<(Outcome, Duration)> {
    let missing = || anyhow::anyhow!("the plugin was not loaded in the slot this request needs");
    let started = Instant::now();
    let outcome = match request {
        Request::Authorize(r) => {
            let plugin = set.authorizer.as_ref().ok_or_else(missing)?;
            plugin.authorize(r).await.map(Outcome::from)
        }
        Request::Authenticate(c) => {
            let plugin = set.authenticators.first().ok_or_else(missing)?;
            plugin.authenticate(c).await.map(Outcome::from)
        }
        Request::MapClaims { issuer, claims } => {
            let plugin = set.claims.as_ref().ok_or_else(missing)?;
            plugin.map_claims(issuer, claims).await.map(|r| match r {
                Ok(identity) => Outcome::identity(identity),
                Err(reason) => Outcome::plain("rejected", Some(reason)),
            })
        }
        Request::CreateKey { owner, request } => {
            let plugin = set.keys.as_ref().ok_or_else(missing)?;
            plugin.create_key(owner, request).await.map(Outcome::from)
        }
        Request::ListKeys { owner } => {
            let plugin = set.keys.as_ref().ok_or_else(missing)?;
            plugin.list_keys(owner).await.map(|keys| Outcome {
                keys: Some(keys),
                ..Outcome::plain("keys", None)
            })
        }
        Request::RevokeKey { owner, id } => {
            let plugin = set.keys.as_ref().ok_or_else(missing)?;
            plugin
                .revoke_key(owner, id)
                .await
                .map(|revoked| Outcome::plain(if revoked { "revoked" } else { "not-found" }, None))
        }
    };
    let elapsed = started.elapsed();
    Ok((outcome.unwrap_or_else(Outcome::of_call), elapsed))
}
