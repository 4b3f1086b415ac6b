//! The requests the tool sends a plugin, written as JSON that mirrors the WIT records (field
//! names in kebab-case, as in `wit/plugin.wit`), and their conversion to the host's types.
//!
//! - `authorize` (`access-request`): `{"identity": {"username": "alice", "groups": ["dev"],
//!   "source": "htpasswd", "scopes": [{"repositories": "ci/**", "actions": ["read"]}],
//!   "expires-at-ms": 0}, "resource": {"repository": "team/app"}, "action": "update",
//!   "reference": "v1.0", "context": {"method": "PUT", "user-agent": "docker/27",
//!   "client-ip": "10.0.0.1", "forwarded-for": [], "tls-version": "TLSv1.3", "time-ms": 0},
//!   "claims": {"sub": "…"}}`. Only `resource` and `action` are required; no `identity` is an
//!   anonymous request; `resource` may also be `"metrics"`.
//! - `authenticate` (`basic-credentials`): `{"username": "alice", "password": "secret"}`.
//! - `map-claims`: `{"issuer": "https://issuer.example", "claims": {"sub": "…"}}`.
//! - `create-key`: `{"owner": <identity>, "request": {"label": "ci", "scopes": ["ci/**:read"],
//!   "expires-at-ms": null, "creator-ua": "curl"}}` (all of `request` optional but `label`).
//! - `list-keys`: `{"owner": "alice"}`; `revoke-key`: `{"owner": "alice", "id": "…"}`.

use super::input::typed;
use super::world::Function;
use crate::plugins::model::{
    AccessRequest, Action, BasicCredentials, Identity, KeyRequest, RequestContext, Resource, Scope,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One request for a plugin, in the host's types.
#[derive(Clone, Debug)]
pub enum Request {
    /// For `authorize`.
    Authorize(Box<AccessRequest>),
    /// For `authenticate`.
    Authenticate(BasicCredentials),
    /// For `map-claims`.
    MapClaims {
        /// The issuer URL.
        issuer: String,
        /// The claims, a JSON object.
        claims: String,
    },
    /// For `create-key`.
    CreateKey {
        /// Who the key is for.
        owner: Box<Identity>,
        /// What was asked.
        request: KeyRequest,
    },
    /// For `list-keys`.
    ListKeys {
        /// Whose keys.
        owner: String,
    },
    /// For `revoke-key`.
    RevokeKey {
        /// Whose key.
        owner: String,
        /// Which key.
        id: String,
    },
}

impl Request {
    /// Read the request for `function` from its JSON form; an error names the bad field.
    pub fn parse(function: Function, value: Value) -> anyhow::Result<Request> {
        let what = format!("request of {}", function.name());
        Ok(match function {
            Function::Authorize => {
                Request::Authorize(Box::new(typed::<AccessRequestJson>(&what, value)?.into()))
            }
            Function::Authenticate => {
                let c: CredentialsJson = typed(&what, value)?;
                Request::Authenticate(BasicCredentials {
                    username: c.username,
                    password: c.password,
                })
            }
            Function::MapClaims => {
                let m: MapClaimsJson = typed(&what, value)?;
                Request::MapClaims {
                    issuer: m.issuer,
                    claims: json_text(m.claims),
                }
            }
            Function::CreateKey => {
                let c: CreateKeyJson = typed(&what, value)?;
                Request::CreateKey {
                    owner: Box::new(c.owner.into()),
                    request: c.request,
                }
            }
            Function::ListKeys => {
                let l: ListKeysJson = typed(&what, value)?;
                Request::ListKeys { owner: l.owner }
            }
            Function::RevokeKey => {
                let r: RevokeKeyJson = typed(&what, value)?;
                Request::RevokeKey {
                    owner: r.owner,
                    id: r.id,
                }
            }
        })
    }
}

/// A JSON object given as an object or as its text.
fn json_text(value: Value) -> String {
    match value {
        Value::String(text) => text,
        other => other.to_string(),
    }
}

/// WIT `action`.
#[derive(Clone, Copy, Debug, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActionJson {
    /// `read`.
    Read,
    /// `create`.
    Create,
    /// `update`.
    Update,
    /// `delete`.
    Delete,
    /// `detect-manifest-collision`.
    DetectManifestCollision,
}

impl From<ActionJson> for Action {
    fn from(a: ActionJson) -> Action {
        match a {
            ActionJson::Read => Action::Read,
            ActionJson::Create => Action::Create,
            ActionJson::Update => Action::Update,
            ActionJson::Delete => Action::Delete,
            ActionJson::DetectManifestCollision => Action::DetectManifestCollision,
        }
    }
}

impl From<Action> for ActionJson {
    fn from(a: Action) -> ActionJson {
        match a {
            Action::Read => ActionJson::Read,
            Action::Create => ActionJson::Create,
            Action::Update => ActionJson::Update,
            Action::Delete => ActionJson::Delete,
            Action::DetectManifestCollision => ActionJson::DetectManifestCollision,
        }
    }
}

/// WIT `scope`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ScopeJson {
    /// A doublestar glob over repository names.
    pub repositories: String,
    /// The actions allowed there.
    pub actions: Vec<ActionJson>,
}

/// WIT `identity`; `groups` defaults to none and `source` to `test`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct IdentityJson {
    /// The user name.
    pub username: String,
    /// Groups the source asserts.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Which authenticator or issuer vouched for the identity.
    #[serde(default = "default_source")]
    pub source: String,
    /// Restrictions of the credential.
    #[serde(default)]
    pub scopes: Option<Vec<ScopeJson>>,
    /// Expiry, ms since the Unix epoch.
    #[serde(default)]
    pub expires_at_ms: Option<u64>,
}

