//! The gate: the one place that decides whether a request may proceed.
//!
//! Handlers describe what they are about to do as [`Access`] requests before touching storage.
//! The gate authenticates the caller with the authenticator plugins ([`Gate::admit`]) and asks
//! the authorizer plugin about each access ([`Caller::authorize`]). Each request holds one
//! [`Generation`] of plugins for its whole life, so a hot swap never changes the rules under
//! a request in flight. The gate answers in its own terms ([`Refusal`]); the API renders them.

pub mod authorization;
pub mod cookies;
mod credentials;
mod reload;
mod scopes;
mod settings;
mod throttle;

pub use credentials::CredentialKey;
pub use reload::watch;
pub use settings::{gate_config, GateConfig, Reading, Settings};

pub use crate::plugins::model::{Action, Identity, RequestContext};

use crate::oci::RepoName;
use crate::oidc::OpenId;
use crate::plugins::model::{AccessRequest, AuthnResult, BasicCredentials, Decision, Resource};
use crate::plugins::{CallError, PluginRuntime, PluginSet};
use crate::sessions::{Session, SessionStore};
use arc_swap::ArcSwap;
use authorization::Presented;
use axum::http::HeaderMap;
use credentials::CredentialCache;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use throttle::Throttle;

/// The header zot's web UI sends: it enables session cookies and suppresses challenges.
pub const UI_HEADER: &str = "x-zot-api-client";
/// Its value.
pub const UI_HEADER_VALUE: &str = "zot-ui";

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

/// Why the gate stopped a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// 401: authentication is needed (or failed). `challenge` is the `WWW-Authenticate` value
    /// to send, none for zot's UI.
    Unauthenticated {
        /// Why, for the client.
        reason: String,
        /// The challenge.
        challenge: Option<String>,
    },
    /// 403: the caller may not do this.
    Denied {
        /// Why, for the client.
        reason: String,
    },
    /// 429: too many failed logins from this address or for this user.
    Throttled {
        /// When to try again.
        retry_after: Duration,
    },
    /// 503: a plugin's pool is saturated.
    Unavailable {
        /// When to try again.
        retry_after: Duration,
    },
}

/// What the gate needs to know of a request.
#[derive(Clone, Debug)]
pub struct Presentation<'a> {
    /// Its headers (credentials, the UI header).
    pub headers: &'a HeaderMap,
    /// The client's address.
    pub client: IpAddr,
    /// The request, for policies.
    pub context: RequestContext,
}

impl Presentation<'_> {
    fn is_ui(&self) -> bool {
        self.headers
            .get(UI_HEADER)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case(UI_HEADER_VALUE))
    }
}

/// What a request asks the gate to reach: zot admits anonymous requests to the registry only
/// if some repository has an anonymous policy, and to the metrics only if metrics do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// `/v2/…`.
    Registry,
    /// The metrics endpoint.
    Metrics,
}

/// One configuration's plugins and settings.
pub struct Generation {
    plugins: PluginSet,
    settings: Settings,
    openid: Option<Arc<OpenId>>,
    cache: CredentialCache,
}

impl Generation {
    /// A generation with these plugins, settings and OpenID providers.
    pub fn new(plugins: PluginSet, settings: Settings, openid: Option<OpenId>) -> Generation {
        Generation {
            plugins,
            settings,
            openid: openid.map(Arc::new),
            cache: CredentialCache::new(settings::CREDENTIAL_TTL),
        }
    }

    /// No plugins: every request is allowed.
    pub fn open() -> Generation {
        Generation::new(PluginSet::empty(), Settings::default(), None)
    }

    fn authenticates(&self) -> bool {
        !self.plugins.authenticators.is_empty()
    }
}

/// The gate of a running registry.
pub struct Gate {
    current: ArcSwap<Generation>,
    runtime: Option<Arc<PluginRuntime>>,
    sessions: Option<Arc<SessionStore>>,
    throttle: Throttle,
}

/// How long a saturated registry asks clients to wait.
const RETRY_AFTER_BUSY: Duration = Duration::from_secs(1);

impl Gate {
    /// A gate with no plugins and no way to get any (the embedded default).
    pub fn open() -> Gate {
        Gate {
            current: ArcSwap::from_pointee(Generation::open()),
            runtime: None,
            sessions: None,
            throttle: Throttle::default(),
        }
    }

    /// A gate running `generation`, able to load new generations with `runtime`, keeping
    /// browser sessions in `sessions`.
    pub fn new(
        runtime: Arc<PluginRuntime>,
        generation: Generation,
        sessions: Arc<SessionStore>,
    ) -> Gate {
        Gate {
            current: ArcSwap::from_pointee(generation),
            runtime: Some(runtime),
            sessions: Some(sessions),
            throttle: Throttle::default(),
        }
    }

