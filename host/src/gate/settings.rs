//! Turning a configuration into a gate: zot's `http.auth` and `http.accessControl` become the
//! default plugins' configurations; the `plugins` section replaces or adds plugins.

use crate::config::auth::AccessControlConfig;
use crate::config::plugins::PluginRef;
use crate::config::Config;
use crate::plugins::{builtin, Limits, PluginSpec, Source};
use anyhow::Context;
use serde_json::json;
use std::path::PathBuf;
use std::time::Duration;

/// Default deadline of an authenticator call (password hashing is slow by design).
const AUTHENTICATOR_DEADLINE: Duration = Duration::from_secs(2);
/// Default deadline of an authorizer call.
const AUTHORIZER_DEADLINE: Duration = Duration::from_millis(250);
/// Default memory cap of a plugin instance.
const MEMORY_LIMIT: usize = 128 << 20;
/// How long a verified credential is remembered.
pub const CREDENTIAL_TTL: Duration = Duration::from_secs(60);

/// How the gate behaves, besides what its plugins decide.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// Basic realm in challenges.
    pub realm: String,
    /// Wait before answering an authentication or authorization failure.
    pub fail_delay: Duration,
    /// Some request may proceed anonymously (zot: some anonymousPolicy, or anonymous metrics).
    /// With a custom authorizer this is always true: the plugin decides.
    pub anonymous_possible: bool,
    /// Anonymous and authenticated-only policies are mixed (zot's Docker `/v2/` challenge).
    pub mixed_policies: bool,
}

/// A configuration's gate: settings, plugins to load, and files whose change reloads it.
pub struct GateConfig {
    /// Behaviour.
    pub settings: Settings,
    /// Authenticators in order.
    pub authenticators: Vec<PluginSpec>,
    /// The authorizer, if any (none: no gate).
    pub authorizer: Option<PluginSpec>,
    /// Files the plugin set was built from.
    pub watched: Vec<PathBuf>,
}

impl GateConfig {
    /// Whether requests are decided by plugins at all.
    pub fn is_open(&self) -> bool {
        self.authenticators.is_empty() && self.authorizer.is_none()
    }
}