fn default_source() -> String {
    "test".into()
}

impl From<IdentityJson> for Identity {
    fn from(i: IdentityJson) -> Identity {
        Identity {
            username: i.username,
            groups: i.groups,
            source: i.source,
            scopes: i.scopes.map(|scopes| {
                scopes
                    .into_iter()
                    .map(|s| Scope {
                        repositories: s.repositories,
                        actions: s.actions.into_iter().map(Into::into).collect(),
                    })
                    .collect()
            }),
            expires_at_ms: i.expires_at_ms,
        }
    }
}

impl From<Identity> for IdentityJson {
    fn from(i: Identity) -> IdentityJson {
        IdentityJson {
            username: i.username,
            groups: i.groups,
            source: i.source,
            scopes: i.scopes.map(|scopes| {
                scopes
                    .into_iter()
                    .map(|s| ScopeJson {
                        repositories: s.repositories,
                        actions: s.actions.into_iter().map(Into::into).collect(),
                    })
                    .collect()
            }),
            expires_at_ms: i.expires_at_ms,
        }
    }
}

/// WIT `resource`: `{"repository": "name"}` or `"metrics"`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum ResourceJson {
    Repository(String),
    Metrics,
}

/// WIT `request-context`; every field has a default (a plain-HTTP GET from 127.0.0.1, now).
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
struct ContextJson {
    method: String,
    user_agent: Option<String>,
    client_ip: String,
    forwarded_for: Vec<String>,
    tls_version: Option<String>,
    time_ms: Option<u64>,
}

impl Default for ContextJson {
    fn default() -> ContextJson {
        ContextJson {
            method: "GET".into(),
            user_agent: None,
            client_ip: "127.0.0.1".into(),
            forwarded_for: Vec::new(),
            tls_version: None,
            time_ms: None,
        }
    }
}

/// WIT `access-request`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct AccessRequestJson {
    #[serde(default)]
    identity: Option<IdentityJson>,
    resource: ResourceJson,
    action: ActionJson,
    #[serde(default)]
    reference: Option<String>,
    #[serde(default)]
    context: ContextJson,
    #[serde(default)]
    claims: Option<Value>,
}

impl From<AccessRequestJson> for AccessRequest {
    fn from(r: AccessRequestJson) -> AccessRequest {
        let c = r.context;
        AccessRequest {
            identity: r.identity.map(Into::into),
            resource: match r.resource {
                ResourceJson::Repository(name) => Resource::Repository(name.into()),
                ResourceJson::Metrics => Resource::Metrics,
            },
            action: r.action.into(),
            reference: r.reference,
            context: RequestContext {
                method: c.method,
                user_agent: c.user_agent,
                client_ip: c.client_ip,
                forwarded_for: c.forwarded_for,
                tls_version: c.tls_version,
                time_ms: c.time_ms.unwrap_or_else(crate::clock::now_ms),
            },
            claims: r.claims.map(json_text),
        }
    }
}

/// WIT `basic-credentials`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct CredentialsJson {
    username: String,
    password: String,
}

/// The arguments of `map-claims`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct MapClaimsJson {
    issuer: String,
    claims: Value,
}

/// The arguments of `key-manager.create`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct CreateKeyJson {
    owner: IdentityJson,
    request: KeyRequest,
}

/// The argument of `key-manager.list`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct ListKeysJson {
    owner: String,
}

/// The arguments of `key-manager.revoke`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RevokeKeyJson {
    owner: String,
    id: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_access_request_with_defaults() {
        let r = Request::parse(
            Function::Authorize,
            json!({"resource": {"repository": "team/app"}, "action": "detect-manifest-collision",
                   "identity": {"username": "alice"}, "claims": {"sub": "x"}}),
        )
        .unwrap();
        let Request::Authorize(r) = r else { panic!() };
        assert_eq!(r.resource, Resource::Repository("team/app".into()));
        assert_eq!(r.action, Action::DetectManifestCollision);
        assert_eq!(r.identity.unwrap().source, "test");
        assert_eq!(r.context.method, "GET");
        assert_eq!(r.claims.as_deref(), Some(r#"{"sub":"x"}"#));
        let m = Request::parse(
            Function::Authorize,
            json!({"resource": "metrics", "action": "read"}),
        )
        .unwrap();
        assert!(matches!(m, Request::Authorize(a) if a.resource == Resource::Metrics));
    }

    #[test]
    fn errors_name_the_bad_field() {
        for (value, path) in [
            (
                json!({"resource": {"repository": "a"}, "action": "push"}),
                "action",
            ),
            (
                json!({"resource": {"repository": "a"}, "action": "read",
                       "identity": {"username": "a", "group": []}}),
                "identity",
            ),
            (
                json!({"resource": {"repository": "a"}, "action": "read",
                       "context": {"time-ms": "soon"}}),
                "context.time-ms",
            ),
        ] {
            let e = Request::parse(Function::Authorize, value)
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with(&format!("request of authorize: {path}")),
                "{e}"
            );
        }
        let e = Request::parse(Function::Authenticate, json!({"username": "a"}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing field `password`"), "{e}");
        let e = Request::parse(
            Function::CreateKey,
            json!({"owner": {"username": "a"}, "request": {}}),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("request of create-key: request: missing field `label`"),
            "{e}"
        );
    }
}