    /// Load the plugins of `config` (blocking: compiles and configures them), and check what
    /// zot checks of the result: access control that grants anything to authenticated users
    /// needs some way to authenticate.
    pub fn load(runtime: &PluginRuntime, config: &GateConfig) -> anyhow::Result<Generation> {
        let plugins = runtime.load_set(&config.set)?;
        let anonymous = plugins.anonymous;
        let only_anonymous =
            !anonymous.authenticated_only && (anonymous.repositories || anonymous.metrics);
        if config.access_control && plugins.authenticators.is_empty() && !only_anonymous {
            anyhow::bail!(
                "key `http.accesscontrol`: access control config requires one of htpasswd, \
                 ldap, openid or mTLS authentication or using only 'anonymousPolicy' policies"
            );
        }
        let openid = OpenId::from_config(&config.config)?;
        Ok(Generation::new(plugins, config.settings.clone(), openid))
    }

    /// Swap in a new generation; requests in flight finish on the old one.
    pub fn swap(&self, generation: Generation) {
        self.current.store(Arc::new(generation));
    }

    /// The plugin runtime, if this gate can load plugins.
    pub fn runtime(&self) -> Option<&Arc<PluginRuntime>> {
        self.runtime.as_ref()
    }

    /// The session store, if sessions are possible.
    pub fn sessions(&self) -> Option<&Arc<SessionStore>> {
        self.sessions.as_ref()
    }

    /// The OpenID providers of the running configuration.
    pub fn openid(&self) -> Option<Arc<OpenId>> {
        self.current.load().openid.clone()
    }

    /// The API-key manager of the running configuration.
    pub fn keys(&self) -> Option<Arc<crate::plugins::Plugin<crate::plugins::Keys>>> {
        self.current.load().plugins.keys.clone()
    }

    /// Whether cookies must be `Secure` (TLS, or `secureSession`).
    pub fn secure_cookies(&self) -> bool {
        self.current.load().settings.secure_cookies
    }

    /// Whether a user/password form makes sense (some authenticator checks passwords).
    pub fn passwords(&self) -> bool {
        self.current.load().settings.passwords
    }

    /// Forget every verified credential of `username` from `source` (after a revocation).
    pub fn forget(&self, source: &str, username: &str) {
        self.current.load().cache.forget(source, username);
    }

    /// Start a session for `identity` (after a sign-in); returns its cookies. The key manager
    /// is told what the sign-in asserted (its groups), so the owner's keys carry them.
    pub async fn open_session(
        &self,
        identity: &Identity,
        end_session_url: Option<String>,
    ) -> Result<Vec<String>, Refusal> {
        let Some(store) = &self.sessions else {
            return Ok(Vec::new());
        };
        if let Some(keys) = self.keys() {
            if let Err(e) = keys.record_sign_in(identity).await {
                tracing::warn!(user = %identity.username, error = %e, "cannot record the sign-in's groups");
            }
        }
        let token = store
            .create(Session {
                username: identity.username.clone(),
                groups: identity.groups.clone(),
                source: identity.source.clone(),
                end_session_url,
                created_ms: 0,
                seen_ms: 0,
            })
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "cannot store a session");
                unavailable()
            })?;
        Ok(cookies::session(
            &token,
            &identity.username,
            self.secure_cookies(),
        ))
    }

    /// The identity of a request's session (the UI header and the cookie both present), or
    /// why there is none.
    async fn session_identity(&self, request: &Presentation<'_>) -> Option<Result<Identity, ()>> {
        let store = self.sessions.as_ref()?;
        let token = cookies::get(request.headers, cookies::SESSION).filter(|t| !t.is_empty())?;
        match store.get(token).await {
            Ok(Some(s)) => Some(Ok(Identity::new(s.username, s.groups, s.source))),
            Ok(None) => Some(Err(())),
            Err(e) => {
                tracing::error!(error = %e, "session store failed");
                Some(Err(()))
            }
        }
    }

    /// Authenticate a request. Anonymous callers pass when the configuration can grant the
    /// target anything anonymously; authorization decides the rest. zot's order: Basic
    /// credentials (with the UI header, a successful login also starts a session); else a
    /// session (only with the UI header: a cookie alone never authorizes); else anonymous.
    pub async fn admit(
        &self,
        request: &Presentation<'_>,
        target: Target,
    ) -> Result<Caller, Refusal> {
        let generation = self.current.load_full();
        let ui = request.is_ui();
        let caller = |identity, cookies| Caller {
            generation: generation.clone(),
            identity,
            context: request.context.clone(),
            ui,
            cookies,
        };
        if !generation.authenticates() {
            return Ok(caller(None, Vec::new()));
        }
        let credentials = match credentials::presented(request.headers) {
            Presented::Nothing => {
                let mut cookies = Vec::new();
                if ui {
                    match self.session_identity(request).await {
                        Some(Ok(identity)) => return Ok(caller(Some(identity), cookies)),
                        Some(Err(())) => {
                            cookies = cookies::end_session(generation.settings.secure_cookies)
                        }
                        None => {}
                    }
                }
                let anonymous = generation.plugins.anonymous;
                let admitted = match target {
                    Target::Registry => anonymous.repositories,
                    Target::Metrics => anonymous.metrics,
                };
                if !admitted {
                    if ui {
                        delay(&generation).await;
                    }
                    return Err(challenge(&generation, ui, "authentication required"));
                }
                return Ok(caller(None, cookies));
            }
            Presented::Unusable(why) => return Err(failed(&generation, ui, why).await),
            Presented::Basic { username, password } => BasicCredentials { username, password },
        };
        let key = generation
            .cache
            .key(&credentials.username, &credentials.password);
        let identity = match generation.cache.get(&key) {
            Some(identity) => identity,
            None => {
                let wait = self.throttle.wait(request.client, &credentials.username);
                if !wait.is_zero() {
                    tracing::warn!(client = %request.client, user = %credentials.username,
                        "login throttled after repeated failures");
                    return Err(Refusal::Throttled { retry_after: wait });
                }
                let verdict = if generation.cache.was_refused(&key) {
                    Err("the same credentials were refused moments ago".to_owned())
                } else {
                    authenticate(&generation, &credentials).await?
                };
                match verdict {
                    Ok(identity) => {
                        generation.cache.put(key, identity.clone());
                        identity
                    }
                    Err(reason) => {
                        generation.cache.refuse(key);
                        self.throttle.failed(request.client, &credentials.username);
                        tracing::info!(user = %credentials.username, client = %request.client, reason,
                            "authentication failed");
                        return Err(failed(&generation, ui, "invalid credentials").await);
                    }
                }
            }
        };
        // zot: a Basic login from its UI starts a session (not for API keys: a key is not a
        // sign-in).
        let cookies =
            if ui && identity.scopes.is_none() && identity.source != crate::plugins::API_KEY_SOURCE
            {
                self.open_session(&identity, None).await?
            } else {
                Vec::new()
            };
        Ok(caller(Some(identity), cookies))
    }
}

