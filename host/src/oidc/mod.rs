//! Browser sign-in with OpenID Connect (zot's `http.auth.openid`): the relying party, in the
//! host because it needs the network, secrets and signature checks.
//!
//! The authorization code flow always uses `state`, `nonce` and PKCE S256 (zot sends PKCE only
//! for public clients); the ID token is verified (signature with the algorithms the provider
//! discovers, issuer, audience, expiry, nonce), userinfo is merged in, and the username and
//! groups come from `claimMapping`. Discovery is lazy, retried, cached and refreshed; an
//! unreachable provider is a clear log line and an error for that sign-in, never a start-up
//! failure. A pending sign-in is remembered on the server (bounded, ten minutes) under its
//! `state`, and used once.

mod claims;
mod client_key;
mod redirect;

pub use redirect::safe_callback;

use crate::config::auth::OpenIdProvider;
use crate::config::Config;
use anyhow::Context;
use client_key::ClientKey;
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthenticationFlow, CoreClaimName, CoreClaimType, CoreClient,
    CoreClientAuthMethod, CoreGrantType, CoreIdTokenVerifier, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm, CoreResponseMode,
    CoreResponseType, CoreSubjectIdentifierType,
};
use openidconnect::{
    AdditionalProviderMetadata, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret,
    CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    ProviderMetadata, RedirectUrl, Scope, SignatureVerificationError, TokenResponse,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a discovered configuration (and its keys) is used before it is fetched again.
const DISCOVERY_TTL: Duration = Duration::from_secs(600);
/// How long a sign-in may take, from the redirect to the provider to the callback.
const LOGIN_TTL: Duration = Duration::from_secs(600);
/// Sign-ins pending at once.
const MAX_PENDING: u64 = 10_000;
/// Deadline of one call to a provider.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);

/// The discovery document's fields beyond the core ones.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct ExtraMetadata {
    /// RP-initiated logout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_session_endpoint: Option<String>,
}

impl AdditionalProviderMetadata for ExtraMetadata {}

/// A provider's discovery document.
type Metadata = ProviderMetadata<
    ExtraMetadata,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// Why a sign-in failed. The message is for the log; the client sees the kind.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// No such provider is configured.
    #[error("unknown provider {0:?}")]
    UnknownProvider(String),
    /// The provider cannot be reached or answered nonsense.
    #[error("OpenID provider unavailable: {0}")]
    Unavailable(String),
    /// The sign-in is not valid (state, code, token, claims).
    #[error("{0}")]
    Refused(String),
}

/// Someone the provider vouched for.
#[derive(Clone, Debug)]
pub struct SignedIn {
    /// The username (from `claimMapping.username`).
    pub username: String,
    /// The groups (from `claimMapping.groups`, ID token and userinfo merged).
    pub groups: Vec<String>,
    /// `openid:<provider>`.
    pub source: String,
    /// Where to send the browser to sign out of the provider too.
    pub end_session_url: Option<String>,
    /// Where the browser goes next (a checked `callback_ui`).
    pub callback_ui: Option<String>,
}

/// A sign-in between the redirect to the provider and the callback.
struct Pending {
    provider: String,
    nonce: String,
    verifier: String,
    callback_ui: Option<String>,
}

/// One configured provider.
struct Provider {
    kind: String,
    display_name: String,
    issuer: IssuerUrl,
    client_id: String,
    client_secret: Option<String>,
    key: Option<ClientKey>,
    scopes: Vec<String>,
    username_claim: String,
    groups_claim: String,
    discovered: tokio::sync::Mutex<Option<(Arc<Metadata>, Instant)>>,
}

/// The configured providers and the sign-ins in progress.
pub struct OpenId {
    providers: BTreeMap<String, Arc<Provider>>,
    http: openidconnect::reqwest::Client,
    base: String,
    allowed_origins: Vec<String>,
    pending: moka::sync::Cache<String, Arc<Pending>>,
}

