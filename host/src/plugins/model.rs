//! The host's own view of what crosses the plugin boundary, independent of any contract
//! version: the gate speaks these types, and each supported version of the contract is adapted
//! to them in [`super::bindings`].

use smol_str::SmolStr;
use std::fmt;

/// What a request wants to do (zot's actions).
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
    /// Refuse deleting a manifest that several tags name (asked before a delete by digest).
    DetectManifestCollision,
}

impl Action {
    /// Every action.
    pub const ALL: [Action; 5] = [
        Action::Read,
        Action::Create,
        Action::Update,
        Action::Delete,
        Action::DetectManifestCollision,
    ];

    /// The action's name in zot's configuration.
    pub fn name(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::DetectManifestCollision => "detectManifestCollision",
        }
    }

    /// Parse a zot action name, case-insensitively.
    pub fn parse(name: &str) -> Option<Action> {
        Action::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A restriction a credential carries: on repositories matching the glob, only these actions.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Scope {
    /// A doublestar glob over repository names.
    pub repositories: String,
    /// The actions allowed there.
    pub actions: Vec<Action>,
}

/// Who a request comes from, once authenticated.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Identity {
    /// The user name policies refer to.
    pub username: String,
    /// Groups the identity source asserts.
    pub groups: Vec<String>,
    /// Which authenticator or issuer vouched for the identity.
    pub source: String,
    /// Restrictions of the credential (None: the identity's full rights).
    pub scopes: Option<Vec<Scope>>,
    /// When the credential stops being valid, ms since the Unix epoch.
    pub expires_at_ms: Option<u64>,
}

impl Identity {
    /// An identity with no restriction and no expiry.
    pub fn new(
        username: impl Into<String>,
        groups: Vec<String>,
        source: impl Into<String>,
    ) -> Identity {
        Identity {
            username: username.into(),
            groups,
            source: source.into(),
            scopes: None,
            expires_at_ms: None,
        }
    }
}

/// HTTP Basic credentials, as sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BasicCredentials {
    /// The user name.
    pub username: String,
    /// The password.
    pub password: String,
}

/// An authenticator's verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthnResult {
    /// Valid: the identity.
    Authenticated(Identity),
    /// Not this authenticator's kind of credential.
    NotMine,
    /// This authenticator's, and wrong (the reason is for the log).
    Rejected(String),
}

/// What is accessed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Resource {
    /// A repository (its name inline up to 23 bytes).
    Repository(SmolStr),
    /// The metrics endpoint.
    Metrics,
}

/// The HTTP request an access belongs to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestContext {
    /// The method.
    pub method: String,
    /// The `User-Agent`, if any.
    pub user_agent: Option<String>,
    /// The client's address.
    pub client_ip: String,
    /// `X-Forwarded-For`, as sent.
    pub forwarded_for: Vec<String>,
    /// The TLS version, none for plain HTTP.
    pub tls_version: Option<String>,
    /// Arrival, ms since the Unix epoch.
    pub time_ms: u64,
}

/// One permission a request needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessRequest {
    /// The caller, none when anonymous.
    pub identity: Option<Identity>,
    /// What is accessed.
    pub resource: Resource,
    /// The action.
    pub action: Action,
    /// The tag or digest acted on.
    pub reference: Option<String>,
    /// The request.
    pub context: RequestContext,
    /// Verified token claims (JSON), for token identities.
    pub claims: Option<String>,
}

/// An authorizer's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead.
    Allow,
    /// Refuse, with a reason for the client.
    Deny(String),
}

/// What an authorizer may grant anonymously.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AnonymousAccess {
    /// Some repository access.
    pub repositories: bool,
    /// Reading metrics.
    pub metrics: bool,
    /// Some access needs authentication.
    pub authenticated_only: bool,
}

impl AnonymousAccess {
    /// What the host assumes of an authorizer that cannot say (contract 0.1): anything may be
    /// granted anonymously, the plugin decides each request.
    pub const UNKNOWN: AnonymousAccess = AnonymousAccess {
        repositories: true,
        metrics: true,
        authenticated_only: false,
    };
}

/// What an owner asked of a new API key (read as the WIT record, in kebab-case, with every
/// field but the label optional).
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct KeyRequest {
    /// A label.
    pub label: String,
    /// Scopes, `<glob>:<action>[,<action>…]`.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Expiry, ms since the Unix epoch.
    #[serde(default)]
    pub expires_at_ms: Option<u64>,
    /// The creating request's `User-Agent`.
    #[serde(default)]
    pub creator_ua: String,
}

/// An API key as its owner may see it (serialized as the WIT record, in kebab-case).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct KeyInfo {
    /// Its id.
    pub id: String,
    /// Its label.
    pub label: String,
    /// Its scopes.
    pub scopes: Vec<String>,
    /// Creation, ms since the Unix epoch.
    pub created_at_ms: u64,
    /// Expiry, ms since the Unix epoch.
    pub expires_at_ms: Option<u64>,
    /// Last use, ms since the Unix epoch.
    pub last_used_ms: Option<u64>,
    /// The creating request's `User-Agent`.
    pub creator_ua: String,
}

/// A key just created, with its secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreatedKey {
    /// Its description.
    pub info: KeyInfo,
    /// Its secret, shown once.
    pub secret: String,
}

/// Why a key was not created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyError {
    /// The request is malformed.
    Invalid(String),
    /// The plugin could not store it.
    Failed(String),
}
