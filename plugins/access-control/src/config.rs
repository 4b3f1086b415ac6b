//! The plugin's JSON configuration: `{"accessControl": <zot's http.accessControl or null>}`.
//!
//! The host lowercases every key of the registry's configuration file (as zot/viper does), so
//! the lowercase spellings are the canonical ones; the camelCase spellings of zot's
//! documentation are accepted too, for configurations written by hand. Unknown keys are
//! refused, as zot refuses them.

use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;

/// The whole plugin configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginConfig {
    /// zot's `http.accessControl`. Absent or `null`: authenticated identities may do
    /// everything, anonymous requests nothing.
    #[serde(default, rename = "accesscontrol", alias = "accessControl")]
    pub access_control: Option<AccessControlConfig>,
}

/// zot's `http.accessControl`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessControlConfig {
    /// Named groups of users: `{"<name>": {"users": [..]}}`.
    #[serde(default, deserialize_with = "nullable")]
    pub groups: BTreeMap<String, GroupConfig>,
    /// Policies by repository glob.
    #[serde(default, deserialize_with = "nullable")]
    pub repositories: BTreeMap<String, RepositoryConfig>,
    /// Rights on every repository.
    #[serde(
        default,
        rename = "adminpolicy",
        alias = "adminPolicy",
        deserialize_with = "nullable"
    )]
    pub admin_policy: PolicyConfig,
    /// Who may read the metrics endpoint.
    #[serde(default, deserialize_with = "nullable")]
    pub metrics: MetricsConfig,
}

/// `accessControl.groups.<name>`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupConfig {
    /// Members, by user name.
    #[serde(default, deserialize_with = "nullable")]
    pub users: Vec<String>,
}

/// `accessControl.repositories.<glob>`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepositoryConfig {
    /// Grants to users and groups.
    #[serde(default, deserialize_with = "nullable")]
    pub policies: Vec<PolicyConfig>,
    /// Actions every authenticated identity has.
    #[serde(
        default,
        rename = "defaultpolicy",
        alias = "defaultPolicy",
        deserialize_with = "nullable"
    )]
    pub default_policy: Vec<String>,
    /// Actions anonymous requests have (not inherited by authenticated identities).
    #[serde(
        default,
        rename = "anonymouspolicy",
        alias = "anonymousPolicy",
        deserialize_with = "nullable"
    )]
    pub anonymous_policy: Vec<String>,
}

/// A grant of actions to users and groups (a `policies[]` entry, or `adminPolicy`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// User names.
    #[serde(default, deserialize_with = "nullable")]
    pub users: Vec<String>,
    /// Group names.
    #[serde(default, deserialize_with = "nullable")]
    pub groups: Vec<String>,
    /// Actions granted.
    #[serde(default, deserialize_with = "nullable")]
    pub actions: Vec<String>,
    /// CEL conditions that must all hold for this entry to grant.
    #[serde(default, deserialize_with = "nullable")]
    pub conditions: Vec<ConditionConfig>,
}

/// `accessControl.metrics`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Users who may read metrics (groups and admins do not count).
    #[serde(default, deserialize_with = "nullable")]
    pub users: Vec<String>,
    /// `["read"]` lets anonymous requests read metrics.
    #[serde(
        default,
        rename = "anonymouspolicy",
        alias = "anonymousPolicy",
        deserialize_with = "nullable"
    )]
    pub anonymous_policy: Vec<String>,
}

/// A `null` value reads as the type's default (zot accepts `users:` with nothing after it).
fn nullable<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// A policy condition: a CEL expression over `req`, and the reason given when it is false.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConditionConfig {
    /// Must evaluate to true.
    pub expression: String,
    /// The denial's reason when it does not.
    pub message: String,
}
