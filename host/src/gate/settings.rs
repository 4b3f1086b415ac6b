//! Turning a configuration into a gate: zot's `http.auth` and `http.accessControl` become the
//! default plugins' configurations; the `plugins` section replaces or adds plugins.

use crate::config::plugins::PluginRef;
use crate::config::Config;
use crate::plugins::kv::KvLimits;
use crate::plugins::{builtin, oci, Limits, PluginSpec, SetSpec, Source};
use crate::sync::upstream::{read_credentials_file, CredentialsFile};
use anyhow::Context;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Default deadline of an authenticator (and key manager) call (password hashing is slow by
/// design).
pub const AUTHENTICATOR_DEADLINE: Duration = Duration::from_secs(2);
/// Default deadline of an authorizer (and claim mapper) call.
pub const AUTHORIZER_DEADLINE: Duration = Duration::from_millis(250);
/// Default memory cap of a plugin instance.
pub const MEMORY_LIMIT: usize = 128 << 20;

/// The limits of a plugin whose configuration sets none, with the slot's default `deadline`.
pub fn default_limits(deadline: Duration) -> Limits {
    Limits {
        deadline,
        memory: MEMORY_LIMIT,
        reuse: true,
        concurrency: crate::plugins::CONCURRENCY,
        queue_timeout: crate::plugins::QUEUE_TIMEOUT,
    }
}

/// How long a verified credential is remembered.
pub const CREDENTIAL_TTL: Duration = Duration::from_secs(60);

/// How the gate behaves, besides what its plugins decide.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// Basic realm in challenges.
    pub realm: String,
    /// Wait before answering an authentication or authorization failure.
    pub fail_delay: Duration,
    /// Session cookies are `Secure` (TLS is on, or `secureSession`).
    pub secure_cookies: bool,
    /// Some authenticator checks passwords (the sign-in page offers a password form).
    pub passwords: bool,
}

/// A configuration's gate: settings, plugins to load, and files whose change reloads it.
pub struct GateConfig {
    /// Behaviour.
    pub settings: Settings,
    /// The plugins.
    pub set: SetSpec,
    /// Whether `http.accessControl` is configured (zot then requires a way to authenticate
    /// unless the policies are anonymous-only).
    pub access_control: bool,
    /// Files the plugin set was built from.
    pub watched: Vec<PathBuf>,
    /// The configuration itself (for what is built beside the plugins: OpenID providers).
    pub config: Config,
}

impl GateConfig {
    /// Whether requests are decided by plugins at all.
    pub fn is_open(&self) -> bool {
        self.set.authenticators.is_empty() && self.set.authorizer.is_none()
    }
}

/// When the gate's files are read: at start (and by `verify`) a missing file is a mistake to
/// report; on a reload it is a revocation to honour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reading {
    /// Start or `verify`: a missing htpasswd file refuses the configuration.
    Start,
    /// Hot reload: a missing htpasswd file means no user can log in.
    Reload,
}

/// The content of the htpasswd file, read only once stable; on a reload a missing file is an
/// empty one (no user can log in: revocation by deleting the file fails closed).
fn htpasswd_text(path: &Path, reading: Reading) -> anyhow::Result<String> {
    let read = crate::fsutil::read_stable(path)
        .with_context(|| format!("cannot read htpasswd file {}", path.display()))?;
    match read {
        Some(bytes) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
        None if reading == Reading::Start => {
            anyhow::bail!(
                "cannot read htpasswd file {}: it does not exist",
                path.display()
            )
        }
        None => {
            tracing::warn!(path = %path.display(), "htpasswd file is missing: no user can log in with a password");
            Ok(String::new())
        }
    }
}