impl OpenId {
    /// The providers of `config`, reading their credential and key files (none configured:
    /// `None`). Nothing is fetched from the network here.
    pub fn from_config(config: &Config) -> anyhow::Result<Option<OpenId>> {
        let Some(openid) = config.http.auth.as_ref().and_then(|a| a.openid.as_ref()) else {
            return Ok(None);
        };
        let mut providers = BTreeMap::new();
        for (kind, p) in &openid.providers {
            providers.insert(kind.clone(), Arc::new(Provider::from_config(kind, p)?));
        }
        let base = match &config.http.externalurl {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => {
                let scheme = if config.http.tls.is_some() {
                    "https"
                } else {
                    "http"
                };
                format!("{scheme}://{}:{}", config.http.address, config.http.port)
            }
        };
        let mut allowed_origins: Vec<String> = openid
            .callbackalloworigins
            .iter()
            .filter_map(|o| redirect::origin_of(o))
            .collect();
        allowed_origins.extend(redirect::origin_of(&base));
        let http = openidconnect::reqwest::ClientBuilder::new()
            // Following redirects would open the relying party to SSRF.
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(PROVIDER_TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .build()
            .context("cannot build the OpenID HTTP client")?;
        Ok(Some(OpenId {
            providers,
            http,
            base,
            allowed_origins,
            pending: moka::sync::Cache::builder()
                .max_capacity(MAX_PENDING)
                .time_to_live(LOGIN_TTL)
                .build(),
        }))
    }

    /// The providers, as (kind, display name), for the sign-in page.
    pub fn providers(&self) -> Vec<(String, String)> {
        self.providers
            .values()
            .map(|p| (p.kind.clone(), p.display_name.clone()))
            .collect()
    }

    fn provider(&self, kind: &str) -> Result<&Arc<Provider>, SignInError> {
        self.providers
            .get(kind)
            .ok_or_else(|| SignInError::UnknownProvider(kind.chars().take(64).collect()))
    }

    fn redirect_uri(&self, kind: &str) -> Result<RedirectUrl, SignInError> {
        RedirectUrl::new(format!("{}/zot/auth/callback/{kind}", self.base))
            .map_err(|e| SignInError::Refused(format!("bad redirect URI: {e}")))
    }

    /// Start a sign-in: the provider's authorization URL and the `state` naming this sign-in
    /// (which the browser must bring back in a cookie as well as in the callback's query).
    pub async fn begin(
        &self,
        kind: &str,
        callback_ui: Option<&str>,
    ) -> Result<(String, String), SignInError> {
        let provider = self.provider(kind)?;
        let metadata = provider.metadata(&self.http).await?;
        let client = CoreClient::from_provider_metadata(
            (*metadata).clone(),
            ClientId::new(provider.client_id.clone()),
            provider.client_secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(self.redirect_uri(kind)?);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in provider.scopes.iter().filter(|s| s.as_str() != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.url();
        self.pending.insert(
            state.secret().clone(),
            Arc::new(Pending {
                provider: kind.to_owned(),
                nonce: nonce.secret().clone(),
                verifier: verifier.secret().clone(),
                callback_ui: callback_ui.and_then(|c| safe_callback(c, &self.allowed_origins)),
            }),
        );
        Ok((url.to_string(), state.secret().clone()))
    }

    /// Finish a sign-in at the callback of provider `kind`: `state` from the query must equal
    /// the one the browser's cookie carries, and name a pending sign-in with that provider
    /// (used once: a replayed callback fails); the code is exchanged (with the PKCE verifier)
    /// and the ID token verified.
    pub async fn finish(
        &self,
        kind: &str,
        state: &str,
        cookie_state: Option<&str>,
        code: &str,
    ) -> Result<SignedIn, SignInError> {
        let provider = self.provider(kind)?;
        if cookie_state != Some(state) {
            return Err(SignInError::Refused(
                "the state does not match this browser's sign-in".into(),
            ));
        }
        let pending = self.pending.remove(state).ok_or_else(|| {
            SignInError::Refused("no pending sign-in for this state (expired or used)".into())
        })?;
        if pending.provider != kind {
            return Err(SignInError::Refused(
                "the sign-in began with another provider".into(),
            ));
        }
        let metadata = provider.metadata(&self.http).await?;
        let client = CoreClient::from_provider_metadata(
            (*metadata).clone(),
            ClientId::new(provider.client_id.clone()),
            provider.client_secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(self.redirect_uri(kind)?);
        let mut exchange = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| SignInError::Unavailable(format!("no token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.verifier.clone()));
        let assertion;
        if let Some(key) = &provider.key {
            let token_endpoint = metadata
                .token_endpoint()
                .map(|t| t.to_string())
                .unwrap_or_default();
            assertion = key
                .assertion(
                    &provider.client_id,
                    provider.issuer.as_str(),
                    &token_endpoint,
                )
                .map_err(|e| {
                    SignInError::Refused(format!("cannot sign the client assertion: {e}"))
                })?;
            exchange = exchange
                .add_extra_param(
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                )
                .add_extra_param("client_assertion", assertion.as_str());
        }
        let tokens = exchange
            .request_async(&self.http)
            .await
            .map_err(token_error)?;
        let id_token = tokens
            .id_token()
            .ok_or_else(|| SignInError::Refused("the provider returned no ID token".into()))?;
        let nonce = Nonce::new(pending.nonce.clone());
        let verify = |verifier: CoreIdTokenVerifier| {
            id_token
                .claims(&verifier, &nonce)
                .map(|verified| verified.subject().as_str().to_owned())
        };
        let mut verified = verify(client.id_token_verifier());
        let mut metadata = metadata;
        if let Err(ClaimsVerificationError::SignatureVerification(
            SignatureVerificationError::NoMatchingKey,
        )) = verified
        {
            // Signed with a key not in the cached set: the provider rotated its keys (or was
            // restarted with new ones). Fetch its keys again, once, and verify again.
            tracing::info!(
                provider = %kind,
                "ID token signed with an unknown key: fetching the provider's keys again"
            );
            metadata = provider.refresh(&self.http, &metadata).await?;
            let client = CoreClient::from_provider_metadata(
                (*metadata).clone(),
                ClientId::new(provider.client_id.clone()),
                provider.client_secret.clone().map(ClientSecret::new),
            );
            verified = verify(client.id_token_verifier());
        }
        let subject = verified.map_err(|e| {
            SignInError::Refused(format!("ID token refused: {}", crate::errors::describe(&e)))
        })?;
        // The token was verified as a whole above: its payload is what the provider signed.
        let mut claims = claims::payload(&id_token.to_string())
            .map_err(|e| SignInError::Refused(format!("ID token payload: {e}")))?;
        if let Some(endpoint) = metadata.userinfo_endpoint() {
            let info = claims::userinfo(
                &self.http,
                endpoint.as_str(),
                tokens.access_token().secret(),
            )
            .await
            .map_err(SignInError::Unavailable)?;
            claims::merge_userinfo(&mut claims, info, &subject).map_err(SignInError::Refused)?;
        }
        let username = claims::username(&claims, &provider.username_claim).ok_or_else(|| {
            SignInError::Refused(format!(
                "the claim {:?} (or email) is empty or missing",
                provider.username_claim
            ))
        })?;
        let groups = claims::groups(&claims, &provider.groups_claim);
        let end_session_url = metadata
            .additional_metadata()
            .end_session_endpoint
            .as_deref()
            .map(|endpoint| self.end_session_url(endpoint, &provider.client_id));
        Ok(SignedIn {
            username,
            groups,
            source: format!("openid:{kind}"),
            end_session_url,
            callback_ui: pending.callback_ui.clone(),
        })
    }

    /// zot's end-session URL: the provider's endpoint, with the client and where to come back.
    fn end_session_url(&self, endpoint: &str, client_id: &str) -> String {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", client_id)
            .append_pair("post_logout_redirect_uri", &format!("{}/login", self.base))
            .finish();
        let joiner = if endpoint.contains('?') { '&' } else { '?' };
        format!("{endpoint}{joiner}{query}")
    }
}

/// Why a code exchange failed: the provider unreachable (no answer, a timeout) is a 503 like
/// an unreachable discovery; an answer refusing the code or the client is a refused sign-in.
fn token_error<RE, T>(e: openidconnect::RequestTokenError<RE, T>) -> SignInError
where
    RE: std::error::Error + 'static,
    T: openidconnect::ErrorResponse + 'static,
{
    let why = format!("code exchange failed: {}", crate::errors::describe(&e));
    match e {
        openidconnect::RequestTokenError::Request(_) => SignInError::Unavailable(why),
        _ => SignInError::Refused(why),
    }
}

impl Provider {
    fn from_config(kind: &str, p: &OpenIdProvider) -> anyhow::Result<Provider> {
        let from_file = p
            .credentialsfile
            .as_ref()
            .map(|f| crate::config::secrets::client_credentials(f))
            .transpose()
            .map_err(anyhow::Error::msg)?;
        let (client_id, client_secret) = match from_file {
            Some(c) => (c.clientid, Some(c.clientsecret)),
            None => (
                p.clientid.clone().unwrap_or_default(),
                p.clientsecret.clone(),
            ),
        };
        let client_secret = client_secret.filter(|s| !s.is_empty());
        let issuer = IssuerUrl::new(p.issuer.clone().unwrap_or_default())
            .with_context(|| format!("provider {kind}: invalid issuer"))?;
        let key = match p.keypath.as_deref().filter(|k| !k.is_empty()) {
            Some(path) => Some(
                ClientKey::read(std::path::Path::new(path))
                    .with_context(|| format!("provider {kind}: cannot read keypath {path}"))?,
            ),
            None => None,
        };
        let mapping = p.claimmapping.clone();
        Ok(Provider {
            kind: kind.to_owned(),
            display_name: p.name.clone().unwrap_or_else(|| kind.to_owned()),
            issuer,
            client_id,
            client_secret,
            key,
            scopes: p.scopes.clone(),
            username_claim: mapping
                .as_ref()
                .and_then(|m| m.username.clone())
                .filter(|c| !c.is_empty())
                .unwrap_or_else(|| claims::DEFAULT_USERNAME.to_owned()),
            groups_claim: mapping
                .and_then(|m| m.groups)
                .filter(|c| !c.is_empty())
                .unwrap_or_else(|| claims::DEFAULT_GROUPS.to_owned()),
            discovered: tokio::sync::Mutex::new(None),
        })
    }

    /// The discovery document (and keys) fetched again, unless another sign-in already
    /// replaced `stale`.
    async fn refresh(
        &self,
        http: &openidconnect::reqwest::Client,
        stale: &Arc<Metadata>,
    ) -> Result<Arc<Metadata>, SignInError> {
        {
            let mut cached = self.discovered.lock().await;
            if cached
                .as_ref()
                .is_some_and(|(metadata, _)| Arc::ptr_eq(metadata, stale))
            {
                *cached = None;
            }
        }
        self.metadata(http).await
    }

    /// The discovery document (and keys), fetched on first use, kept for [`DISCOVERY_TTL`],
    /// retried once on failure.
    async fn metadata(
        &self,
        http: &openidconnect::reqwest::Client,
    ) -> Result<Arc<Metadata>, SignInError> {
        let mut cached = self.discovered.lock().await;
        if let Some((metadata, at)) = cached.as_ref() {
            if at.elapsed() < DISCOVERY_TTL {
                return Ok(metadata.clone());
            }
        }
        let mut last_error = String::new();
        for attempt in 0..2 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            match Metadata::discover_async(self.issuer.clone(), http).await {
                Ok(metadata) => {
                    let metadata = Arc::new(metadata);
                    *cached = Some((metadata.clone(), Instant::now()));
                    return Ok(metadata);
                }
                Err(e) => last_error = crate::errors::describe(&e),
            }
        }
        tracing::error!(provider = %self.kind, issuer = %self.issuer.as_str(), error = %last_error,
            "OpenID provider unreachable: sign-in with it fails until it answers");
        // A stale document still lets users sign in while the provider's discovery is down.
        if let Some((metadata, _)) = cached.as_ref() {
            return Ok(metadata.clone());
        }
        Err(SignInError::Unavailable(format!(
            "{} ({}): {last_error}",
            self.kind,
            self.issuer.as_str()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openidconnect::core::CoreErrorResponseType;
    use openidconnect::{RequestTokenError, StandardErrorResponse};

    type TokenError =
        RequestTokenError<std::io::Error, StandardErrorResponse<CoreErrorResponseType>>;

    #[test]
    fn an_unreachable_token_endpoint_is_unavailable_not_a_refusal() {
        let down: TokenError = RequestTokenError::Request(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "connection refused",
        ));
        assert!(matches!(token_error(down), SignInError::Unavailable(_)));
        let refused: TokenError = RequestTokenError::ServerResponse(StandardErrorResponse::new(
            CoreErrorResponseType::InvalidGrant,
            None,
            None,
        ));
        assert!(matches!(token_error(refused), SignInError::Refused(_)));
        let other: TokenError = RequestTokenError::Other("unexpected answer".into());
        assert!(matches!(token_error(other), SignInError::Refused(_)));
    }
}
