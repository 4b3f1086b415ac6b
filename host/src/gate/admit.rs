//! Admission: who a request comes from. zot's order, with every method at once (in zot,
//! enabling bearer tokens switches the others off; here it does not):
//!
//! - `Authorization: Basic`: the authenticator plugins in order (htpasswd, API keys…); a
//!   password shaped like a JWT that a workload issuer owns is verified as a token instead
//!   (zot issue #4073: pip, uv and kubelet credential providers send tokens that way). From
//!   zot's UI (its header), a successful password login also starts a session.
//! - `Authorization: Bearer`: a workload identity token (verified by the host, its claims
//!   mapped by the claim-mapper plugin), a Docker token (its own authorization), or a token the
//!   token endpoint wrapped (`ptk_…`).
//! - A session cookie, only with zot's UI header (a cookie alone never authorizes).
//! - Otherwise anonymous, where the configuration grants anything anonymously.

use super::authorization::Presented;
use super::caller::Caller;
use super::credentials::{self, Admission, CredentialKey};
use super::{
    challenge, cookies, delay, failed, unavailable, Gate, Generation, Presentation, Refusal, Target,
};
use crate::plugins::model::{AuthnResult, BasicCredentials, Identity};
use crate::plugins::CallError;
use crate::sessions::Session;
use crate::tokens::{looks_like_jwt, Verified};
use std::sync::Arc;
use std::time::Duration;

/// How long a token the token endpoint wrapped stays valid.
pub const WRAPPED_TTL: Duration = Duration::from_secs(3600);
/// The prefix of wrapped tokens.
pub const WRAPPED_PREFIX: &str = "ptk_";
/// The `source` of identities proven by a Docker token.
pub const DOCKER_TOKEN_SOURCE: &str = "docker-token";

