//! Portcullis' API keys, as a WebAssembly component of the `api-keys-plugin` world: an
//! authenticator for `<owner>:zak_…` Basic credentials, and the key manager behind
//! `/zot/auth/apikey`. Keys live (hashed) in the plugin's key-value store.
//!
//! This file is only glue between the WIT bindings and [`keys`], where the rules live (and are
//! documented and tested). Configuration: `{}` (no settings yet; unknown keys are refused).

pub mod keys;

/// Bindings generated from the WIT contract (`wit/plugin.wit`).
#[allow(missing_docs)]
mod bindings {
    wit_bindgen::generate!({ path: "../../wit", world: "api-keys-plugin" });
}

use bindings::exports::portcullis::plugin::authenticator::Guest as Authenticator;
use bindings::exports::portcullis::plugin::key_manager::{
    CreatedKey, Guest as KeyManager, KeyError, KeyInfo, KeyRequest,
};
use bindings::portcullis::plugin::types::{Action, AuthnResult, BasicCredentials, Identity, Scope};
use bindings::portcullis::plugin::{clock, kv};

/// The plugin's key-value namespace.
struct Kv;

impl keys::Store for Kv {
    fn get(&self, key: &str) -> Option<Vec<u8>> {
        kv::get(key)
    }
    fn set(&mut self, key: &str, value: &[u8]) -> Result<(), String> {
        kv::set(key, value)
    }
    fn delete(&mut self, key: &str) -> Result<bool, String> {
        kv::delete(key)
    }
    fn list(&self, prefix: &str) -> Vec<String> {
        kv::list(prefix)
    }
}

/// The configuration: nothing yet.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {}

fn configure(config: &str) -> Result<(), String> {
    serde_json::from_str::<Config>(config)
        .map(drop)
        .map_err(|e| format!("api-keys: invalid configuration: {e}"))
}

/// The component.
struct Component;

fn action(a: keys::Action) -> Action {
    match a {
        keys::Action::Read => Action::Read,
        keys::Action::Create => Action::Create,
        keys::Action::Update => Action::Update,
        keys::Action::Delete => Action::Delete,
    }
}

impl Authenticator for Component {
    fn configure(config: String) -> Result<(), String> {
        configure(&config)
    }

    fn authenticate(credentials: BasicCredentials) -> AuthnResult {
        match keys::authenticate(
            &mut Kv,
            &credentials.username,
            &credentials.password,
            clock::now_ms(),
        ) {
            keys::Verdict::NotMine => AuthnResult::NotMine,
            keys::Verdict::Rejected(reason) => AuthnResult::Rejected(reason),
            keys::Verdict::Proven(p) => AuthnResult::Authenticated(Identity {
                username: p.owner,
                groups: p.groups,
                source: keys::SOURCE.to_owned(),
                scopes: p.scopes.map(|scopes| {
                    scopes
                        .into_iter()
                        .map(|s| Scope {
                            repositories: s.repositories,
                            actions: s.actions.into_iter().map(action).collect(),
                        })
                        .collect()
                }),
                expires_at_ms: p.expires_at_ms,
            }),
        }
    }
}

fn info(r: keys::Record) -> KeyInfo {
    KeyInfo {
        id: r.id,
        label: r.label,
        scopes: r.scopes,
        created_at_ms: r.created_at_ms,
        expires_at_ms: r.expires_at_ms,
        last_used_ms: r.last_used_ms,
        creator_ua: r.creator_ua,
    }
}

impl KeyManager for Component {
    fn configure(config: String) -> Result<(), String> {
        configure(&config)
    }

    fn create(owner: Identity, request: KeyRequest) -> Result<CreatedKey, KeyError> {
        let mut random = [0u8; 32];
        getrandom::fill(&mut random)
            .map_err(|e| KeyError::Failed(format!("no randomness: {e}")))?;
        let new = keys::NewKey {
            label: request.label,
            scopes: request.scopes,
            expires_at_ms: request.expires_at_ms,
            creator_ua: request.creator_ua,
        };
        match keys::create(&mut Kv, &owner.username, new, clock::now_ms(), random) {
            Ok((record, secret)) => Ok(CreatedKey {
                info: info(record),
                secret,
            }),
            Err(keys::CreateError::Invalid(m)) => Err(KeyError::Invalid(m)),
            Err(keys::CreateError::Failed(m)) => Err(KeyError::Failed(m)),
        }
    }

    fn list(owner: String) -> Vec<KeyInfo> {
        keys::list(&Kv, &owner).into_iter().map(info).collect()
    }

    fn revoke(owner: String, id: String) -> bool {
        keys::revoke(&mut Kv, &owner, &id)
    }

    fn record_sign_in(owner: Identity) {
        if let Err(e) = keys::record_sign_in(&mut Kv, &owner.username, &owner.groups) {
            bindings::portcullis::plugin::log::log(
                bindings::portcullis::plugin::types::Level::Warn,
                &format!(
                    "api-keys: cannot record the groups of {}: {e}",
                    owner.username
                ),
            );
        }
    }
}

bindings::export!(Component with_types_in bindings);
