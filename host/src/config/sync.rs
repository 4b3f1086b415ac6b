//! `extensions.sync`: zot's pull-through cache and mirroring, in zot's keys.

use super::model::{optional_duration, yes};
use super::ConfigError;
use serde::Deserialize;
use std::time::Duration;

/// `extensions.sync`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
pub struct SyncConfig {
    /// Sync at all (zot's default is on when the section exists).
    #[serde(default = "yes")]
    pub enable: bool,
    /// A JSON file mapping an upstream host (`host[:port]`) to `{username, password}`.
    #[serde(default)]
    pub credentialsfile: Option<String>,
    /// zot's staging directory for cloud storage; content here streams straight into storage,
    /// so it is accepted and unused.
    #[serde(default)]
    pub downloaddir: Option<String>,
    /// The upstream registries, each with its rules.
    #[serde(default)]
    pub registries: Vec<RegistryConfig>,
}

/// `extensions.sync.registries[]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
pub struct RegistryConfig {
    /// Base URLs of one registry and its mirrors, tried in order.
    pub urls: Vec<String>,
    /// Fetch what a client asks for and the registry lacks.
    #[serde(default)]
    pub ondemand: bool,
    /// Mirror the `content` rules' repositories this often (none: never).
    #[serde(default, deserialize_with = "optional_duration")]
    pub pollinterval: Option<Duration>,
    /// Verify the upstream's TLS certificate (default true).
    #[serde(default = "yes")]
    pub tlsverify: bool,
    /// A directory of CA certificates (`*.crt`) the upstream's certificate may chain to.
    #[serde(default)]
    pub certdir: Option<String>,
    /// Retries after a failed upstream call (default none).
    #[serde(default)]
    pub maxretries: Option<u32>,
    /// Pause between retries (required with `maxRetries`).
    #[serde(default, deserialize_with = "optional_duration")]
    pub retrydelay: Option<Duration>,
    /// Sync only signed images: not supported, refused when true.
    #[serde(default)]
    pub onlysigned: Option<bool>,
    /// Keep the upstream's digests. Always so here: nothing is converted.
    #[serde(default)]
    pub preservedigest: Option<bool>,
    /// Deadline of one upstream call (default 5 minutes; a blob's body may take longer while
    /// it keeps arriving).
    #[serde(default, deserialize_with = "optional_duration")]
    pub synctimeout: Option<Duration>,
    /// Which repositories and tags; none: every name, on demand only.
    #[serde(default)]
    pub content: Vec<ContentConfig>,
    /// zot's credential helpers: not supported, refused.
    #[serde(default)]
    pub credentialhelper: Option<serde_json::Value>,
    /// zot's OAuth2 credential helper: not supported, refused.
    #[serde(default)]
    pub oauth2credentialhelper: Option<serde_json::Value>,
}

impl RegistryConfig {
    /// A registry reached as a client only (no rules, nothing mirrored): for pushing and
    /// pulling plugins.
    pub fn client(
        urls: Vec<String>,
        tlsverify: bool,
        timeout: Duration,
        retries: u32,
        retry_delay: Duration,
    ) -> RegistryConfig {
        RegistryConfig {
            urls,
            ondemand: false,
            pollinterval: None,
            tlsverify,
            certdir: None,
            maxretries: Some(retries),
            retrydelay: Some(retry_delay),
            onlysigned: None,
            preservedigest: None,
            synctimeout: Some(timeout),
            content: Vec::new(),
            credentialhelper: None,
            oauth2credentialhelper: None,
        }
    }
}

/// `extensions.sync.registries[].content[]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
pub struct ContentConfig {
    /// Upstream repositories, a glob (`/repo1/**`); a leading `/` is ignored.
    pub prefix: String,
    /// Which tags.
    #[serde(default)]
    pub tags: Option<TagsConfig>,
    /// Where matching repositories go locally.
    #[serde(default)]
    pub destination: Option<String>,
    /// Drop the prefix's fixed part from the local name.
    #[serde(default)]
    pub stripprefix: bool,
}

/// `content[].tags`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
pub struct TagsConfig {
    /// Keep tags this regular expression matches (anywhere in the tag).
    #[serde(default)]
    pub regex: Option<String>,
    /// Drop tags this regular expression matches.
    #[serde(default)]
    pub excluderegex: Option<String>,
    /// Keep only semantic versions.
    #[serde(default)]
    pub semver: Option<bool>,
}

/// Refuse what zot refuses (and what this registry does not do), naming the key.
pub fn validate(sync: &SyncConfig) -> Result<(), ConfigError> {
    let fail = |key: String, msg: &str| Err(ConfigError(format!("key `{key}`: {msg}")));
    for (i, registry) in sync.registries.iter().enumerate() {
        let key = |k: &str| format!("extensions.sync.registries[{i}].{k}");
        if registry.urls.is_empty() {
            return fail(key("urls"), "at least one URL is required");
        }
        for url in &registry.urls {
            let host = url
                .strip_prefix("https://")
                .or_else(|| url.strip_prefix("http://"))
                .map(|rest| rest.split(['/', '?', '#']).next().unwrap_or(""));
            if host.is_none_or(|h| h.is_empty() || h.contains(char::is_whitespace)) {
                return fail(key("urls"), &format!("{url:?} is not an http(s) URL"));
            }
        }
        if registry.maxretries.is_some() && registry.retrydelay.is_none() {
            return fail(key("retryDelay"), "required with maxRetries");
        }
        if registry.onlysigned == Some(true) {
            return fail(key("onlySigned"), "not supported yet");
        }
        if registry.credentialhelper.is_some() || registry.oauth2credentialhelper.is_some() {
            return fail(
                key("credentialHelper"),
                "not supported yet; use extensions.sync.credentialsFile",
            );
        }
        if registry.pollinterval.is_some() && registry.content.is_empty() {
            return fail(
                key("content"),
                "pollInterval needs content rules saying what to mirror",
            );
        }
        for (j, content) in registry.content.iter().enumerate() {
            let key = |k: &str| format!("extensions.sync.registries[{i}].content[{j}].{k}");
            let prefix = content.prefix.trim_start_matches('/');
            if let Err(e) = repo_glob::RepoGlob::new(prefix) {
                return fail(key("prefix"), &e);
            }
            let tags = content.tags.as_ref();
            for (name, pattern) in [
                ("tags.regex", tags.and_then(|t| t.regex.as_ref())),
                (
                    "tags.excludeRegex",
                    tags.and_then(|t| t.excluderegex.as_ref()),
                ),
            ] {
                if let Some(Err(e)) = pattern.map(|p| regex::Regex::new(p)) {
                    return fail(key(name), &e.to_string());
                }
            }
        }
    }
    Ok(())
}