/// Build the gate of `config`, reading the files it names (htpasswd, plugin components).
pub fn gate_config(config: &Config, reading: Reading) -> anyhow::Result<GateConfig> {
    let auth = config.http.auth.clone().unwrap_or_default();
    let access = config.http.accesscontrol.as_ref();
    let plugins = config.plugins.clone().unwrap_or_default();
    let kv = KvLimits {
        value: plugins
            .kvvaluelimitkb
            .map(|kb| (kb as usize) << 10)
            .unwrap_or(crate::plugins::kv::VALUE_LIMIT),
        total: plugins
            .kvquotamb
            .map(|mb| mb << 20)
            .unwrap_or(crate::plugins::kv::QUOTA),
    };
    let log_per_second = plugins
        .loglinespersecond
        .unwrap_or(crate::plugins::LINES_PER_SECOND);
    let default_limits = |deadline: Duration| {
        let defaults = default_limits(deadline);
        Limits {
            deadline: plugins
                .timeoutms
                .map(Duration::from_millis)
                .unwrap_or(defaults.deadline),
            memory: plugins
                .memorylimitmb
                .map(|mb| (mb as usize) << 20)
                .unwrap_or(defaults.memory),
            reuse: defaults.reuse,
            concurrency: plugins.maxconcurrency.unwrap_or(defaults.concurrency),
            queue_timeout: plugins
                .queuetimeoutms
                .map(Duration::from_millis)
                .unwrap_or(defaults.queue_timeout),
        }
    };
    let spec_of = |name: &str, source: Source, config: String, limits: Limits| PluginSpec {
        name: name.to_owned(),
        source,
        config,
        limits,
        kv,
        log_per_second,
    };
    let mut watched = Vec::new();
    let registries = match &plugins.credentialsfile {
        Some(path) => {
            watched.push(PathBuf::from(path));
            read_credentials_file(path, "plugins.credentialsFile")?
        }
        None => CredentialsFile::new(),
    };
    let htpasswd_config = |watched: &mut Vec<PathBuf>| -> anyhow::Result<String> {
        let path = &auth
            .htpasswd
            .as_ref()
            .context("the htpasswd plugin needs http.auth.htpasswd.path")?
            .path;
        watched.push(path.clone());
        Ok(json!({ "htpasswd": htpasswd_text(path, reading)? }).to_string())
    };
    let access_config = || json!({ "accessControl": access }).to_string();

    let authenticators = match &plugins.authenticators {
        Some(list) => list
            .iter()
            .map(|r| {
                let defaults = default_limits(AUTHENTICATOR_DEADLINE);
                spec(
                    r,
                    defaults,
                    &mut watched,
                    &spec_of,
                    &registries,
                    |name, watched| match name {
                        "htpasswd" => htpasswd_config(watched),
                        other => anyhow::bail!("no built-in authenticator named {other:?}"),
                    },
                )
            })
            .collect::<anyhow::Result<Vec<_>>>()?,
        None if auth.htpasswd.is_some() => vec![spec_of(
            "htpasswd",
            Source::Builtin(builtin("htpasswd").expect("embedded")),
            htpasswd_config(&mut watched)?,
            default_limits(AUTHENTICATOR_DEADLINE),
        )],
        None => Vec::new(),
    };
    let mut authenticators = authenticators;
    let keys = match &plugins.keymanager {
        Some(r) => Some(spec(
            r,
            default_limits(AUTHENTICATOR_DEADLINE),
            &mut watched,
            &spec_of,
            &registries,
            |name, _| match name {
                "api-keys" | "apikeys" => Ok("{}".to_owned()),
                other => anyhow::bail!("no built-in key manager named {other:?}"),
            },
        )?),
        None if config.api_keys_enabled() => Some(spec_of(
            "api-keys",
            Source::Builtin(builtin("api-keys").expect("embedded")),
            "{}".to_owned(),
            default_limits(AUTHENTICATOR_DEADLINE),
        )),
        None => None,
    };
    // The key manager also checks keys, last in the chain (zot tries API keys last), unless
    // the chain already names it.
    if let Some(keys) = &keys {
        if !authenticators.iter().any(|a| a.name == keys.name) {
            authenticators.push(keys.clone());
        }
    }
    let bearer_oidc = auth
        .bearer
        .as_ref()
        .map(|b| b.oidc.as_slice())
        .unwrap_or_default();
    let claims_config = || claim_mapper_config(bearer_oidc);
    let claims = match &plugins.claimmapper {
        Some(r) => Some(spec(
            r,
            default_limits(AUTHORIZER_DEADLINE),
            &mut watched,
            &spec_of,
            &registries,
            |name, _| match name {
                "workload-identity" => Ok(claims_config()),
                other => anyhow::bail!("no built-in claim mapper named {other:?}"),
            },
        )?),
        None if !bearer_oidc.is_empty() => Some(spec_of(
            "workload-identity",
            Source::Builtin(builtin("workload-identity").expect("embedded")),
            claims_config(),
            default_limits(AUTHORIZER_DEADLINE),
        )),
        None => None,
    };
    let authorizer = match &plugins.authorizer {
        Some(r) => Some(spec(
            r,
            default_limits(AUTHORIZER_DEADLINE),
            &mut watched,
            &spec_of,
            &registries,
            |name, _| match name {
                "accesscontrol" | "access-control" => Ok(access_config()),
                other => anyhow::bail!("no built-in authorizer named {other:?}"),
            },
        )?),
        None if access.is_some() || !authenticators.is_empty() || auth.bearer.is_some() => {
            Some(spec_of(
                "access-control",
                Source::Builtin(builtin("access-control").expect("embedded")),
                access_config(),
                default_limits(AUTHORIZER_DEADLINE),
            ))
        }
        None => None,
    };
    Ok(GateConfig {
        settings: Settings {
            realm: config
                .http
                .realm
                .clone()
                .filter(|r| !r.is_empty())
                .unwrap_or_else(|| "Authorization Required".into()),
            fail_delay: Duration::from_secs(auth.faildelay.unwrap_or(0)),
            secure_cookies: config.http.tls.is_some() || auth.securesession == Some(true),
            passwords: authenticators
                .iter()
                .any(|a| keys.as_ref().is_none_or(|k| k.name != a.name)),
        },
        set: SetSpec {
            authenticators,
            keys,
            claims,
            authorizer,
        },
        access_control: access.is_some(),
        watched,
        config: config.clone(),
    })
}