/// Ask the authenticators in order; the first that claims the credentials decides. The outer
/// error is a saturated plugin (503), the inner one a refusal (401).
async fn authenticate(
    generation: &Generation,
    c: &BasicCredentials,
) -> Result<Result<Identity, String>, Refusal> {
    for plugin in &generation.plugins.authenticators {
        match plugin.authenticate(c).await {
            Ok(AuthnResult::Authenticated(identity)) => return Ok(Ok(identity)),
            Ok(AuthnResult::NotMine) => continue,
            Ok(AuthnResult::Rejected(reason)) => {
                return Ok(Err(format!("{}: {reason}", plugin.name())))
            }
            Err(CallError::Unavailable(_)) => return Err(unavailable()),
            Err(CallError::Failed(failure)) => return Ok(Err(failure.to_string())),
        }
    }
    Ok(Err("no authenticator accepted the credentials".into()))
}

fn unavailable() -> Refusal {
    Refusal::Unavailable {
        retry_after: RETRY_AFTER_BUSY,
    }
}

/// An authenticated (or anonymous) caller, bound to the generation that admitted it.
pub struct Caller {
    generation: Arc<Generation>,
    identity: Option<Identity>,
    context: RequestContext,
    ui: bool,
    cookies: Vec<String>,
}

impl Caller {
    /// The caller's identity, if authenticated.
    pub fn identity(&self) -> Option<&Identity> {
        self.identity.as_ref()
    }

    /// `Set-Cookie` values the response must carry (a session started or ended).
    pub fn cookies(&self) -> &[String] {
        &self.cookies
    }

    /// The groups the authorizer counts the caller in.
    pub async fn effective_groups(&self) -> Result<Vec<String>, Refusal> {
        let Some(identity) = &self.identity else {
            return Ok(Vec::new());
        };
        match &self.generation.plugins.authorizer {
            None => Ok(identity.groups.clone()),
            Some(a) => match a.effective_groups(identity).await {
                Ok(groups) => Ok(groups),
                Err(CallError::Unavailable(_)) => Err(unavailable()),
                Err(CallError::Failed(_)) => Ok(identity.groups.clone()),
            },
        }
    }

    /// The caller's user name, if authenticated.
    pub fn username(&self) -> Option<&str> {
        self.identity.as_ref().map(|i| i.username.as_str())
    }