impl Gate {
    /// Forget every verified credential of `username` from `source` (after a revocation).
    pub fn forget(&self, source: &str, username: &str) {
        let generation = self.current.load();
        generation.cache.forget(source, username);
        generation.wrapped.forget(source, username);
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

    /// The identity of a request's session cookie, or `Err` when the cookie is dead.
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

    /// Wrap what a caller proved into an opaque bearer token (the token endpoint's answer to
    /// credentials that are not themselves a token); returns it and its lifetime.
    pub fn wrap(&self, caller: &Caller) -> Option<(String, Duration)> {
        let admission = caller.admission.clone()?;
        let token = format!("{WRAPPED_PREFIX}{}", crate::sessions::random_token());
        let generation = self.current.load();
        let key = generation.wrapped.key("", &token);
        let lifetime = admission
            .identity
            .expires_at_ms
            .map(|at| Duration::from_millis(at.saturating_sub(crate::clock::now_ms())))
            .map_or(WRAPPED_TTL, |left| left.min(WRAPPED_TTL));
        generation.wrapped.put(key, admission);
        Some((token, lifetime))
    }

    /// Authenticate a request for `target`.
    pub async fn admit(
        &self,
        request: &Presentation<'_>,
        target: Target,
    ) -> Result<Caller, Refusal> {
        let generation = self.current.load_full();
        let ui = request.is_ui();
        let caller = |admission, cookies| Caller {
            generation: generation.clone(),
            admission,
            facts: request.facts.clone(),
            ui,
            cookies,
        };
        if !generation.authenticates() {
            return Ok(caller(None, Vec::new()));
        }
        let admission = match credentials::presented(request.headers) {
            Presented::Nothing => {
                let mut cookies = Vec::new();
                if ui {
                    match self.session_identity(request).await {
                        Some(Ok(identity)) => {
                            return Ok(caller(Some(Arc::new(Admission::of(identity))), cookies))
                        }
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
                    return Err(challenge(
                        &generation,
                        ui,
                        &request.scope.text(),
                        "authentication required",
                    ));
                }
                return Ok(caller(None, cookies));
            }
            Presented::Unusable(why) => {
                return Err(failed(&generation, ui, &request.scope.text(), why).await)
            }
            Presented::Bearer(token) => self.admit_bearer(&generation, request, &token).await?,
            Presented::Basic { username, password } => {
                let credentials = BasicCredentials { username, password };
                let admission = self.admit_basic(&generation, request, &credentials).await?;
                // zot: a password login from its UI starts a session (not for keys or tokens).
                let signs_in = ui
                    && admission.claims.is_none()
                    && admission.identity.scopes.is_none()
                    && admission.identity.source != crate::plugins::API_KEY_SOURCE;
                if signs_in {
                    // Boxed: a sign-in is rare, its state large.
                    let cookies = Box::pin(self.open_session(&admission.identity, None)).await?;
                    return Ok(caller(Some(admission), cookies));
                }
                admission
            }
        };
        Ok(caller(Some(admission), Vec::new()))
    }

    /// Basic credentials: remembered, throttled after failures, then checked.
    async fn admit_basic(
        &self,
        generation: &Generation,
        request: &Presentation<'_>,
        c: &BasicCredentials,
    ) -> Result<Arc<Admission>, Refusal> {
        let key = generation.cache.key(&c.username, &c.password);
        let token = generation
            .tokens
            .as_ref()
            .filter(|t| t.has_workload() && looks_like_jwt(&c.password) && t.owns(&c.password));
        self.remembered_or(generation, request, &c.username, key, || async {
            match token {
                Some(_) => verify_token(generation, &c.password).await,
                None => authenticate(generation, c)
                    .await
                    .map(|r| r.map(Admission::of)),
            }
        })
        .await
    }

    /// A bearer token: wrapped by the token endpoint, or verified (and remembered until it
    /// expires).
    async fn admit_bearer(
        &self,
        generation: &Generation,
        request: &Presentation<'_>,
        token: &str,
    ) -> Result<Arc<Admission>, Refusal> {
        if token.starts_with(WRAPPED_PREFIX) {
            let key = generation.wrapped.key("", token);
            return match generation.wrapped.get(&key) {
                Some(admission) => Ok(admission),
                None => Err(challenge(
                    generation,
                    request.is_ui(),
                    &request.scope.text(),
                    "the token is unknown or expired",
                )),
            };
        }
        if generation.tokens.is_none() {
            return Err(challenge(
                generation,
                request.is_ui(),
                &request.scope.text(),
                "bearer tokens are not configured",
            ));
        }
        let key = generation.cache.key("\0bearer", token);
        self.remembered_or(generation, request, "", key, || {
            verify_token(generation, token)
        })
        .await
    }

    /// A credential verified recently, or else, within the failure budget, `check` it; the
    /// outer error is a refusal to answer now (429, 503), the inner one a failed check (401).
    /// The check's future is made (and boxed) only when it runs: a verification holds far more
    /// state than a remembered credential's path, and every request's future would carry it.
    async fn remembered_or<F>(
        &self,
        generation: &Generation,
        request: &Presentation<'_>,
        user: &str,
        key: CredentialKey,
        check: impl FnOnce() -> F,
    ) -> Result<Arc<Admission>, Refusal>
    where
        F: std::future::Future<Output = Result<Result<Admission, String>, Refusal>> + Send,
    {
        if let Some(admission) = generation.cache.get(&key) {
            return Ok(admission);
        }
        let wait = self.throttle.wait(request.facts.client, user);
        if !wait.is_zero() {
            tracing::warn!(client = %request.facts.client, user, "login throttled after repeated failures");
            return Err(Refusal::Throttled { retry_after: wait });
        }
        let verdict = if generation.cache.was_refused(&key) {
            Err("the same credentials were refused moments ago".to_owned())
        } else {
            Box::pin(check()).await?
        };
        match verdict {
            Ok(admission) => {
                let admission = Arc::new(admission);
                generation.cache.put(key, admission.clone());
                Ok(admission)
            }
            Err(reason) => {
                generation.cache.refuse(key);
                self.throttle.failed(request.facts.client, user);
                tracing::info!(user, client = %request.facts.client, reason, "authentication failed");
                Err(failed(
                    generation,
                    request.is_ui(),
                    &request.scope.text(),
                    "invalid credentials",
                )
                .await)
            }
        }
    }
}

/// Verify a token and turn it into an admission: a workload token's claims mapped by the
/// claim-mapper plugin, a Docker token as its grants.
async fn verify_token(
    generation: &Generation,
    token: &str,
) -> Result<Result<Admission, String>, Refusal> {
    let Some(tokens) = &generation.tokens else {
        return Ok(Err("bearer tokens are not configured".into()));
    };
    let verified = match tokens.verify(token).await {
        Ok(v) => v,
        Err(reason) => return Ok(Err(reason)),
    };
    let expires_at_ms = verified.expires_at_ms();
    match verified {
        Verified::Docker(grants) => {
            let subject = if grants.subject.is_empty() {
                DOCKER_TOKEN_SOURCE.to_owned()
            } else {
                grants.subject.clone()
            };
            let mut identity = Identity::new(subject, Vec::new(), DOCKER_TOKEN_SOURCE);
            identity.expires_at_ms = expires_at_ms;
            Ok(Ok(Admission {
                identity: Arc::new(identity),
                claims: None,
                docker: Some(Arc::new(grants)),
            }))
        }
        Verified::Workload { issuer, claims } => {
            let Some(mapper) = &generation.plugins.claims else {
                return Ok(Err("no claim mapper is configured".into()));
            };
            let json = claims.to_string();
            match mapper.map_claims(&issuer, &json).await {
                Ok(Ok(mut identity)) => {
                    identity.expires_at_ms = expires_at_ms;
                    Ok(Ok(Admission {
                        identity: Arc::new(identity),
                        claims: Some(json.into()),
                        docker: None,
                    }))
                }
                Ok(Err(reason)) => Ok(Err(format!("{issuer}: {reason}"))),
                Err(CallError::Unavailable(_)) => Err(unavailable()),
                Err(CallError::Failed(f)) => Ok(Err(f.to_string())),
            }
        }
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
