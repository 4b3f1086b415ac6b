//! The gate: the one place that decides whether a request may proceed.
//!
//! Handlers describe what they are about to do as [`Access`] requests before touching storage.
//! The gate authenticates the caller with the authenticator plugins ([`Gate::admit`]) and asks
//! the authorizer plugin about each access ([`Caller::authorize`]). Each request holds one
//! [`Generation`] of plugins for its whole life, so a hot swap never changes the rules under
//! a request in flight.

mod credentials;
mod reload;
mod settings;

pub use reload::watch;
pub use settings::{gate_config, policy_kinds, GateConfig, Settings};

use crate::api::error::ApiError;
use crate::oci::RepoName;
use crate::plugins::types::{self, AccessRequest, AuthnResult, Decision, Identity, Resource};
use crate::plugins::{PluginRuntime, PluginSet};
use arc_swap::ArcSwap;
use axum::http::{HeaderMap, StatusCode};
use credentials::{CredentialCache, Presented};
use serde_json::json;
use std::fmt;
use std::sync::Arc;

/// What a request wants to do to a repository (zot's actions).
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

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Read => "read",
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::DetectManifestCollision => "detectManifestCollision",
        })
    }
}

impl From<Action> for types::Action {
    fn from(a: Action) -> types::Action {
        match a {
            Action::Read => types::Action::Read,
            Action::Create => types::Action::Create,
            Action::Update => types::Action::Update,
            Action::Delete => types::Action::Delete,
            Action::DetectManifestCollision => types::Action::DetectManifestCollision,
        }
    }
}

/// One permission a request needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Access {
    /// The repository.
    pub repository: RepoName,
    /// The action.
    pub action: Action,
    /// The tag or digest acted on, when there is one.
    pub reference: Option<String>,
}

/// One configuration's plugins and settings.
pub struct Generation {
    plugins: PluginSet,
    settings: Settings,
    cache: CredentialCache,
}

impl Generation {
    /// A generation with these plugins and settings.
    pub fn new(plugins: PluginSet, settings: Settings) -> Generation {
        Generation {
            plugins,
            settings,
            cache: CredentialCache::new(settings::CREDENTIAL_TTL),
        }
    }

    /// No plugins: every request is allowed.
    pub fn open() -> Generation {
        Generation::new(
            PluginSet {
                authenticators: Vec::new(),
                authorizer: None,
            },
            Settings::default(),
        )
    }
}

/// The gate of a running registry.
pub struct Gate {
    current: ArcSwap<Generation>,
    runtime: Option<Arc<PluginRuntime>>,
}

impl Gate {
    /// A gate with no plugins and no way to get any (the embedded default).
    pub fn open() -> Gate {
        Gate {
            current: ArcSwap::from_pointee(Generation::open()),
            runtime: None,
        }
    }

    /// A gate running `generation`, able to load new generations with `runtime`.
    pub fn new(runtime: Arc<PluginRuntime>, generation: Generation) -> Gate {
        Gate {
            current: ArcSwap::from_pointee(generation),
            runtime: Some(runtime),
        }
    }

    /// Load the plugins of `config` (blocking: compiles and configures them).
    pub fn load(runtime: &PluginRuntime, config: &GateConfig) -> anyhow::Result<Generation> {
        let plugins = runtime.load_set(&config.authenticators, config.authorizer.as_ref())?;
        Ok(Generation::new(plugins, config.settings.clone()))
    }

    /// Swap in a new generation; requests in flight finish on the old one.
    pub fn swap(&self, generation: Generation) {
        self.current.store(Arc::new(generation));
    }

    /// The plugin runtime, if this gate can load plugins.
    pub fn runtime(&self) -> Option<&Arc<PluginRuntime>> {
        self.runtime.as_ref()
    }

    /// Authenticate a request. Anonymous callers pass here; authorization decides later.
    pub async fn admit(&self, headers: &HeaderMap) -> Result<Caller, ApiError> {
        let generation = self.current.load_full();
        if generation.plugins.authenticators.is_empty() {
            return Ok(Caller {
                generation,
                identity: None,
            });
        }
        let credentials = match credentials::presented(headers) {
            Presented::Nothing => {
                if !generation.settings.anonymous_possible {
                    return Err(challenge(&generation, "authentication required").await);
                }
                return Ok(Caller {
                    generation,
                    identity: None,
                });
            }
            Presented::Unusable(why) => return Err(failed(&generation, why).await),
            Presented::Basic(c) => c,
        };
        if let Some(identity) = generation.cache.get(&credentials) {
            return Ok(Caller {
                generation,
                identity: Some(identity),
            });
        }
        let verdict = {
            let generation = generation.clone();
            let credentials = credentials.clone();
            tokio::task::spawn_blocking(move || authenticate(&generation, &credentials))
                .await
                .unwrap_or_else(|e| Err(format!("authentication task failed: {e}")))
        };
        match verdict {
            Ok(identity) => {
                generation.cache.put(&credentials, identity.clone());
                Ok(Caller {
                    generation,
                    identity: Some(identity),
                })
            }
            Err(reason) => {
                tracing::info!(user = %credentials.username, reason, "authentication failed");
                Err(failed(&generation, "invalid credentials").await)
            }
        }
    }
}

