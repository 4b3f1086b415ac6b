//! `http.auth`, in zot's schema. Parsed (and so checked for unknown keys) by every command;
//! enforced by the gate. (`http.accessControl` is the authorizer plugin's to parse.)

use super::model::NamedMap;
use serde::Deserialize;
use std::path::PathBuf;

/// `http.auth`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
pub struct AuthConfig {
    /// htpasswd file.
    #[serde(default)]
    pub htpasswd: Option<HtpasswdConfig>,
    /// Seconds to wait before answering a failed authentication.
    #[serde(default)]
    pub faildelay: Option<u64>,
    /// API keys and their endpoints.
    #[serde(default)]
    pub apikey: Option<bool>,
    /// Browser OpenID Connect login.
    #[serde(default)]
    pub openid: Option<OpenIdConfig>,
    /// Bearer tokens (traditional JWT and workload OIDC).
    #[serde(default)]
    pub bearer: Option<BearerConfig>,
    /// LDAP.
    #[serde(default)]
    pub ldap: Option<serde_json::Value>,
    /// JSON file with session cookie keys.
    #[serde(default)]
    pub sessionkeysfile: Option<PathBuf>,
    /// Session storage driver.
    #[serde(default)]
    pub sessiondriver: Option<serde_json::Value>,
    /// Set `Secure` on session cookies without TLS.
    #[serde(default)]
    pub securesession: Option<bool>,
    /// Identity from client certificates.
    #[serde(default)]
    pub mtls: Option<serde_json::Value>,
}

/// `http.auth.htpasswd`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
pub struct HtpasswdConfig {
    /// Path of the htpasswd file.
    pub path: PathBuf,
}

/// `http.auth.openid`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
pub struct OpenIdConfig {
    /// Providers keyed by type (`oidc`, `google`, `gitlab`, `github`).
    pub providers: NamedMap<OpenIdProvider>,
    /// Origins allowed as `callback_ui` targets.
    #[serde(default)]
    pub callbackalloworigins: Vec<String>,
}

/// One OpenID provider.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
pub struct OpenIdProvider {
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// OAuth2 client id.
    #[serde(default)]
    pub clientid: Option<String>,
    /// OAuth2 client secret.
    #[serde(default)]
    pub clientsecret: Option<String>,
    /// File holding `clientid` and `clientsecret`.
    #[serde(default)]
    pub credentialsfile: Option<PathBuf>,
    /// Issuer URL.
    #[serde(default)]
    pub issuer: Option<String>,
    /// Scopes to request.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Key for private_key_jwt client authentication.
    #[serde(default)]
    pub keypath: Option<String>,
    /// Custom authorization endpoint (github).
    #[serde(default)]
    pub authurl: Option<String>,
    /// Custom token endpoint (github).
    #[serde(default)]
    pub tokenurl: Option<String>,
    /// Which claims give the username and groups.
    #[serde(default)]
    pub claimmapping: Option<OpenIdClaimMapping>,
}

/// `openid.providers.*.claimMapping`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
pub struct OpenIdClaimMapping {
    /// Claim holding the username.
    #[serde(default)]
    pub username: Option<String>,
    /// Claim holding the groups.
    #[serde(default)]
    pub groups: Option<String>,
}

/// `http.auth.bearer`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
pub struct BearerConfig {
    /// Token service URL.
    #[serde(default)]
    pub realm: Option<String>,
    /// Service name.
    #[serde(default)]
    pub service: Option<String>,
    /// Verification key for traditional tokens.
    #[serde(default)]
    pub cert: Option<PathBuf>,
    /// AWS Secrets Manager key source.
    #[serde(default)]
    pub awssecretsmanager: Option<serde_json::Value>,
    /// Workload identity issuers.
    #[serde(default)]
    pub oidc: Vec<BearerOidcConfig>,
    /// Where to proxy token requests this registry does not own.
    #[serde(default)]
    pub upstreamtokenendpoint: Option<serde_json::Value>,
}

/// One workload identity issuer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
pub struct BearerOidcConfig {
    /// Issuer URL.
    pub issuer: String,
    /// Accepted audiences.
    #[serde(default)]
    pub audiences: Vec<String>,
    /// CEL claim mapping.
    #[serde(default)]
    pub claimmapping: Option<ClaimMapping>,
    /// Inline PEM CA for the issuer.
    #[serde(default)]
    pub certificateauthority: Option<String>,
    /// File with a PEM CA for the issuer.
    #[serde(default)]
    pub certificateauthorityfile: Option<PathBuf>,
    /// Skip the issuer check.
    #[serde(default)]
    pub skipissuerverification: Option<bool>,
}

/// CEL claim mapping of a workload identity issuer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
pub struct ClaimMapping {
    /// Named intermediate expressions.
    #[serde(default)]
    pub variables: Vec<NamedExpression>,
    /// Expressions that must be true.
    #[serde(default)]
    pub validations: Vec<Validation>,
    /// Expression giving the username.
    #[serde(default)]
    pub username: Option<String>,
    /// Expression giving the groups.
    #[serde(default)]
    pub groups: Option<String>,
}

/// A named CEL expression.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
pub struct NamedExpression {
    /// Variable name.
    pub name: String,
    /// CEL expression.
    pub expression: String,
}

/// A CEL validation with its failure message.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
pub struct Validation {
    /// CEL expression that must be true.
    pub expression: String,
    /// Message when it is not.
    pub message: String,
}
