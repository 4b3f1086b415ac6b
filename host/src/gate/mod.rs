//! The gate: the one place that decides whether a request may proceed.
//!
//! Handlers describe what they are about to do as [`Access`] requests before touching storage.
//! The gate authenticates the caller with the authenticator plugins ([`Gate::admit`]) and asks
//! the authorizer plugin about each access ([`Caller::authorize`]). Each request holds one
//! [`Generation`] of plugins for its whole life, so a hot swap never changes the rules under
//! a request in flight. The gate answers in its own terms ([`Refusal`]); the API renders them.

mod admit;
pub mod authorization;
mod caller;
pub mod cookies;
mod credentials;
mod facts;
mod reload;
mod scopes;
mod settings;
mod throttle;

pub use caller::Caller;
pub use credentials::CredentialKey;
pub use facts::RequestFacts;
pub use reload::watch;
pub use settings::{
    default_limits, gate_config, GateConfig, Reading, Settings, AUTHENTICATOR_DEADLINE,
    AUTHORIZER_DEADLINE, MEMORY_LIMIT,
};

pub use crate::plugins::model::{Action, Identity};

use crate::oci::RepoName;
use crate::oidc::OpenId;
use crate::plugins::{PluginRuntime, PluginSet};
use crate::sessions::SessionStore;
use crate::tokens::Tokens;
use arc_swap::ArcSwap;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName};
use credentials::CredentialCache;
use smol_str::SmolStr;
use std::sync::Arc;
use std::time::Duration;
use throttle::Throttle;

/// The header zot's web UI sends: it enables session cookies and suppresses challenges.
pub const UI_HEADER: HeaderName = HeaderName::from_static("x-zot-api-client");
/// Its value.
pub const UI_HEADER_VALUE: &str = "zot-ui";

/// One permission a request needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Access {
    /// The repository.
    pub repository: RepoName,
    /// The action.
    pub action: Action,
    /// The tag or digest acted on, when there is one (a tag inline up to 23 bytes).
    pub reference: Option<SmolStr>,
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
    /// The request as it arrived (the client's address among it), for throttling and policies.
    pub facts: RequestFacts,
    /// The Docker token scope the request needs, for Bearer challenges.
    pub scope: ChallengeScope<'a>,
}

/// The Docker token scope a request needs (`repository:<name>:<pull|push|delete>`; empty for
/// `/v2/` and routes outside the registry), worked out from the request only when a challenge
/// is answered — most requests are never challenged.
#[derive(Clone, Copy, Debug)]
pub struct ChallengeScope<'a> {
    request: &'a Parts,
    of: fn(&Parts) -> String,
}

impl<'a> ChallengeScope<'a> {
    /// The scope `of` finds in `request`.
    pub fn new(request: &'a Parts, of: fn(&Parts) -> String) -> Self {
        ChallengeScope { request, of }
    }

    /// The scope's text.
    pub fn text(&self) -> String {
        (self.of)(self.request)
    }
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
    tokens: Option<Arc<Tokens>>,
    cache: CredentialCache,
    /// Credentials the token endpoint wrapped into opaque bearer tokens.
    wrapped: CredentialCache,
}

impl Generation {
    /// A generation with these plugins and settings, OpenID providers and token verifiers.
    pub fn new(
        plugins: PluginSet,
        settings: Settings,
        openid: Option<OpenId>,
        tokens: Option<Tokens>,
    ) -> Generation {
        Generation {
            plugins,
            settings,
            openid: openid.map(Arc::new),
            tokens: tokens.map(Arc::new),
            cache: CredentialCache::new(settings::CREDENTIAL_TTL),
            wrapped: CredentialCache::new(admit::WRAPPED_TTL),
        }
    }

    /// No plugins: every request is allowed.
    pub fn open() -> Generation {
        Generation::new(PluginSet::empty(), Settings::default(), None, None)
    }

    /// Whether any way to authenticate is configured.
    fn authenticates(&self) -> bool {
        !self.plugins.authenticators.is_empty() || self.tokens.is_some()
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
        let tokens = match config
            .config
            .http
            .auth
            .as_ref()
            .and_then(|a| a.bearer.as_ref())
        {
            Some(bearer) => Some(Tokens::from_config(bearer)?),
            None => None,
        };
        if config.access_control
            && plugins.authenticators.is_empty()
            && tokens.is_none()
            && !only_anonymous
        {
            anyhow::bail!(
                "key `http.accesscontrol`: access control config requires one of htpasswd, \
                 ldap, openid or mTLS authentication or using only 'anonymousPolicy' policies"
            );
        }
        let openid = OpenId::from_config(&config.config)?;
        Ok(Generation::new(
            plugins,
            config.settings.clone(),
            openid,
            tokens,
        ))
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

    /// The token verifiers of the running configuration.
    pub fn tokens(&self) -> Option<Arc<Tokens>> {
        self.current.load().tokens.clone()
    }
}

fn unavailable() -> Refusal {
    Refusal::Unavailable {
        retry_after: RETRY_AFTER_BUSY,
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

/// The challenge of this generation for a request needing `scope`: Bearer when a token realm
/// is configured (clients then fetch a token there), else Basic.
fn challenge_header(generation: &Generation, scope: &str) -> String {
    generation
        .tokens
        .as_ref()
        .and_then(|t| t.challenge(scope))
        .unwrap_or_else(|| basic_challenge(generation))
}

/// 401 with a challenge (none for zot's UI).
fn challenge(generation: &Generation, ui: bool, scope: &str, reason: &str) -> Refusal {
    Refusal::Unauthenticated {
        reason: reason.to_owned(),
        challenge: (!ui).then(|| challenge_header(generation, scope)),
    }
}

/// 401 after presented credentials failed, after `failDelay`.
async fn failed(generation: &Generation, ui: bool, scope: &str, reason: &str) -> Refusal {
    delay(generation).await;
    challenge(generation, ui, scope, reason)
}