/// Ask the authenticators in order; the first that claims the credentials decides.
fn authenticate(generation: &Generation, c: &types::BasicCredentials) -> Result<Identity, String> {
    for plugin in &generation.plugins.authenticators {
        match plugin.authenticate(c) {
            Ok(AuthnResult::Authenticated(identity)) => return Ok(identity),
            Ok(AuthnResult::NotMine) => continue,
            Ok(AuthnResult::Rejected(reason)) => {
                return Err(format!("{}: {reason}", plugin.name()))
            }
            Err(failure) => return Err(failure.to_string()),
        }
    }
    Err("no authenticator accepted the credentials".into())
}

/// An authenticated (or anonymous) caller, bound to the generation that admitted it.
pub struct Caller {
    generation: Arc<Generation>,
    identity: Option<Identity>,
}

impl Caller {
    /// The caller's user name, if authenticated.
    pub fn username(&self) -> Option<&str> {
        self.identity.as_ref().map(|i| i.username.as_str())
    }

    fn decide(&self, resource: Resource, action: Action, reference: Option<String>) -> Decision {
        let Some(authorizer) = &self.generation.plugins.authorizer else {
            return Decision::Allow;
        };
        let request = AccessRequest {
            identity: self.identity.clone(),
            resource,
            action: action.into(),
            reference,
        };
        authorizer
            .authorize(&request)
            .unwrap_or_else(|_| Decision::Deny("the access decision failed".into()))
    }

    /// Allow the request only if every access is allowed.
    pub async fn authorize(&self, accesses: &[Access]) -> Result<(), ApiError> {
        for access in accesses {
            let resource = Resource::Repository(access.repository.as_str().to_owned());
            if let Decision::Deny(reason) =
                self.decide(resource, access.action, access.reference.clone())
            {
                tracing::info!(user = ?self.username(), repository = %access.repository,
                    action = %access.action, reason, "denied");
                return Err(self.denied(&reason).await);
            }
        }
        Ok(())
    }

    /// Whether one access would be allowed (for optional behaviour such as mounts).
    pub fn allows(&self, access: &Access) -> bool {
        let resource = Resource::Repository(access.repository.as_str().to_owned());
        matches!(
            self.decide(resource, access.action, access.reference.clone()),
            Decision::Allow
        )
    }

    /// Whether any gate is configured (mounts without `from` are only automatic without one).
    pub fn is_open(&self) -> bool {
        self.generation.plugins.authorizer.is_none()
    }

    /// Allow reading the metrics endpoint.
    pub async fn authorize_metrics(&self) -> Result<(), ApiError> {
        match self.decide(Resource::Metrics, Action::Read, None) {
            Decision::Allow => Ok(()),
            Decision::Deny(reason) => Err(self.denied(&reason).await),
        }
    }

    /// The base endpoint `/v2/`: zot's rules, including the challenge that makes Docker send
    /// its stored credentials when anonymous and authenticated policies are mixed.
    pub async fn authorize_base(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let settings = &self.generation.settings;
        let anonymous =
            self.identity.is_none() && !self.generation.plugins.authenticators.is_empty();
        let docker = crate::api::header(headers, "user-agent")
            .is_some_and(|ua| ua.contains("Docker-Client") || ua.starts_with("docker/"));
        if anonymous && (!settings.anonymous_possible || (docker && settings.mixed_policies)) {
            return Err(challenge(&self.generation, "authentication required").await);
        }
        Ok(())
    }

    /// The challenge `/v2/` carries even when it answers 200, as zot does, whenever Basic
    /// authentication is configured: clients such as skopeo and podman decide from it whether
    /// to send their credentials at all.
    pub fn base_challenge(&self) -> Option<String> {
        (!self.generation.plugins.authenticators.is_empty())
            .then(|| basic_challenge(&self.generation))
    }

    /// The repositories of a catalog page the caller may see.
    pub fn filter_catalog(&self, names: Vec<String>) -> Vec<String> {
        match &self.generation.plugins.authorizer {
            None => names,
            Some(a) => a
                .filter_catalog(self.identity.as_ref(), &names)
                .unwrap_or_default(),
        }
    }

    async fn denied(&self, reason: &str) -> ApiError {
        delay(&self.generation).await;
        match self.identity {
            None => challenge(&self.generation, reason).await,
            Some(_) => ApiError::new(
                StatusCode::FORBIDDEN,
                "DENIED",
                "requested access to the resource is denied",
            )
            .with_detail(json!({ "reason": reason })),
        }
    }
}

async fn delay(generation: &Generation) {
    if !generation.settings.fail_delay.is_zero() {
        tokio::time::sleep(generation.settings.fail_delay).await;
    }
}

/// `Basic realm="…"` for this generation.
fn basic_challenge(generation: &Generation) -> String {
    let realm = generation.settings.realm.replace(['"', '\\'], "");
    format!("Basic realm=\"{realm}\"")
}

/// 401 with a Basic challenge.
async fn challenge(generation: &Generation, reason: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
        "authentication required",
    )
    .with_detail(json!({ "reason": reason }))
    .with_header("WWW-Authenticate", basic_challenge(generation))
}

/// 401 after presented credentials failed, after `failDelay`.
async fn failed(generation: &Generation, reason: &str) -> ApiError {
    delay(generation).await;
    challenge(generation, reason).await
}