    async fn decide(
        &self,
        resource: Resource,
        action: Action,
        reference: Option<String>,
    ) -> Result<Decision, Refusal> {
        let in_scope = match &resource {
            Resource::Repository(name) => scopes::allow(self.identity.as_ref(), name, action),
            Resource::Metrics => !scopes::restricted(self.identity.as_ref()),
        };
        if !in_scope {
            return Ok(Decision::Deny(format!(
                "the API key's scopes do not allow {action} here"
            )));
        }
        let Some(authorizer) = &self.generation.plugins.authorizer else {
            return Ok(Decision::Allow);
        };
        let request = AccessRequest {
            identity: self.identity.clone(),
            resource,
            action,
            reference,
            context: self.context.clone(),
            claims: None,
        };
        match authorizer.authorize(&request).await {
            Ok(decision) => Ok(decision),
            Err(CallError::Unavailable(_)) => Err(unavailable()),
            Err(CallError::Failed(_)) => Ok(Decision::Deny("the access decision failed".into())),
        }
    }

    /// Allow the request only if every access is allowed.
    pub async fn authorize(&self, accesses: &[Access]) -> Result<(), Refusal> {
        for access in accesses {
            let resource = Resource::Repository(access.repository.as_str().to_owned());
            if let Decision::Deny(reason) = self
                .decide(resource, access.action, access.reference.clone())
                .await?
            {
                tracing::info!(user = ?self.username(), repository = %access.repository,
                    action = %access.action, reason, "denied");
                return Err(self.denied(&reason).await);
            }
        }
        Ok(())
    }

    /// Whether one access would be allowed (for optional behaviour such as mounts).
    pub async fn allows(&self, access: &Access) -> Result<bool, Refusal> {
        let resource = Resource::Repository(access.repository.as_str().to_owned());
        Ok(matches!(
            self.decide(resource, access.action, access.reference.clone())
                .await?,
            Decision::Allow
        ))
    }

    /// Whether any gate is configured (mounts without `from` are only automatic without one).
    pub fn is_open(&self) -> bool {
        self.generation.plugins.authorizer.is_none()
    }

    /// Allow reading the metrics endpoint.
    pub async fn authorize_metrics(&self) -> Result<(), Refusal> {
        match self.decide(Resource::Metrics, Action::Read, None).await? {
            Decision::Allow => Ok(()),
            Decision::Deny(reason) => Err(self.denied(&reason).await),
        }
    }

    /// The base endpoint `/v2/`: zot's challenge that makes Docker send its stored credentials
    /// when anonymous and authenticated-only grants are mixed.
    pub async fn authorize_base(&self, user_agent: Option<&str>) -> Result<(), Refusal> {
        let anonymous = self.identity.is_none() && self.generation.authenticates();
        let docker =
            user_agent.is_some_and(|ua| ua.contains("Docker-Client") || ua.starts_with("docker/"));
        let access = self.generation.plugins.anonymous;
        if anonymous && docker && access.repositories && access.authenticated_only {
            return Err(challenge(
                &self.generation,
                self.ui,
                "authentication required",
            ));
        }
        Ok(())
    }

    /// The challenge `/v2/` carries even when it answers 200, as zot does, whenever Basic
    /// authentication is configured (not for zot's UI): clients such as skopeo and podman
    /// decide from it whether to send their credentials at all.
    pub fn base_challenge(&self) -> Option<String> {
        (self.generation.authenticates() && !self.ui).then(|| basic_challenge(&self.generation))
    }

    /// The repositories of a catalog page the caller may see.
    pub async fn filter_catalog(&self, mut names: Vec<String>) -> Result<Vec<String>, Refusal> {
        names.retain(|n| scopes::allow(self.identity.as_ref(), n, Action::Read));
        match &self.generation.plugins.authorizer {
            None => Ok(names),
            Some(a) => match a.filter_catalog(self.identity.as_ref(), names).await {
                Ok(kept) => Ok(kept),
                Err(CallError::Unavailable(_)) => Err(unavailable()),
                Err(CallError::Failed(_)) => Ok(Vec::new()),
            },
        }
    }

    async fn denied(&self, reason: &str) -> Refusal {
        delay(&self.generation).await;
        match self.identity {
            None => challenge(&self.generation, self.ui, reason),
            Some(_) => Refusal::Denied {
                reason: reason.to_owned(),
            },
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

/// 401 with a Basic challenge (none for zot's UI).
fn challenge(generation: &Generation, ui: bool, reason: &str) -> Refusal {
    Refusal::Unauthenticated {
        reason: reason.to_owned(),
        challenge: (!ui).then(|| basic_challenge(generation)),
    }
}

/// 401 after presented credentials failed, after `failDelay`.
async fn failed(generation: &Generation, ui: bool, reason: &str) -> Refusal {
    delay(generation).await;
    challenge(generation, ui, reason)
}