/// The built-in claim mapper's configuration: each workload issuer's `claimMapping`.
fn claim_mapper_config(issuers: &[crate::config::auth::BearerOidcConfig]) -> String {
    let issuers: Vec<serde_json::Value> = issuers
        .iter()
        .map(|o| {
            let m = o.claimmapping.clone().unwrap_or_default();
            json!({
                "issuer": o.issuer,
                "claimMapping": {
                    "variables": m.variables.iter().map(|v| json!({"name": v.name, "expression": v.expression})).collect::<Vec<_>>(),
                    "validations": m.validations.iter().map(|v| json!({"expression": v.expression, "message": v.message})).collect::<Vec<_>>(),
                    "username": m.username,
                    "groups": m.groups,
                },
            })
        })
        .collect();
    json!({ "issuers": issuers }).to_string()
}

/// A plugin reference as a spec; `builtin_config` makes the configuration of built-ins.
fn spec(
    r: &PluginRef,
    limits: Limits,
    watched: &mut Vec<PathBuf>,
    spec_of: &impl Fn(&str, Source, String, Limits) -> PluginSpec,
    registries: &CredentialsFile,
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
        concurrency: r.maxconcurrency.unwrap_or(limits.concurrency),
        queue_timeout: limits.queue_timeout,
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
            let name = r.name.clone().unwrap_or(key);
            Ok(spec_of(&name, Source::Builtin(bytes), config, limits))
        }
        (None, Some(path)) if path.to_str().is_some_and(|p| p.starts_with(oci::SCHEME)) => {
            let text = path.to_str().unwrap_or_default();
            let reference = oci::PluginReference::parse(text).map_err(|e| anyhow::anyhow!(e))?;
            reference.require_digest().map_err(|e| anyhow::anyhow!(e))?;
            let name = r
                .name
                .clone()
                .unwrap_or_else(|| reference.plugin_name().to_owned());
            let config = r.config.clone().unwrap_or(json!({})).to_string();
            let source = Source::Oci {
                credentials: registries.get(&reference.host).cloned(),
                reference,
                insecure: !r.tlsverify.unwrap_or(true),
            };
            Ok(spec_of(&name, source, config, limits))
        }
        (None, Some(path)) => {
            watched.push(path.clone());
            let stem = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("plugin");
            let name = r.name.clone().unwrap_or_else(|| stem.to_owned());
            let config = r.config.clone().unwrap_or(json!({})).to_string();
            Ok(spec_of(&name, Source::File(path.clone()), config, limits))
        }
        _ => anyhow::bail!("a plugin needs exactly one of `builtin` and `path`"),
    }
}
