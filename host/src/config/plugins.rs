//! The `plugins` section (Portcullis's own; zot has none): which WebAssembly components make
//! the gate's decisions, and their limits.

use serde::Deserialize;
use std::path::PathBuf;

/// `plugins`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
pub struct PluginsConfig {
    /// The authenticator chain, in order. Absent: the defaults the `http.auth` section enables.
    #[serde(default)]
    pub authenticators: Option<Vec<PluginRef>>,
    /// The authorizer. Absent: the default accessControl plugin.
    #[serde(default)]
    pub authorizer: Option<PluginRef>,
    /// The API-key manager (a component of the `api-keys-plugin` world). Absent: the built-in
    /// `api-keys` when API keys are on.
    #[serde(default)]
    pub keymanager: Option<PluginRef>,
    /// The claim mapper of workload identity tokens (a component of the
    /// `claim-mapper-plugin` world). Absent: the built-in `workload-identity` when
    /// `http.auth.bearer.oidc` is configured.
    #[serde(default)]
    pub claimmapper: Option<PluginRef>,
    /// Default per-call deadline, in milliseconds.
    #[serde(default)]
    pub timeoutms: Option<u64>,
    /// Default per-instance memory cap, in MiB.
    #[serde(default)]
    pub memorylimitmb: Option<u64>,
    /// For `oci://` plugin paths: a JSON file mapping a registry host (`host[:port]`) to
    /// `{username, password}`, as `extensions.sync.credentialsFile` (default: anonymous).
    #[serde(default)]
    pub credentialsfile: Option<String>,
    /// Directory for compiled components (default `<rootDirectory>/_portcullis/plugin-cache`).
    #[serde(default)]
    pub cachedirectory: Option<PathBuf>,
    /// Default calls of one plugin running at once.
    #[serde(default)]
    pub maxconcurrency: Option<usize>,
    /// Longest wait for a plugin call slot before answering 503, in milliseconds.
    #[serde(default)]
    pub queuetimeoutms: Option<u64>,
    /// Largest value a plugin may store in its key-value namespace, in KiB.
    #[serde(default)]
    pub kvvaluelimitkb: Option<u64>,
    /// Most a plugin may store in its key-value namespace (keys and values), in MiB.
    #[serde(default)]
    pub kvquotamb: Option<u64>,
    /// Lines per second a plugin may log (log calls, stdout and stderr together).
    #[serde(default)]
    pub loglinespersecond: Option<u32>,
}

/// One plugin: a built-in one by name, or a component file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
pub struct PluginRef {
    /// A default plugin: `htpasswd` or `accessControl`.
    #[serde(default)]
    pub builtin: Option<String>,
    /// Path of a `.wasm` component, or `oci://host[:port]/repository@sha256:…`: a plugin
    /// published to a registry, pinned by digest (a tag alone is refused: it can move).
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// For an `oci://` path: check the registry's TLS certificate (default true); false also
    /// allows plain HTTP, for a local registry.
    #[serde(default)]
    pub tlsverify: Option<bool>,
    /// Name used in logs and as the key-value namespace (default: the file stem or builtin).
    #[serde(default)]
    pub name: Option<String>,
    /// The plugin's JSON configuration, passed to its `configure` as written.
    #[serde(default)]
    pub config: Option<serde_json::Value>,
    /// Per-call deadline for this plugin, in milliseconds.
    #[serde(default)]
    pub timeoutms: Option<u64>,
    /// Memory cap for this plugin's instances, in MiB.
    #[serde(default)]
    pub memorylimitmb: Option<u64>,
    /// Reuse warm instances between calls (default true); false gives every call a fresh
    /// instance.
    #[serde(default)]
    pub reuseinstances: Option<bool>,
    /// Calls of this plugin running at once.
    #[serde(default)]
    pub maxconcurrency: Option<usize>,
}