/// Build the gate of `config`, reading the files it names (htpasswd, plugin components).
pub fn gate_config(config: &Config) -> anyhow::Result<GateConfig> {
    let auth = config.http.auth.clone().unwrap_or_default();
    let access = config.http.accesscontrol.as_ref();
    let plugins = config.plugins.clone().unwrap_or_default();
    let default_limits = |deadline: Duration| Limits {
        deadline: plugins
            .timeoutms
            .map(Duration::from_millis)
            .unwrap_or(deadline),
        memory: plugins
            .memorylimitmb
            .map(|mb| (mb as usize) << 20)
            .unwrap_or(MEMORY_LIMIT),
        reuse: true,
    };
    let mut watched = Vec::new();
    let htpasswd_config = |watched: &mut Vec<PathBuf>| -> anyhow::Result<String> {
        let path = &auth
            .htpasswd
            .as_ref()
            .context("the htpasswd plugin needs http.auth.htpasswd.path")?
            .path;
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read htpasswd file {}", path.display()))?;
        watched.push(path.clone());
        Ok(json!({ "htpasswd": text }).to_string())
    };
    let access_config = || json!({ "accessControl": access }).to_string();

    let authenticators = match &plugins.authenticators {
        Some(list) => list
            .iter()
            .map(|r| {
                let defaults = default_limits(AUTHENTICATOR_DEADLINE);
                spec(r, defaults, &mut watched, |name, watched| match name {
                    "htpasswd" => htpasswd_config(watched),
                    other => anyhow::bail!("no built-in authenticator named {other:?}"),
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?,
        None if auth.htpasswd.is_some() => vec![PluginSpec {
            name: "htpasswd".into(),
            source: Source::Builtin(builtin("htpasswd").expect("embedded")),
            config: htpasswd_config(&mut watched)?,
            limits: default_limits(AUTHENTICATOR_DEADLINE),
        }],
        None => Vec::new(),
    };
    let custom_authorizer = plugins.authorizer.is_some();
    let authorizer = match &plugins.authorizer {
        Some(r) => Some(spec(
            r,
            default_limits(AUTHORIZER_DEADLINE),
            &mut watched,
            |name, _| match name {
                "accesscontrol" | "access-control" => Ok(access_config()),
                other => anyhow::bail!("no built-in authorizer named {other:?}"),
            },
        )?),
        None if access.is_some() || !authenticators.is_empty() => Some(PluginSpec {
            name: "access-control".into(),
            source: Source::Builtin(builtin("access-control").expect("embedded")),
            config: access_config(),
            limits: default_limits(AUTHORIZER_DEADLINE),
        }),
        None => None,
    };
    let (anonymous, authenticated_only) = access.map(policy_kinds).unwrap_or((false, false));
    Ok(GateConfig {
        settings: Settings {
            realm: config
                .http
                .realm
                .clone()
                .filter(|r| !r.is_empty())
                .unwrap_or_else(|| "Authorization Required".into()),
            fail_delay: Duration::from_secs(auth.faildelay.unwrap_or(0)),
            anonymous_possible: custom_authorizer || anonymous,
            mixed_policies: anonymous && authenticated_only,
        },
        authenticators,
        authorizer,
        watched,
    })
}

/// A plugin reference as a spec; `builtin_config` makes the configuration of built-ins.
fn spec(
    r: &PluginRef,
    limits: Limits,
    watched: &mut Vec<PathBuf>,
    builtin_config: impl Fn(&str, &mut Vec<PathBuf>) -> anyhow::Result<String>,
) -> anyhow::Result<PluginSpec> {
    let limits = Limits {
        deadline: r
            .timeoutms
            .map(Duration::from_millis)
            .unwrap_or(limits.deadline),
        memory: r
            .memorylimitmb
            .map(|mb| (mb as usize) << 20)
            .unwrap_or(limits.memory),
        reuse: r.reuseinstances.unwrap_or(limits.reuse),
    };
    match (&r.builtin, &r.path) {
        (Some(name), None) => {
            let key = name.to_ascii_lowercase();
            let bytes =
                builtin(&key).with_context(|| format!("no built-in plugin named {name:?}"))?;
            let config = match &r.config {
                Some(c) => c.to_string(),
                None => builtin_config(&key, watched)?,
            };
            Ok(PluginSpec {
                name: r.name.clone().unwrap_or(key),
                source: Source::Builtin(bytes),
                config,
                limits,
            })
        }
        (None, Some(path)) => {
            watched.push(path.clone());
            let stem = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("plugin");
            Ok(PluginSpec {
                name: r.name.clone().unwrap_or_else(|| stem.to_owned()),
                source: Source::File(path.clone()),
                config: r.config.clone().unwrap_or(json!({})).to_string(),
                limits,
            })
        }
        _ => anyhow::bail!("a plugin needs exactly one of `builtin` and `path`"),
    }
}

/// Whether the policies grant anything anonymously, and anything to authenticated users only.
pub fn policy_kinds(access: &AccessControlConfig) -> (bool, bool) {
    let metrics = access.metrics.clone().unwrap_or_default();
    let anonymous = access
        .repositories
        .values()
        .any(|r| !r.anonymouspolicy.is_empty())
        || metrics
            .anonymouspolicy
            .iter()
            .any(|a| a.eq_ignore_ascii_case("read"));
    let admin = access.adminpolicy.clone().unwrap_or_default();
    let authenticated_only = access.repositories.values().any(|r| {
        !r.defaultpolicy.is_empty()
            || r.policies
                .iter()
                .any(|p| !p.actions.is_empty() && (!p.users.is_empty() || !p.groups.is_empty()))
    }) || (!admin.actions.is_empty()
        && (!admin.users.is_empty() || !admin.groups.is_empty()))
        || !metrics.users.is_empty();
    (anonymous, authenticated_only)
}
